"""Counter-based random streams: every draw is a pure function of (seed, run, step, stream).

Run k's random numbers never depend on how many runs share its batch, on their order, or on how
runs are spread over processes and machines (Salmon et al. 2011, "Parallel random numbers: as easy
as 1, 2, 3", SC'11). Streams are named ("aid/china", "param/inertia"), not numbered, so two
scenarios that share a name share its numbers: run k of a counterfactual meets the same luck as
run k of its baseline (common random numbers; Law 2015, *Simulation Modeling and Analysis*, 11.2).

The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014): two rounds, one fixed per run and
one per draw. A normal comes from one 64-bit hash by Box-Muller on two 24-bit uniforms, in float32,
so it is bounded by |z| < 5.9 (a tail mass of 4e-9, immaterial for model noise). Its sine and its
logarithm are polynomials made only of exactly rounded float32 arithmetic, so that numpy here and
the compiled kernel (:mod:`sim.kernel`) give the same bits on any processor, where library
functions differ by build and by CPU: the sine an odd Taylor polynomial (degree 11: truncation error
< 2e-8 on [-pi/2, pi/2], below float32 rounding), the logarithm Cephes' ``logf`` (Moshier 1989,
*Methods and Programs for Mathematical Functions*; within 0.83 units in the last place over every
uniform drawn here, tests/test_noise.py).
"""

from __future__ import annotations

import hashlib

import numpy as np

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (for the few scalar keys)."""
    x = (x + _GOLDEN) & _M64
    x = ((x ^ (x >> 30)) * _C1) & _M64
    x = ((x ^ (x >> 27)) * _C2) & _M64
    return x ^ (x >> 31)


def _mix(x: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array, in place (numpy's uint64 arithmetic wraps).

    ``tmp``, a scratch array of x's shape, saves the temporaries of the shifts.
    """
    tmp = np.empty_like(x) if tmp is None else tmp
    x += np.uint64(_GOLDEN)
    for shift, mult in ((30, _C1), (27, _C2)):
        np.right_shift(x, np.uint64(shift), out=tmp)
        x ^= tmp
        x *= np.uint64(mult)
    np.right_shift(x, np.uint64(31), out=tmp)
    x ^= tmp
    return x


