"""What a run will need, estimated before it starts: memory, disk and time.

An ensemble's size is runs x (steps + 1) x outputs float64 numbers (:func:`sim.store.nbytes`); the
number of outputs comes from the model itself (:func:`sim.chunks.output_names`), so the estimate
follows the model as it changes. From it and the options (workers, chunk size, trajectories and
their format), :func:`estimate` adds up what each part holds at its peak, and :func:`check`
refuses, in one line, a request that cannot fit in the memory this machine has available or in the
free space of the disk it writes to, saying what to change. The constants below were measured on
csp2023 (benchmarks/README.md); they are estimates, within tens of percent.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import HedgesimError

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: Memory of one process with Python, numpy, Mesa (and pandas) loaded, before any run.
PROCESS_BYTES = 160 * 2**20
#: Peak memory per row of tidy trajectories (run, date, step, variable, value) while they are
#: built and written as CSV: pandas keeps a text object per date and variable cell.
CSV_ROW_BYTES = 300
#: Bytes per row of trajectories.csv and of summary.csv on disk.
CSV_ROW_DISK, SUMMARY_ROW_DISK = 45, 115
#: Run-steps per second of one process (a conservative figure; see benchmarks/README.md).
RUN_STEPS_PER_S = 500_000
#: Seconds to start a worker process (Python, numpy, Mesa).
PROCESS_START_S = 1.5
#: The share of a large ensemble's values that its quantiles keep, at most (sim.streaming; 3 % at
#: 10^6 runs of csp2023, more for fewer runs), besides its first stage's.
STREAMED_SHARE = 0.08


def size_text(n: float) -> str:
    """Bytes for people: "512 MiB", "5.6 GiB"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            x = n / scale
            return f"{x:.1f} {unit}" if x < 100 else f"{x:,.0f} {unit}"
    return f"{int(n)} bytes"


def time_text(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


@dataclass
class Estimate:
    """What a run needs at its peak: bytes of memory and of disk, seconds, local processes."""

    memory: int = 0
    disk: int = 0
    seconds: float = 0.0
    processes: int = 1
    #: the parts of memory and disk, largest first when shown: (what, bytes, what to change)
    memory_parts: list[tuple[str, int, str]] = field(default_factory=list)
    disk_parts: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, other: Estimate) -> None:
        """Another ensemble's needs, held at the same time (a comparison keeps every ensemble)."""
        self.memory += other.memory
        self.disk += other.disk
        self.seconds += other.seconds
        self.processes = max(self.processes, other.processes)
        self.memory_parts += other.memory_parts
        self.disk_parts += other.disk_parts


