"""Splitting an ensemble into chunks of runs and computing them in one process, several, or on Dask.

Run k's numbers depend only on (scenario, seed, k) (:mod:`sim.noise`), so a chunk is just a range
of run indices given to its own :class:`~sim.model.HedgingModel`, and any split gives the same
trajectories bit for bit. Chunks go where they are computed:

- one process: in turn, in this process;
- ``workers`` > 1: a pool of fresh processes (the ``spawn`` start method, via a context, so no
  global state is changed); each writes its chunk into the trajectory file itself, so no large
  array crosses a pipe;
- ``dask``: the workers of a dask.distributed scheduler (:mod:`sim.cluster`); the chunks come back
  to this process, which writes them.

Statistics are then computed from the assembled trajectories (:mod:`sim.statistics`), so they do not
depend on the split either.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from sim.signals import sigterm_deferred
from sim.store import TrajectoryFile

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: Runs per chunk by default: small enough that a chunk's arrays stay in the CPU caches' reach
#: (throughput falls at larger chunks, see benchmarks/README.md), large enough to amortise the
#: per-step Python overhead.
DEFAULT_CHUNK = 4096

#: A default chunk holds at most this many bytes of records, so a long horizon gets fewer runs
#: per chunk (csp2023, 6 KB per run, keeps :data:`DEFAULT_CHUNK`).
CHUNK_BYTES = 64 * 2**20

#: Below this many run-steps one process is faster than a pool: each worker process pays about a
#: second of start-up (Python, numpy, Mesa), and one process does ~1M run-steps/s.
PARALLEL_RUN_STEPS = 4_000_000

Sink = np.ndarray | TrajectoryFile


def plan(runs: int, chunk: int) -> list[tuple[int, int]]:
    """Fixed ranges [start, stop) of run indices, in order."""
    return [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]


def plan_size(runs: int, chunk: int) -> int:
    """How many chunks :func:`plan` makes."""
    return -(-runs // chunk)


def default_chunk(run_bytes: int) -> int:
    """Runs per chunk by default: :data:`DEFAULT_CHUNK`, fewer when a run's record is large."""
    return max(1, min(DEFAULT_CHUNK, CHUNK_BYTES // max(1, run_bytes)))


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_workers(runs: int, steps: int) -> int:
    """One process for small ensembles, every core where the start-up pays off."""
    if runs * steps < PARALLEL_RUN_STEPS:
        return 1
    return cores()


def processes(workers: int | None, runs: int, steps: int, chunks: int, dask: str | None) -> int:
    """Local processes for an ensemble: ``workers`` when given, else :func:`auto_workers`; never
    more than there are chunks to compute (with Dask, they only compute statistics)."""
    procs = workers if workers is not None else auto_workers(runs, steps)
    return procs if dask is not None else max(1, min(procs, chunks))


def simulate(
    spec: Scenario,
    seed: int,
    start: int,
    stop: int,
    reuse: bool = False,
    engine: str | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Runs start..stop-1 of a scenario: the model's record, shape (variables, steps + 1, runs).

    With ``reuse``, the record is a view of a buffer this process keeps for its next chunk (valid
    until then): it saves the page faults of a fresh 20 MB array per chunk. ``engine``: the one
    chosen for the whole ensemble (:func:`sim.model.choose_engine`), else this chunk's choice;
    ``threads``: the kernel's (1 where other processes or tasks fill the cores).
    """
    from sim.model import HedgingModel

    buffer = _buffers.get("record") if reuse else None
    runs = np.arange(start, stop, dtype=np.int64)
    model = HedgingModel(spec, runs, seed, record=buffer, engine=engine, threads=threads)
    if reuse and buffer is None:  # the first chunk of this process: its record is kept
        _buffers["record"] = model.record
    model.run()
    return model.record


#: Buffers a process reuses from chunk to chunk (see :func:`simulate`).
_buffers: dict[str, np.ndarray] = {}


def output_names(spec: Scenario, seed: int) -> list[str]:
    """The output variables of a scenario (from a one-run model, which costs milliseconds)."""
    from sim.model import HedgingModel

    return HedgingModel(spec, np.arange(1), seed).variables


def put(sink: Sink, start: int, record: np.ndarray) -> None:
    """Store a chunk's record at its runs."""
    if isinstance(sink, TrajectoryFile):
        sink.write(start, record)
    else:
        sink[:, :, start : start + record.shape[2]] = record


# ---- a pool of local processes -----------------------------------------------------------------
_job: dict = {}


def _init_worker(spec: Scenario, seed: int, sink: TrajectoryFile | None, engine: str | None) -> None:
    """Set up a pool process: Ctrl-C is the parent's to handle; the scenario is sent once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _job.update(spec=spec, seed=seed, sink=sink, engine=engine)


def _pool_chunk(span: tuple[int, int]) -> tuple[int, int, np.ndarray | None]:
    start, stop = span
    # one thread each: the pool's processes fill the cores
    record = simulate(_job["spec"], _job["seed"], start, stop, reuse=True, engine=_job["engine"], threads=1)
    if _job["sink"] is not None:
        _job["sink"].write(start, record)
        return start, stop, None
    return start, stop, record


def _pool_stats(v: int) -> tuple[int, np.ndarray]:
    from sim.statistics import variable_stats

    return v, variable_stats(_job["sink"], v)


class LocalPool:
    """Spawned worker processes, stopped at once (not drained) on Ctrl-C or any error."""

    def __init__(self, workers: int, spec: Scenario, seed: int, sink: Sink, engine: str | None = None):
        import multiprocessing

        self.file = sink if isinstance(sink, TrajectoryFile) else None
        ctx = multiprocessing.get_context("spawn")
        # Workers start with Ctrl-C ignored (an ignored signal survives exec, and Python then
        # installs no handler), so a Ctrl-C at the terminal, which reaches the whole process group,
        # never prints a traceback from a worker still starting up. The parent handles it.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            with sigterm_deferred():  # a SIGTERM waits until the workers have their start-up data
                args = (spec, seed, self.file, engine)
                self.pool = ctx.Pool(workers, initializer=_init_worker, initargs=args)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def chunks(self, spans: list[tuple[int, int]]) -> Iterator[tuple[int, int, np.ndarray | None]]:
        yield from self.pool.imap_unordered(_pool_chunk, spans)

    def stats(self, variables: int) -> Iterator[tuple[int, np.ndarray]]:
        yield from self.pool.imap_unordered(_pool_stats, range(variables))

    def close(self, ok: bool) -> None:
        if ok:
            self.pool.close()
        else:
            self.pool.terminate()
        self.pool.join()


def compute(
    spec: Scenario,
    seed: int,
    spans: list[tuple[int, int]],
    sink: Sink,
    workers: int,
    dask: str | None,
    done: Callable[[int], None],
    engine: str | None = None,
) -> np.ndarray | None:
    """Compute every chunk into ``sink``, calling ``done(runs)`` as each finishes, with ``engine``
    (:func:`sim.model.choose_engine` for the whole ensemble; each chunk's own choice if None).

    Returns the statistics, shape (variables, steps + 1, columns), when the sink is a file (they
    are computed here, with the same processes), else None (an in-memory ensemble computes them when
    asked).
    """
    from sim.statistics import variable_stats

    file = sink if isinstance(sink, TrajectoryFile) else None
    # with Dask, local processes only serve the statistics of an on-disk ensemble
    wanted = workers > 1 and (dask is None or file is not None)
    pool = LocalPool(workers, spec, seed, sink, engine) if wanted else None
    ok = False
    try:
        if dask is not None:
            from sim.cluster import run_on_dask

            task = partial(simulate, engine=engine, threads=1)  # a Dask worker's tasks fill its cores
            for start, record in run_on_dask(dask, task, spec, seed, spans):
                put(sink, start, record)
                done(record.shape[2])
        elif pool is not None:
            for start, stop, record in pool.chunks(spans):
                if record is not None:
                    put(sink, start, record)
                done(stop - start)
        else:
            for start, stop in spans:
                put(sink, start, simulate(spec, seed, start, stop, reuse=True, engine=engine))
                done(stop - start)
        stats = None
        if file is not None:
            V = file.shape[0]  # noqa: N806
            if pool is not None:
                parts = dict(pool.stats(V))
            else:
                parts = {v: variable_stats(file, v) for v in range(V)}
            stats = np.stack([parts[v] for v in range(V)])
        ok = True
        return stats
    finally:
        if pool is not None:
            pool.close(ok)
