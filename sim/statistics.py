"""Summary statistics over runs, exact and independent of how the runs were computed.

Every statistic of a (variable, step) is computed from that row of values alone, by the same
operations whatever the number of processes or the chunk size:

- the mean and the sample standard deviation: numpy's (``x.mean()``, ``x.std(ddof=1)``: pairwise
  sums) within each block of :data:`BLOCK` runs, the blocks combined in run order by Chan, Golub
  & LeVeque's (1979) update (:func:`moments`, :func:`combine`). A row of up to one block has the
  very bits of numpy's calls; a longer one differs from them in rounding only, and can be
  summarised chunk by chunk as its runs are made (:mod:`sim.streaming`), with the same bits;
- the quantiles: numpy's default, linear interpolation between order statistics (Hyndman & Fan
  1996, definition 7), with the same bits as ``np.quantile(row, QUANTILES)``, computed faster: from
  the order statistics they need (ten at most), found by a sort of the row up to
  :data:`SORT_UP_TO` runs and by single-position partitions (numpy's SIMD quickselect) beyond, or
  read off a row of equal values, and interpolated with numpy's own index, weight and ``_lerp``
  arithmetic (figures in benchmarks/README.md). Rows with a NaN mean (NaNs, or infinities of both
  signs), or with both 0.0 and -0.0, whose quantiles depend on where numpy's partition leaves
  equal values, go through ``np.quantile`` itself.

Quantiles are exact, not sketched. Memory stays bounded because rows are read in blocks of at most
:data:`BLOCK_VALUES` values (256 MiB), from memory or from a trajectory file on disk, plus a
buffer of one row: a block of csp2023 holds every date of a variable up to 1.2 million runs, so
each variable is read once. The bound holds while one row fits in a block (up to 33 million runs);
beyond, a block is one row.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from sim.store import TrajectoryFile

#: Quantiles reported in summaries (the bands on plots are 50% = p25..p75 and 90% = p05..p95).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Values in one block of rows read for the statistics (32 Mi float64 = 256 MiB).
BLOCK_VALUES = 1 << 25

#: Rows up to this many runs are sorted for their quantiles; longer rows are partitioned, which
#: costs less from about 12,000 values on (benchmarks/README.md).
SORT_UP_TO = 12_000

#: Runs per block of the mean and the sd (:func:`moments`): a row of up to this many runs has
#: numpy's own bits; longer rows are summed block by block, so that blocks can be reduced where
#: their runs are computed (:mod:`sim.streaming`).
BLOCK = 1024

#: Columns of a statistics table: mean, sd, then one per quantile.
COLUMNS = ("mean", "sd", *(f"p{round(q * 100):02d}" for q in QUANTILES))


def row_stats(row: np.ndarray, scratch: bool = False) -> np.ndarray:
    """mean, sd (ddof 1; 0 for one run), p05, p25, p50, p75, p95 of one row of runs.

    The same bits as ``np.quantile(row, QUANTILES)``, and, up to :data:`BLOCK` runs, as
    ``row.mean()`` and ``row.std(ddof=1)`` (beyond, see :func:`moments`).
    ``scratch`` lets the quantiles reorder the row in place (same result, no copy).
    """
    n = row.size
    out = np.empty(len(COLUMNS))
    buffer = _row_buffer(n)
    out[0], m2 = moments(row, buffer)
    out[1] = np.sqrt(m2 / (n - 1)) if n > 1 else 0.0
    constant = _constant(row)  # common: an actor's starting state, a variable no event moves
    if np.isnan(out[0]) or ((not constant or row[0] == 0) and _both_zeros(row)):
        # With NaNs, or with both 0.0 and -0.0 (equal, but not the same bits), the values numpy
        # returns depend on where its partition leaves them: numpy itself computes them.
        out[2:] = np.quantile(row, QUANTILES, overwrite_input=scratch)
        return out
    plan = _plan(n)
    if constant:
        values = np.full(len(plan.positions), row[0])  # every value has the same bits here
    else:
        if not scratch:
            buffer[:] = row
            row = buffer
        if n <= SORT_UP_TO:
            row.sort()
            values = row[plan.positions]
        else:
            values = _order_statistics(row, plan.positions)
    _lerp(values[plan.below], values[plan.above], plan, out=out[2:])
    return out


def moments(row: np.ndarray, buffer: np.ndarray | None = None) -> tuple[float, float]:
    """The mean of a row and the sum of its squared deviations from it (M2), by blocks of runs.

    Each block of :data:`BLOCK` runs (the last one may be shorter) gets numpy's own mean and M2:
    ``s = np.add.reduce(x)`` (a pairwise sum), ``m = s / len(x)``, ``np.add.reduce((x - m)**2)``,
    the operations of ``x.mean()`` and ``x.std()``. Blocks are then combined in run order
    (:func:`combine`). A row of up to one block thus has the very bits of numpy's mean and sd; a
    longer one differs from them only in rounding, and its blocks can be reduced wherever its runs
    were computed (:mod:`sim.streaming`). ``buffer``: scratch of the row's length.
    """
    n = row.size
    buffer = np.empty(n) if buffer is None else buffer[:n]
    full = n - n % BLOCK if n > BLOCK else 0
    counts, means, m2s = [], [], []
    if full:
        blocks = row[:full].reshape(-1, BLOCK)
        mean = np.add.reduce(blocks, axis=1) / BLOCK
        dev = buffer[:full].reshape(-1, BLOCK)
        np.subtract(blocks, mean[:, None], out=dev)
        np.square(dev, out=dev)
        counts += [BLOCK] * len(mean)
        means += mean.tolist()
        m2s += np.add.reduce(dev, axis=1).tolist()
    if full < n:
        tail, dev = row[full:], buffer[full:n]
        mean = np.add.reduce(tail) / tail.size
        np.subtract(tail, mean, out=dev)
        np.square(dev, out=dev)
        counts.append(tail.size)
        means.append(float(mean))
        m2s.append(float(np.add.reduce(dev)))
    if len(counts) == 1:
        return means[0], m2s[0]
    mean, m2 = combine(np.array(counts, float)[:, None], np.array(means)[:, None], np.array(m2s)[:, None])
    return float(mean[0]), float(m2[0])


def combine(counts: np.ndarray, means: np.ndarray, m2s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks' (count, mean, M2), shape (blocks, rows), combined in block order: Chan, Golub &
    LeVeque's (1979) update of a mean and a sum of squared deviations by a further block,

        n = na + nb,  d = mb - ma,  m = ma + d (nb / n),  M2 = M2a + M2b + d d (na nb / n),

    one block after the other, the same float64 operations for every row."""
    n, mean, m2 = counts[0].copy(), means[0].copy(), m2s[0].copy()
    with np.errstate(invalid="ignore", over="ignore"):  # as numpy's mean: NaN and inf, no warning
        for k in range(1, len(counts)):
            nb = counts[k]
            total = n + nb
            d = means[k] - mean
            mean = mean + d * (nb / total)
            m2 = m2 + m2s[k] + d * d * (n * nb / total)
            n = total
    return mean, m2