def estimate(
    sc: Scenario,
    runs: int,
    *,
    outputs: int | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    dask: str | None = None,
    trajectories: bool | None = None,
    fmt: str = "npy",
    figures: bool = True,
    paired: bool = False,
) -> Estimate:
    """Memory, disk and time of one ensemble written as a results folder (see the module's text).
    ``paired``: the ensemble of a comparison, which keeps its runs while it lasts."""
    from sim.chunks import default_chunk, output_names, plan_size, processes
    from sim.statistics import BLOCK
    from sim.store import IN_MEMORY_LIMIT, nbytes

    V = outputs if outputs is not None else len(output_names(sc, 0))  # noqa: N806
    T1 = sc.steps + 1  # noqa: N806
    per_run = nbytes(V, sc.steps, 1)
    total = per_run * runs
    chunk = chunk_size or default_chunk(per_run)
    on_disk = total > IN_MEMORY_LIMIT
    if on_disk:  # its chunks hold whole blocks of runs (sim.ensemble.run)
        chunk = -(-chunk // BLOCK) * BLOCK
    chunks = plan_size(runs, chunk)
    procs = processes(workers, runs, sc.steps, chunks, dask)
    kept = trajectories if trajectories is not None else not on_disk
    est = Estimate(processes=procs)
    fewer = "fewer runs"
    est.memory_parts.append(("the processes", PROCESS_BYTES * procs, "fewer --workers"))
    chunk_bytes = per_run * min(chunk, runs)
    if on_disk:  # summarised as the runs are made (sim.streaming)
        from sim.streaming import PILOT_BYTES

        est.memory_parts.append(("chunks", chunk_bytes * procs, "fewer --workers, or --dask"))
        kept_values = min(total, PILOT_BYTES + int(STREAMED_SHARE * total))
        est.memory_parts.append(("the values the quantiles need", kept_values, fewer))
        if paired:
            est.disk_parts.append(("its runs while the comparison lasts", total, fewer))
        elif kept:  # written as .npy as the runs are made, then converted to another format
            name = "trajectories.npy" + (" while it runs" if fmt != "npy" else "")
            est.disk_parts.append((name, total, f"--no-trajectories, or {fewer}"))
    else:
        est.memory_parts.append(("the ensemble", total + chunk_bytes * (procs - 1), fewer))
        if kept and fmt == "npy":
            est.disk_parts.append(("trajectories.npy", total, f"--no-trajectories, or {fewer}"))
    if kept and fmt == "netcdf":  # the whole array in memory once more, and on disk
        est.memory_parts.append(("trajectories.nc", total, "--format npy, or --no-trajectories"))
        est.disk_parts.append(("trajectories.nc", total, "--format npy, or --no-trajectories"))
    if kept and fmt == "parquet":  # a long table in memory, compressed on disk (counted as npy)
        rows = V * T1 * runs
        est.memory_parts.append(("trajectories.parquet", rows * CSV_ROW_BYTES, "--format npy"))
        est.disk_parts.append(("trajectories.parquet", total, "--format npy, or --no-trajectories"))
    if kept and fmt == "csv":
        rows = V * T1 * runs
        est.memory_parts.append(
            ("trajectories.csv", rows * CSV_ROW_BYTES, "--format npy, or --no-trajectories")
        )
        est.disk_parts.append(("trajectories.csv", rows * CSV_ROW_DISK, "--format npy, or --no-trajectories"))
    if figures:
        est.memory_parts.append(("the figures", PROCESS_BYTES, "--no-figures"))
    est.disk_parts.append(("summary.csv", V * T1 * SUMMARY_ROW_DISK, fewer))
    est.memory = sum(b for _, b, _ in est.memory_parts)
    est.disk = sum(b for _, b, _ in est.disk_parts)
    start = PROCESS_START_S if procs > 1 else 0.0
    est.seconds = start + runs * sc.steps / (RUN_STEPS_PER_S * procs)
    if on_disk:  # each chunk is summarised where it was computed: about a third more time
        est.seconds *= 1.35
    return est


def check(est: Estimate, what: str, folder: Path) -> None:
    """Refuse, in one line, a run whose estimate exceeds the available memory or free disk where
    ``folder`` (the results, and the trajectories of large ensembles while they run) will be."""
    memory = available_memory()
    if memory is not None and est.memory > memory:
        raise HedgesimError(
            f"{what}: needs about {size_text(est.memory)} of memory, {size_text(memory)} available; "
            f"{_advice(est.memory_parts)}"
        )
    where = folder
    disk = free_disk(where)
    if disk is not None and est.disk > disk:
        raise HedgesimError(
            f"{what}: needs about {size_text(est.disk)} of disk, {size_text(disk)} free in {where}; "
            f"{_advice(est.disk_parts)}"
        )


def _advice(parts: list[tuple[str, int, str]]) -> str:
    what, size, change = max(parts, key=lambda p: p[1])
    return f"{what} take {size_text(size)}: use {change}"


def empty(shape: int | tuple[int, ...]) -> Any:
    """``np.empty(shape)`` (float64) in ordinary pages, for the large arrays that are written once
    and streamed through (a model's record, an ensemble's numbers, the kept values of streamed
    statistics).

    numpy advises the kernel to back arrays of 4 MB or more with transparent huge pages. Where the
    kernel then compacts memory to find them (Linux's default ``defrag = madvise``), every first
    write into a fresh 2 MB page waits for it: on the machine of benchmarks/README.md, 250 MB
    took 0.39-0.42 s to fault in, against 0.11-0.12 s in ordinary pages, and the first model of
    10,000 runs of a process built in 145-167 ms against 13-14 ms. Streamed arrays gain little from
    huge pages. The advice is switched off for this allocation only (numpy's setting is global:
    another thread allocating meanwhile gets ordinary pages too, which changes no number)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy 1.x
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return np.empty(shape)
    with _PAGES:  # two threads at once could otherwise leave the advice off for good
        previous = _set_madvise_hugepage(False)
        try:
            return np.empty(shape)
        finally:
            _set_madvise_hugepage(previous)


_PAGES = threading.Lock()


def available_memory() -> int | None:
    """Bytes of memory this process can still use: MemAvailable, within a cgroup's limit if any."""
    found: list[int] = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def free_disk(path: Path) -> int | None:
    """Free bytes on the file system where ``path`` is (or would be created)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None
