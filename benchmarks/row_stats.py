"""Time of the exact statistics of one row of runs: sim.statistics against numpy's own calls.

    .venv/bin/python benchmarks/row_stats.py                  # 10^4, 10^5 and 10^6 runs per row
    .venv/bin/python benchmarks/row_stats.py --runs 10000     # one size only
    .venv/bin/python benchmarks/row_stats.py --repeat 9       # best of 9 (default 7)
    .venv/bin/python benchmarks/row_stats.py --cache rows.npy # simulate the rows once only

The rows are real: ``--rows`` rows (variable, date) of csp2023, variables evenly spaced and dates
spread over the quarters, for runs 0..N-1, simulated here chunk by chunk (about 35 seconds for
10^6 runs on one core). Every figure is the best of ``--repeat`` calls per row, averaged over the
rows, in milliseconds per row, with the row copied into a scratch buffer before each call
(untimed), as the on-disk path does; the calls of the methods alternate, so that a load on the
machine slows them alike. Columns:

- ``numpy``: what row_stats did before, ``row.mean()``, ``row.std(ddof=1)`` and
  ``np.quantile(row, QUANTILES, overwrite_input=True)``;
- ``row_stats``: sim.statistics.row_stats(row, scratch=True), the same bits;
- the quantiles alone, three ways: ``np.quantile``; ``np.sort`` then numpy's interpolation;
  single-position partitions then numpy's interpolation (what row_stats does);
- the mean and sd alone: numpy's two calls; one shared sum and a kept buffer (what row_stats does).

It checks that row_stats gives numpy's bytes on every row measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

import sim
from sim.chunks import output_names, simulate
from sim.statistics import QUANTILES, _lerp, _order_statistics, _plan, row_stats

HERE = Path(__file__).resolve().parent
CSP = HERE.parent / "scenarios" / "csp2023.toml"
SEED = 20231216
CHUNK = 50_000


def real_rows(runs: int, count: int, cache: Path | None) -> tuple[list[str], np.ndarray]:
    """``count`` rows of csp2023: variables evenly spaced, dates spread over steps 1..steps."""
    spec = sim.load_scenario(CSP)
    names = output_names(spec, SEED)
    pick = [(k * len(names) // count, 1 + (k * 11) % spec.steps) for k in range(count)]
    labels = [f"{names[v]} @ step {t}" for v, t in pick]
    if cache is not None and cache.exists():
        rows = np.load(cache)
        if rows.shape == (count, runs):
            return labels, rows
    rows = np.empty((count, runs))
    for start in range(0, runs, CHUNK):
        stop = min(start + CHUNK, runs)
        record = simulate(spec, SEED, start, stop, reuse=True)
        for r, (v, t) in enumerate(pick):
            rows[r, start:stop] = record[v, t]
    if cache is not None:
        np.save(cache, rows)
    return labels, rows


def numpy_calls(row: np.ndarray) -> np.ndarray:
    sd = row.std(ddof=1) if row.size > 1 else 0.0
    return np.array([row.mean(), sd, *np.quantile(row, QUANTILES, overwrite_input=True)])


def quantiles_numpy(row: np.ndarray) -> None:
    np.quantile(row, QUANTILES, overwrite_input=True)


def quantiles_sort(row: np.ndarray) -> None:
    plan = _plan(row.size)
    row.sort()
    values = row[plan.positions]
    _lerp(values[plan.below], values[plan.above], plan, out=np.empty(len(QUANTILES)))


def quantiles_partitions(row: np.ndarray) -> None:
    plan = _plan(row.size)
    values = _order_statistics(row, plan.positions)
    _lerp(values[plan.below], values[plan.above], plan, out=np.empty(len(QUANTILES)))


def mean_sd_numpy(row: np.ndarray) -> None:
    row.mean()
    row.std(ddof=1)


def mean_sd_shared(row: np.ndarray, buffer: np.ndarray) -> None:
    total = np.add.reduce(row)
    mean = total / row.size
    np.subtract(row, mean, out=buffer)
    np.square(buffer, out=buffer)
    np.sqrt(np.add.reduce(buffer) / (row.size - 1))


def best_ms(fns: dict, row: np.ndarray, scratch: np.ndarray, repeat: int) -> dict[str, float]:
    """Best of ``repeat`` calls of each function, taken in turn so that load hits them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            scratch[:] = row
            t0 = time.perf_counter()
            fn(scratch)
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) * 1e3 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--rows", type=int, default=8, help="rows of csp2023 measured")
    ap.add_argument("--repeat", type=int, default=7, help="best of this many calls per row")
    ap.add_argument("--cache", type=Path, help="a .npy keeping the simulated rows for the next time")
    args = ap.parse_args()

    t0 = time.perf_counter()
    labels, rows = real_rows(max(args.runs), args.rows, args.cache)
    print(f"rows of {max(args.runs):,} runs ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(
        f"exact statistics of one row, csp2023, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}; ms per row, best of {args.repeat}, mean over {args.rows} rows:"
    )
    for label in labels:
        print(f"  {label}")
    head = f"{'runs':>10}{'numpy':>9}{'row_stats':>11}{'speed-up':>10}{'rows':>11}"
    head += f"{'| quantile':>12}{'sort':>8}{'partitions':>12}{'| mean+sd':>11}{'shared':>8}"
    print(head)
    for n in args.runs:
        scratch = np.empty(n)
        buffer = np.empty(n)
        fns = {
            "numpy": numpy_calls,
            "new": partial(row_stats, scratch=True),
            "quantile": quantiles_numpy,
            "sort": quantiles_sort,
            "partitions": quantiles_partitions,
            "meansd": mean_sd_numpy,
            "shared": partial(mean_sd_shared, buffer=buffer),
        }
        cols: dict[str, list[float]] = {k: [] for k in fns}
        for row in rows[:, :n]:
            row = np.ascontiguousarray(row)
            scratch[:] = row
            want = numpy_calls(scratch).tobytes()
            scratch[:] = row
            assert row_stats(scratch, scratch=True).tobytes() == want, "not numpy's bits"
            for k, ms in best_ms(fns, row, scratch, args.repeat).items():
                cols[k].append(ms)
        m = {k: float(np.mean(v)) for k, v in cols.items()}
        each = np.array(cols["numpy"]) / np.array(cols["new"])
        spread = f"{each.min():.1f}–{each.max():.1f}"
        print(
            f"{n:>10,}{m['numpy']:>9.3f}{m['new']:>11.3f}{m['numpy'] / m['new']:>9.2f}×{spread:>11}"
            f"{m['quantile']:>12.3f}{m['sort']:>8.3f}{m['partitions']:>12.3f}"
            f"{m['meansd']:>11.3f}{m['shared']:>8.3f}"
        )
    print("speed-up: numpy / row_stats, of the mean times, then its least and greatest over the rows")


if __name__ == "__main__":
    main()
