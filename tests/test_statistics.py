"""sim.statistics: the same bits as numpy's mean, std and quantile, row by row.

row_stats selects order statistics with partitions and interpolates them itself; these tests hold
it to numpy's own calls on real rows of csp2023 and on rows built to break it. The comparison is of
bytes, so the sign of a zero and the bits of a NaN count.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
import sim.statistics
from sim.statistics import QUANTILES, row_stats

NUMPY_QUANTILE = np.quantile  # numpy's, kept before a test wraps it to count calls
SIZES = (1, 2, 3, 4, 5, 7, 20, 1000, 1001, 20_001)
MAX = np.finfo(np.float64).max
TINY = np.finfo(np.float64).smallest_subnormal


def numpy_stats(row: np.ndarray) -> np.ndarray:
    """numpy's calls, on a copy of the row: what row_stats gives for a row of up to one block (the
    mean and sd of a longer row: :func:`block_moments`)."""
    row = row.copy()
    with np.errstate(all="ignore"):
        sd = row.std(ddof=1) if row.size > 1 else 0.0
        return np.array([row.mean(), sd, *NUMPY_QUANTILE(row, QUANTILES)])


def block_moments(row: np.ndarray) -> tuple[float, float]:
    """The mean and sd of a row as the docs define them, written plainly: numpy's mean and sum of
    squared deviations of each block of BLOCK runs, combined in order (Chan, Golub & LeVeque)."""
    B = sim.statistics.BLOCK  # noqa: N806
    n, mean, m2 = 0.0, 0.0, 0.0
    with np.errstate(all="ignore"):
        for a in range(0, row.size, B):
            block = row[a : a + B]
            nb = float(block.size)
            mb = float(block.mean())
            m2b = float(np.add.reduce((block - mb) ** 2))
            if n == 0:
                n, mean, m2 = nb, mb, m2b
                continue
            total = n + nb
            d = mb - mean
            mean = mean + d * (nb / total)
            m2 = m2 + m2b + d * d * (n * nb / total)
            n = total
    return mean, float(np.sqrt(m2 / (row.size - 1))) if row.size > 1 else 0.0


def numpy_decides(row: np.ndarray) -> bool:
    """Rows whose quantiles row_stats leaves to np.quantile: NaN means, both 0.0 and -0.0."""
    zeros = np.signbit(row[row == 0])
    nan = np.isnan(block_moments(row)[0])  # NaN, or infinities of both signs (or overflow) met
    return bool(nan or (zeros.any() and not zeros.all()))


@pytest.fixture(params=["sort", "partitions"])
def way(request, monkeypatch):
    """Both ways to the order statistics, whatever the length of the row."""
    monkeypatch.setattr(sim.statistics, "SORT_UP_TO", 10**9 if request.param == "sort" else 0)
    return request.param


@pytest.fixture
def quantile_calls(monkeypatch):
    """Counts the calls of np.quantile (row_stats must make none on most rows)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return NUMPY_QUANTILE(*args, **kwargs)

    monkeypatch.setattr(np, "quantile", counted)
    return calls


def check(row: np.ndarray, calls: list) -> None:
    want = numpy_stats(row)
    long = row.size > sim.statistics.BLOCK
    for scratch in (False, True):
        given = row.copy()
        before = len(calls)
        with np.errstate(all="ignore"):
            got = row_stats(given, scratch=scratch)
        if long:  # mean and sd by blocks; the quantiles numpy's, to the bit
            assert np.array_equal(got[:2], block_moments(row), equal_nan=True), (row, got)
            assert got[2:].tobytes() == want[2:].tobytes(), (row, scratch, got, want)
        else:
            assert got.tobytes() == want.tobytes(), (row, scratch, got, want)
        assert len(calls) - before == numpy_decides(row), (row, scratch)
        if not scratch:
            assert given.tobytes() == row.tobytes()  # left as it was


