"""Splitting an ensemble into chunks of runs and computing them in one process, several, or on Dask.

Run k's numbers depend only on (scenario, seed, k) (:mod:`sim.noise`), so a chunk is just a range
of run indices given to its own :class:`~sim.model.HedgingModel`, and any split gives the same
trajectories bit for bit. Chunks go where they are computed:

- one process: in turn, in this process;
- ``workers`` > 1: a pool of processes (forked on Linux where that is safe, else spawned:
  :func:`pool_context`; via a context, so no global state is changed); each writes its chunk into
  the trajectory file itself, so no large array crosses a pipe;
- ``dask``: the workers of a dask.distributed scheduler (:mod:`sim.cluster`); the chunks come back
  to this process, which writes them.

An ensemble in memory is summarised once assembled (:mod:`sim.statistics`); a larger one as its
chunks come in, each reduced where it was computed (:mod:`sim.streaming`). Neither depends on the
split.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from functools import cache, partial
from typing import TYPE_CHECKING, Any

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

Sink = np.ndarray | TrajectoryFile | None  # None: the runs are summarised, not kept


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
    """Store a chunk's record at its runs (nowhere when the sink is None)."""
    if sink is None:
        return
    if isinstance(sink, TrajectoryFile):
        sink.write(start, record)
    else:
        sink[:, :, start : start + record.shape[2]] = record


# ---- a pool of local processes -----------------------------------------------------------------
_job: dict = {}

#: What a chunk's process does with its record before returning: nothing (the record itself comes
#: back), or a reducer (:mod:`sim.streaming`) whose result comes back instead.
Reduce = Callable[[np.ndarray, int], Any] | None


def _init_worker(spec: Scenario, seed: int, file: TrajectoryFile | None, engine: str | None) -> None:
    """Set up a pool process: its signals (:func:`worker_signals`); the scenario is sent once."""
    worker_signals()
    _job.update(spec=spec, seed=seed, file=file, engine=engine)


def _pool_chunk(span: tuple[int, int], reduce: Reduce, write: bool) -> tuple[int, int, Any]:
    start, stop = span
    # one thread each: the pool's processes fill the cores
    record = simulate(_job["spec"], _job["seed"], start, stop, reuse=True, engine=_job["engine"], threads=1)
    if write and _job["file"] is not None:
        _job["file"].write(start, record)
    if reduce is not None:
        return start, stop, reduce(record, start)
    return start, stop, None if _job["file"] is not None else record


def pool_context() -> Any:
    """The ``multiprocessing`` context for a pool of local workers.

    On Linux, when this process runs no other Python thread, workers are forked: they start at
    once, with the modules (and, for the kernel, the compiled code) already loaded here, where a
    spawned worker spends about 2.5 s of CPU importing Mesa and numba and loading the kernel: on
    two cores, the first seconds of a large ensemble or a sweep. Elsewhere they are spawned: on
    macOS and Windows a fork without exec is unsafe, and in a process with threads of its own (the
    dashboard's server, the kernel's thread pool) a fork could copy a lock that another thread
    holds. A worker's numbers are the same either way; ``HEDGESIM_SPAWN=1`` spawns them always.
    """
    import _thread
    import multiprocessing

    fork = (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and _thread._count() == 0  # nor any started without the threading module
        and os.environ.get("HEDGESIM_SPAWN", "") in ("", "0")
    )
    return multiprocessing.get_context("fork" if fork else "spawn")


@cache
def _pool_class() -> type:
    """``multiprocessing``'s pool, whose thread that looks after the workers wakes when a worker
    ends or the pool changes, and not also whenever a result waits in the result pipe: that thread
    then found the pipe readable on every turn until the pool's result thread had read the whole
    result, and turned without pause meanwhile (Python 3.12 and 3.13). With digests of a megabyte
    or more, 10^6 runs spent 3.4 s of this process's CPU there, on the cores the workers needed.
    (Imported when first needed: ``multiprocessing.pool`` takes about 40 ms to import.)"""
    import multiprocessing.pool

    class Pool(multiprocessing.pool.Pool):
        def _get_sentinels(self) -> list:
            return [self._change_notifier._reader]

    return Pool