def stream_key(name: str) -> int:
    """A stable 64-bit key for a stream name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def new_seed() -> int:
    """A fresh seed from the operating system, for runs that were given none (it is recorded)."""
    import secrets

    return secrets.randbits(63)


class Streams:
    """The random numbers of a set of runs, identified by their run indices."""

    def __init__(self, seed: int, runs: np.ndarray):
        self.seed = int(seed)
        self.runs = np.asarray(runs, dtype=np.int64)
        seed_key = _mix_int(self.seed ^ 0x5EED5EED5EED5EED)
        self._base = _mix(self.runs.astype(np.uint64) * np.uint64(_GOLDEN) + np.uint64(seed_key))
        self._buffers: tuple[np.ndarray, ...] | None = None

    def _hash(
        self, keys: np.ndarray, step: int, out: np.ndarray, tmp: np.ndarray | None = None
    ) -> np.ndarray:  # noqa: E501
        """Hashes of shape (len(keys), runs) for stream keys at one step, into ``out``."""
        np.add(self._base[None, :], self.step_keys(keys, step)[:, None], out=out)
        return _mix(out, tmp)

    @staticmethod
    def step_keys(keys: np.ndarray, step: int) -> np.ndarray:
        """The key of each stream at one step, which a run's own key is added to before the hash."""
        return np.array([_mix_int(int(k) ^ (step * _C1 & _M64)) for k in keys], dtype=np.uint64)

    def uniform(self, name: str, step: int = 0) -> np.ndarray:
        """Uniform draws in (0, 1), one per run."""
        h = np.empty((1, self.runs.size), dtype=np.uint64)
        self._hash(np.array([stream_key(name)], dtype=np.uint64), step, h)
        return ((h[0] >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53

    def normal(self, name: str, step: int = 0) -> np.ndarray:
        """Standard normal draws, one per run."""
        return self.normals(np.array([stream_key(name)], dtype=np.uint64), step).copy()[0]

    def normals(self, keys: np.ndarray, step: int) -> np.ndarray:
        """Standard normals of shape (len(keys), runs): all of a step's noise in one call.

        Box-Muller runs in float32 on two 24-bit uniforms from the hash (it is noise: seven
        significant digits are plenty, and float32 halves the memory traffic of the step's most
        expensive part); the result is float64. It is a buffer that the next call overwrites:
        copy it to keep it.
        """
        shape = (len(keys), self.runs.size)
        if self._buffers is None or self._buffers[0].shape != shape:
            f32 = np.float32
            self._buffers = (
                np.empty(shape, np.uint64),
                np.empty(shape, np.uint64),
                *(np.empty(shape, f32) for _ in range(4)),
                np.empty(shape),
            )
        h, tmp, u1, u2, x2, acc, out = self._buffers
        self._hash(keys, step, h, tmp)
        for k, u in ((40, u1), (16, u2)):  # bits 40-63 and 16-39: (k + 0.5) / 2^24
            np.right_shift(h, np.uint64(k), out=tmp)
            np.bitwise_and(tmp, np.uint64(0xFFFFFF), out=tmp)
            np.multiply(tmp, _F(2.0**-24), out=u, casting="unsafe")
            u += _F(2.0**-25)
        _log(u1, out=u1)
        u1 *= _F(-2.0)
        np.sqrt(u1, out=u1)
        u1 *= _sin_2pi(u2, x2, acc)
        out[...] = u1
        return out


_F = np.float32
# Taylor coefficients of sin, highest first: x^11/11! ... x^3/3!, 1 (for Horner in x^2); the
# error on [-pi/2, pi/2] is below 1.6e-8, under float32's resolution.
_SIN = [_F((-1) ** k / float(np.prod(np.arange(1, 2 * k + 2)))) for k in range(5, -1, -1)]


def _sin_2pi(u: np.ndarray, x2: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """sin(2*pi*(1/4 - |u - 1/2|)) = -cos(2*pi*u), for u in (0, 1); u, x2 and acc are scratch.

    The sign is immaterial to Box-Muller (the normal is symmetric), so this stands in for cos.
    """
    u -= _F(0.5)
    np.abs(u, out=u)
    np.subtract(_F(0.25), u, out=u)
    u *= _F(2 * np.pi)  # x in [-pi/2, pi/2]
    np.multiply(u, u, out=x2)
    acc.fill(_SIN[0])
    for c in _SIN[1:]:
        acc *= x2
        acc += c
    acc *= u
    return acc


# Cephes' logf: log(x) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)), log(1 + x) by a degree-8
# polynomial in x, ln2 split in two (Q2 + Q1) so that e * Q2 is exact.
_LOG = [
    _F(c)
    for c in (
        7.0376836292e-2,
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    )
]
_SQRT_HALF, _LOG_Q1, _LOG_Q2 = _F(0.707106781186547524), _F(-2.12194440e-4), _F(0.693359375)


def _log(u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """log(u) of positive normal float32 values, as :func:`sim.kernel.log32` computes it (the
    same bits), into ``out`` (which may be ``u``)."""
    bits = u.view(np.int32)
    e = (bits >> 23) - 126  # u = m 2^e, m in [1/2, 1)
    m = ((bits & 0x007FFFFF) | 0x3F000000).view(np.float32)
    low = m < _SQRT_HALF
    e -= low
    x = np.where(low, m + m, m) - _F(1.0)  # log(u) = e ln2 + log(1 + x)
    z = x * x
    y = np.full_like(x, _LOG[0])
    for c in _LOG[1:]:
        y *= x
        y += c
    y *= x
    y *= z
    ef = e.astype(np.float32)
    y += _LOG_Q1 * ef
    y -= _F(0.5) * z
    np.add(x, y, out=out)
    out += _LOG_Q2 * ef
    return out