def adversarial_rows() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20261201)
    rows = []
    for n in SIZES:
        normal = rng.standard_normal(n)
        cases = {
            "normal": normal,
            "ties": rng.integers(0, 3, n) * 0.1,
            "all equal": np.full(n, 0.1),
            "all equal but one": np.where(np.arange(n) == n // 3, 0.2, 0.1),
            "all -1e308": np.full(n, -1e308),
            "all +inf": np.full(n, np.inf),
            "sorted": np.sort(normal),
            "reverse-sorted": np.sort(normal)[::-1],
            "magnitudes": rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n),
            "huge, one sign": rng.choice([1e308, MAX, 1.0], n),
            "huge, both signs": rng.choice([-MAX, -1e308, 1e308, MAX], n),
            "huge and tiny": rng.choice([-1e308, 1e308, -TINY, TINY, 0.0], n),
            "subnormal": rng.choice([TINY, 3 * TINY, 1e-310, -TINY, 2.2250738585072014e-308], n),
            "-0.0 only": np.full(n, -0.0),
            "0.0 only": np.full(n, 0.0),
            "0.0 and one -0.0": np.where(np.arange(n) == n - 1, -0.0, 0.0),
            "-0.0 and 1": rng.choice([-0.0, 1.0], n),
            "-0.0 and 0.0": rng.choice([-0.0, 0.0], n),
            "-0.0, 0.0 and 1": rng.choice([-0.0, 0.0, 1.0, -1.0], n),
            "+inf": rng.choice([np.inf, 1.0], n),
            "-inf": rng.choice([-np.inf, -1.0, 2.0], n),
            "both infinities": rng.choice([-np.inf, np.inf, 0.5], n),
            "NaN": np.where(np.arange(n) == n // 2, np.nan, normal),
        }
        rows += [(f"{name}, n={n}", np.ascontiguousarray(row)) for name, row in cases.items()]
    rows.append(("alternating -0.0 and 0.0 at the median", np.array([-0.0, 0.0] * 10 + [-1.0, 1.0])))
    return rows


ROWS = adversarial_rows()


@pytest.mark.parametrize("name", [name for name, _ in ROWS])
def test_adversarial_rows_give_numpys_bits(name, way, quantile_calls):
    check(dict(ROWS)[name], quantile_calls)


@pytest.fixture(scope="module")
def real_rows(csp2023):
    """Every (variable, date) row of 1,000 runs of csp2023: fractional indices at every quantile."""
    ens = sim.run(csp2023, runs=1000, seed=20231216, progress=False)
    return ens.data.reshape(-1, ens.data.shape[-1])


def test_real_rows_give_numpys_bits(real_rows, way, quantile_calls):
    for row in real_rows:
        check(row, quantile_calls)
        for n in SIZES[:7]:  # and the first runs of every row: other weights, many ties
            check(row[:n].copy(), quantile_calls)
    assert quantile_calls == []  # all by partitions: no NaN, no row with both zeros


def test_the_rows_tell_numpys_interpolation_from_a_near_miss(way, monkeypatch):
    """The rows above fail a formula that is off in the last bit: they do test the arithmetic."""

    def naive(a, b, plan, out):  # a + (b - a) t everywhere, without numpy's t >= 0.5 branch
        np.add(a, (b - a) * plan.gamma, out=out)

    monkeypatch.setattr(sim.statistics, "_lerp", naive)
    with np.errstate(all="ignore"):
        off = [name for name, row in ROWS if row_stats(row.copy()).tobytes() != numpy_stats(row).tobytes()]
    assert len(off) >= 10, off


def test_variable_stats_from_memory_and_from_blocks(real_rows, way, monkeypatch):
    """Both paths of variable_stats give numpy's bits, whatever the block size."""

    class Rows:  # the part of a TrajectoryFile that variable_stats reads
        shape = (1, real_rows.shape[1], real_rows.shape[0])

        def rows(self, v, t0, t1, out):
            out[:] = real_rows[t0:t1]
            return out

    want = np.stack([numpy_stats(r) for r in real_rows]).tobytes()  # 1,000 runs: one block
    assert sim.statistics.variable_stats(real_rows[None], 0).tobytes() == want
    monkeypatch.setattr(sim.statistics, "BLOCK_VALUES", real_rows.shape[1] * 7)
    assert sim.statistics.variable_stats(Rows(), 0).tobytes() == want


def test_the_mean_and_sd_of_long_rows_come_by_blocks_close_to_numpys():
    """Beyond one block, row_stats follows the block definition, which differs from numpy's own
    pairwise mean and two-pass sd only in rounding; within one block it is numpy's."""
    rng = np.random.default_rng(7)
    B = sim.statistics.BLOCK  # noqa: N806
    for n in (B, B + 1, 3 * B, 3 * B + 17, 50_000):
        row = rng.standard_normal(n) * 3.0 + 100.0
        got = row_stats(row)
        assert tuple(got[:2]) == block_moments(row)
        assert np.allclose(got[:2], [row.mean(), row.std(ddof=1)], rtol=1e-13, atol=0)
        if n == B:
            assert got[0] == row.mean() and got[1] == row.std(ddof=1)