class _Plan(NamedTuple):
    """Where the quantiles of a row of n values lie, computed as np.quantile computes it."""

    positions: list[int]  # the order statistics needed, ascending
    below: np.ndarray  # for each quantile, the index in positions of its lower neighbour
    above: np.ndarray  # and of its upper neighbour
    gamma: np.ndarray  # the weight of the upper neighbour
    one_minus_gamma: np.ndarray
    upper_half: np.ndarray  # gamma >= 0.5: interpolate down from the upper neighbour


@cache
def _plan(n: int) -> _Plan:
    """numpy's ``_quantile`` and ``_get_indexes`` for method "linear", in the same operations."""
    q = np.asarray(QUANTILES)
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    beyond = virtual >= n - 1  # numpy takes the last value, and gamma from index -1
    previous[beyond] = -1
    following[beyond] = -1
    previous = previous.astype(np.intp)
    following = following.astype(np.intp)
    gamma = np.asarray(virtual - previous, dtype=virtual.dtype)
    positions = sorted({int(i) % n for i in (*previous, *following)})
    index = {k: i for i, k in enumerate(positions)}
    return _Plan(
        positions=positions,
        below=np.array([index[int(i) % n] for i in previous]),
        above=np.array([index[int(i) % n] for i in following]),
        gamma=gamma,
        one_minus_gamma=1 - gamma,
        upper_half=gamma >= 0.5,
    )


