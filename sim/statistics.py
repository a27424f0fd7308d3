"""Summary statistics over runs, exact and independent of how the runs were computed.

Every statistic of a (variable, step) is computed from that row of values alone, one row at a
time, by the same numpy calls: the mean and the sample standard deviation (numpy's pairwise sums
over the row, in run order) and the quantiles (numpy's default, linear interpolation between order
statistics; Hyndman & Fan 1996, definition 7). The row holds the runs in index order whatever the
number of processes or the chunk size, so the statistics are byte-identical at any split: no
partial sums are combined in an order that depends on the split.

Quantiles are exact, not sketched. Memory stays bounded because rows are read in blocks of at most
:data:`BLOCK_VALUES` values (256 MiB), from memory or from the trajectory file on disk: a block of
csp2023 holds every date of a variable up to 1.2 million runs, so each variable is read once. The
bound holds while one row fits in a block (up to 33 million runs); beyond, a block is one row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.store import TrajectoryFile

#: Quantiles reported in summaries (the bands on plots are 50% = p25..p75 and 90% = p05..p95).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Values in one block of rows read for the statistics (32 Mi float64 = 256 MiB).
BLOCK_VALUES = 1 << 25

#: Columns of a statistics table: mean, sd, then one per quantile.
COLUMNS = ("mean", "sd", *(f"p{round(q * 100):02d}" for q in QUANTILES))


def row_stats(row: np.ndarray, scratch: bool = False) -> np.ndarray:
    """mean, sd (ddof 1; 0 for one run), p05, p25, p50, p75, p95 of one row of runs.

    ``scratch`` lets the quantiles reorder the row in place (same result, no copy).
    """
    out = np.empty(len(COLUMNS))
    out[0] = row.mean()
    out[1] = row.std(ddof=1) if row.size > 1 else 0.0
    out[2:] = np.quantile(row, QUANTILES, overwrite_input=scratch)
    return out


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


def _block(size: int) -> np.ndarray:
    """A block buffer this process keeps from variable to variable: fresh pages cost time."""
    if not _buffer or _buffer[0].size < size:
        _buffer[:] = [np.empty(size)]
    return _buffer[0]