def start_pool(ctx: Any, processes: int, initializer: Callable, initargs: tuple) -> Any:
    """A pool of ``processes`` workers of context ``ctx`` (:func:`_pool_class`, ``multiprocessing``'s
    pool with its worker-handling thread quieter), its workers started with Ctrl-C ignored (an
    ignored signal survives exec and fork, and Python then installs no handler), so that a Ctrl-C
    at the terminal, which reaches the whole process group, never prints a traceback from a worker
    still starting up (the parent handles it), and a SIGTERM held until they have their start-up
    data (:func:`~sim.signals.sigterm_deferred`). The threads that the C libraries start for
    themselves (OpenBLAS's, pyarrow's allocator's) handle a fork, so Python's warning about them is
    not shown."""
    import warnings

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    # Ctrl-C and SIGTERM are also blocked while the workers start: a worker (forked or spawned:
    # the mask survives both) takes them only once worker_signals() has set its own handlers,
    # not the parent's, which a forked worker inherits.
    held = {signal.SIGINT, signal.SIGTERM}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, held) if hasattr(signal, "pthread_sigmask") else None
    try:
        with sigterm_deferred(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
            return _pool_class()(processes, initializer, initargs, context=ctx)
    finally:  # the handler first: a signal held until now is delivered as the mask is restored
        if main:
            signal.signal(signal.SIGINT, previous)
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def worker_signals() -> None:
    """A pool worker's signals: Ctrl-C is the parent's to handle, and SIGTERM ends it (a forked
    worker would otherwise keep the parent's handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the pool started (start_pool)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _load_kernel(spec: Scenario, seed: int) -> None:
    """Load the compiled step from its cache in this process (a one-run model), before a fork."""
    from sim.model import HedgingModel

    HedgingModel(spec, np.arange(1), seed, engine="kernel", threads=1).run()


class LocalPool:
    """Worker processes (:func:`pool_context`), stopped at once (not drained) on Ctrl-C or any error."""

    def __init__(
        self,
        workers: int,
        spec: Scenario,
        seed: int,
        file: TrajectoryFile | None,
        engine: str | None = None,
        statistics: bool = False,
    ):
        ctx = pool_context()
        #: Forked workers are ready at once; spawned ones take seconds to import and load.
        self.forked = ctx.get_start_method() == "fork"
        if self.forked and engine == "kernel":
            _load_kernel(spec, seed)  # once here, rather than once in each worker
        if self.forked and statistics:
            from sim.streaming import warm

            warm()  # the streamed statistics' compiled code too (this process needs it as well)
        self.workers = workers
        self.pool = start_pool(ctx, workers, _init_worker, (spec, seed, file, engine))

    def chunks(
        self, spans: list[tuple[int, int]], reduce: Reduce = None, write: bool = True
    ) -> Iterator[tuple[int, int, Any]]:
        yield from self.pool.imap_unordered(partial(_pool_chunk, reduce=reduce, write=write), spans)

    def stream(
        self, spans: list[tuple[int, int]], reducer: Callable[[], Reduce], write: bool = True
    ) -> Iterator[tuple[int, int, Any]]:
        """Each chunk's (start, stop, result) as it comes, with the reducer that ``reducer()``
        gives when the chunk is handed out: at most two chunks per worker are out at a time, so
        that what the caller does with a result (narrowing the brackets of the statistics) can
        change the reducer of the chunks after it while the workers go on."""
        import queue

        results: queue.SimpleQueue = queue.SimpleQueue()
        todo = iter(spans)
        out = 0

        def hand_out() -> int:
            span = next(todo, None)
            if span is None:
                return 0
            args = (span, reducer(), write)
            self.pool.apply_async(_pool_chunk, args, callback=results.put, error_callback=results.put)
            return 1

        for _ in range(2 * self.workers):
            out += hand_out()
        while out:
            result = results.get()
            out -= 1
            if isinstance(result, BaseException):
                raise result
            yield result
            out += hand_out()

    def close(self, ok: bool) -> None:
        end_pool(self.pool, ok)


def end_pool(pool: Any, ok: bool) -> None:
    """Close a ``multiprocessing`` pool after its work (``ok``), or stop it at once after an error
    or Ctrl-C: its workers killed, and the pool let go rather than terminated.

    ``Pool.terminate`` cannot be trusted once a worker has been killed: one killed while it sent a
    result leaves half a message in the result pipe, and the pool's result thread, which
    ``terminate`` joins, waits for the rest for ever (as Ctrl-C during a large ensemble showed,
    about one time in three); one killed while it read a task does the same to the task pipe,
    which ``terminate`` drains; and a lock that a dead worker held is never released. So the
    pool's thread that replaces dead workers is told to stop first, so that it starts none in their
    place (it wakes up when they die); then the workers are killed, and the pool is left to its own
    threads: daemons that end with the program, or wait where they are, holding a few pipes (in
    a long-lived process such as a notebook, a pool interrupted there keeps them).
    """
    if ok:
        pool.close()
        pool.join()
        return
    from multiprocessing.pool import TERMINATE

    handler = getattr(pool, "_worker_handler", None)
    if handler is not None:
        handler._state = TERMINATE
    workers = list(getattr(pool, "_pool", []))
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join(5)
    if handler is not None:
        handler.join(5)
    for worker in getattr(pool, "_pool", []):  # one the thread started in place of a dead one
        if worker.is_alive():
            worker.kill()
            worker.join(5)
    cache = getattr(pool, "_cache", None)
    if cache is not None:
        cache.clear()  # results that came but were not read (a chunk's record is tens of MB)
    finalizer = getattr(pool, "_terminate", None)
    if finalizer is not None:
        finalizer.cancel()  # neither at exit nor when collected: it would wait as terminate does
    pool._state = TERMINATE  # and collected, it does not warn of a pool left running


def compute(
    spec: Scenario,
    seed: int,
    spans: list[tuple[int, int]],
    sink: Sink,
    workers: int,
    dask: str | None,
    done: Callable[[int], None],
    engine: str | None = None,
    variables: int = 0,
) -> np.ndarray | None:
    """Compute every chunk into ``sink``, calling ``done(runs)`` as each finishes, with ``engine``
    (:func:`sim.model.choose_engine` for the whole ensemble; each chunk's own choice if None).

    With an array in memory for ``sink``, returns None (the ensemble computes its statistics when
    asked). Otherwise (a trajectory file, or None: not kept) returns the statistics of the
    ``variables`` outputs, shape (variables, steps + 1, columns), computed as the chunks come in
    (:mod:`sim.streaming`; the chunks hold whole blocks of runs).
    """
    file = sink if isinstance(sink, TrajectoryFile) else None
    streamed = not isinstance(sink, np.ndarray)  # statistics computed as the chunks come in
    pool = LocalPool(workers, spec, seed, file, engine, streamed) if workers > 1 and dask is None else None
    ok = False

    def chunks(
        spans: list[tuple[int, int]], reduce: Reduce = None, write: bool = True, here: bool = False
    ) -> Iterator[tuple[int, int, Any]]:
        if dask is not None and not here:
            from sim.cluster import run_on_dask

            task = partial(simulate, engine=engine, threads=1)  # a Dask worker's tasks fill its cores
            for start, record in run_on_dask(dask, task, spec, seed, spans):
                if write:
                    put(sink, start, record)
                yield start, start + record.shape[2], reduce(record, start) if reduce else None
        elif pool is not None and not here:
            for start, stop, result in pool.chunks(spans, reduce, write):
                if write and isinstance(sink, np.ndarray):
                    put(sink, start, result)
                yield start, stop, result
        else:
            for start, stop in spans:
                record = simulate(spec, seed, start, stop, reuse=True, engine=engine)
                if write:
                    put(sink, start, record)
                yield start, stop, reduce(record, start) if reduce else None

    try:
        if isinstance(sink, np.ndarray):
            for start, stop, _ in chunks(spans):
                done(stop - start)
            ok = True
            return None
        from sim.streaming import Statistics, pilot_runs, stages

        runs, steps1 = spans[-1][1], spec.steps + 1
        stats = Statistics(variables * steps1, runs)
        plan = stages(spans, pilot_runs(runs, variables * steps1 * 8))
        if pool is not None and dask is None:
            _stream_stages(pool, plan, stats, chunks, done)
        else:
            for k, stage in enumerate(plan):
                if k:
                    stats.narrow()
                # the first stage in this process, while Dask's workers start
                for _, _, part in chunks(stage, stats.reducer(), here=k == 0 and len(plan) > 1):
                    stats.add(part)
                    done(part.runs)
        out, again = stats.result()
        if again.size:  # rare: rows whose quantiles the brackets missed, or NaN, or both zeros
            out[again] = _again(chunks, spans, again, runs)
        ok = True
        return out.reshape(variables, steps1, -1)
    finally:
        if pool is not None:
            pool.close(ok)


def _stream_stages(
    pool: LocalPool, plan: list[list[tuple[int, int]]], stats: Any, chunks: Callable, done: Callable
) -> None:
    """The stages of streamed statistics (:mod:`sim.streaming`) on a pool, without waiting between
    them: the brackets narrow as soon as the chunks of a stage are all in, while the workers go on
    with the next chunks, handed out with the brackets of their moment (their digests are
    relabelled when they come back). This process computes the first stage, which keeps every
    value (sending those back from workers would cost more than computing them here), while
    spawned workers start (``chunks(..., here=True)``)."""
    if len(plan) > 1:
        for _, _, part in chunks(plan[0], stats.reducer(), here=True):
            stats.add(part)
            done(part.runs)
        plan = plan[1:]
        stats.narrow()
    stage_of = {span[0]: k for k, stage in enumerate(plan) for span in stage}
    left = [len(stage) for stage in plan]
    waiting = 0  # the first stage with chunks still out
    for start, _, part in pool.stream([span for stage in plan for span in stage], stats.reducer):
        stats.add(part)
        done(part.runs)
        left[stage_of[start]] -= 1
        while waiting < len(plan) - 1 and not left[waiting]:
            stats.narrow()  # the brackets for the chunks not yet handed out
            waiting += 1


#: The rows a second pass keeps whole take at most this many bytes at a time.
AGAIN_BYTES = 512 * 2**20


def _again(chunks: Callable, spans: list[tuple[int, int]], rows: np.ndarray, runs: int) -> np.ndarray:
    """The statistics of ``rows`` from their whole values: the runs computed again, a group of rows
    at a time (:func:`sim.statistics.row_stats`)."""
    from sim.statistics import COLUMNS, row_stats
    from sim.streaming import KeepRows

    out = np.empty((rows.size, len(COLUMNS)))
    per_pass = max(1, AGAIN_BYTES // (8 * runs))
    for a in range(0, rows.size, per_pass):
        group = rows[a : a + per_pass]
        whole = np.empty((group.size, runs))
        for _, _, (start, part) in chunks(spans, KeepRows(group), write=False):
            whole[:, start : start + part.shape[1]] = part
        out[a : a + group.size] = [row_stats(row, scratch=True) for row in whole]
    return out