def _lerp(a: np.ndarray, b: np.ndarray, plan: _Plan, out: np.ndarray) -> None:
    """numpy's ``_lerp``: a + (b - a) t, or b - (b - a) (1 - t) where t >= 0.5."""
    diff = b - a
    np.add(a, diff * plan.gamma, out=out)
    np.subtract(b, diff * plan.one_minus_gamma, out=out, where=plan.upper_half)


def _order_statistics(a: np.ndarray, positions: list[int]) -> np.ndarray:
    """The values at ``positions`` (ascending) of ``a`` sorted; reorders ``a`` in place.

    numpy 2 partitions at a single position with a SIMD quickselect where the CPU has one (x86
    with AVX2 or AVX-512), and at several positions, as np.quantile asks, with its scalar
    introselect, about four times slower on a row of a million. So each segment is partitioned at
    one needed position, the one nearest its middle, and each side again; a needed position just
    above a partition point, or alone at the edge of its segment, is that segment's min (or max).
    With the five quantiles of a large row, this partitions about 2.5 times the row, less work
    than a full sort (benchmarks/README.md). The values are exact: the only equal values with
    different bits are 0.0 and -0.0 (and NaNs), rows the caller keeps from here.
    """
    values = np.empty(len(positions))
    todo = [(0, a.size, 0, len(positions))]  # a[lo:hi] holds the order statistics positions[i:j]
    while todo:
        lo, hi, i, j = todo.pop()
        if i == j:
            continue
        segment = a[lo:hi]
        if j - i == 1 and positions[i] in (lo, hi - 1):
            values[i] = segment.min() if positions[i] == lo else segment.max()
            continue
        # split at the lower of two adjacent positions: the upper one is then the min of the rest
        starts = [m for m in range(i, j) if m == i or positions[m - 1] != positions[m] - 1]
        m = min(starts, key=lambda m: abs(2 * positions[m] - lo - hi))
        k = positions[m]
        segment.partition(k - lo)
        values[m] = a[k]
        todo.append((lo, k, i, m))
        if m + 1 < j and positions[m + 1] == k + 1:
            values[m + 1] = a[k + 1 : hi].min()
            todo.append((k + 1, hi, m + 2, j))
        else:
            todo.append((k + 1, hi, m + 1, j))
    return values


def _constant(row: np.ndarray) -> bool:
    """Whether every value of the row equals the first (a few spread values are looked at first)."""
    sample = row[:: max(1, row.size // 64)]
    return bool((sample == sample[0]).all() and (row == row[0]).all())


def _both_zeros(row: np.ndarray) -> bool:
    """Whether the row holds both 0.0 and -0.0."""
    zero = row == 0
    if not zero.any():
        return False
    negative = np.signbit(row[zero])
    return bool(negative.any() and not negative.all())


def variable_stats(source: np.ndarray | TrajectoryFile, v: int) -> np.ndarray:
    """The statistics of variable v at every step, shape (steps + 1, len(COLUMNS)).

    ``source`` is an in-memory array (variable, step, run) or a :class:`TrajectoryFile`.
    """
    if isinstance(source, np.ndarray):
        rows = source[v]
        return np.stack([row_stats(np.ascontiguousarray(r)) for r in rows])
    _, runs, steps1 = source.shape
    per_block = max(1, min(steps1, BLOCK_VALUES // runs))
    buffer = _block(per_block * runs)
    out = []
    for t0 in range(0, steps1, per_block):
        t1 = min(t0 + per_block, steps1)
        block = source.rows(v, t0, t1, out=buffer[: (t1 - t0) * runs].reshape(t1 - t0, runs))
        out += [row_stats(r, scratch=True) for r in block]  # the block is ours to reorder
    return np.stack(out)


_buffer: list[np.ndarray] = []
_row: list[np.ndarray] = []


def _block(size: int) -> np.ndarray:
    """A block buffer this process keeps from variable to variable: fresh pages cost time."""
    if not _buffer or _buffer[0].size < size:
        _buffer[:] = [np.empty(size)]
    return _buffer[0]


def _row_buffer(size: int) -> np.ndarray:
    """A buffer of one row this process keeps from row to row, for the sd and the quantiles."""
    if not _row or _row[0].size < size:
        _row[:] = [np.empty(size)]
    return _row[0][:size]
