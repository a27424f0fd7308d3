"""The figure files of a run: each figure of :mod:`sim.plots` saved as PNG and SVG, drawn by other
processes while this one simulates.

A default ``hedgesim run`` spends more time on its seven figures than on its 500 runs. So
``hedgesim run`` starts a figure worker first thing (:func:`start_figure_workers`): a spawned
process that loads matplotlib, fonts and both backends while this process loads the scenario and
Mesa and simulates; given the scenario, it builds each figure's scaffold (titles, axes, event
lines, the key: :func:`prepare_figures`). When the numbers are ready, the worker receives
:class:`sim.plots.FigureData` (what the figures draw: tens of kilobytes, not the runs) and, on
Linux, forks a copy of itself; the two draw the figures, split by cost (:func:`shares`), and this
process never imports matplotlib.
A fork shares the worker's loaded modules for nothing, where a second spawned worker would pay
its start-up again on the cores the simulation needs. On other systems (macOS, where a fork
without exec is unsafe with the system's libraries, and Windows, which has no fork) as many
workers are spawned instead.

Every failure is the caller's: a figure that fails in a copy raises its own error here, with the
copy's traceback; a copy that dies without a word (killed, out of memory) raises too; a worker
ends with this process (Linux: the kernel's parent-death signal), and its copies with it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.plots import GROUPS, FigureData, Scaffold, figure, fill, scaffold

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from matplotlib.figure import Figure

    from sim.ensemble import Ensemble
    from sim.scenario import Scenario

#: Whether the figure worker forks copies of itself to draw in parallel (Linux), rather than
#: several workers being spawned.
FORK = sys.platform.startswith("linux")

#: What drawing and saving a figure costs (PNG and SVG), relative to a figure of one panel, as
#: measured by benchmarks/figures.py: three panels about twice as much, the two of tension 1.6.
COST = {"policy": 2.0, "dimensions": 2.0, "tension": 1.6}


def save_figures(
    ens: Ensemble | FigureData, folder: str | Path, groups: tuple[str, ...] = GROUPS, workers: int = 1
) -> list[Path]:
    """Save every group as PNG and SVG into ``folder``; return the paths written.

    With ``workers`` > 1, the figures are drawn by that many processes other than this one (see
    the module's text), those of :func:`start_figure_workers` if it was called.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    global _started
    pool, _started = _started, None
    if workers <= 1 or len(groups) < 2:
        if pool is not None:
            _end(pool)
        return [p for g in groups for p in _save_group(ens, folder, g)]
    data = FigureData.of(ens, groups)
    processes = min(workers, len(groups))
    pool = pool or _pool(1 if FORK else processes)
    try:
        if FORK:
            paths = pool.submit(_save_shares, data, folder, groups, processes).result()
        else:  # the costliest first, each to the first worker free
            futures = {
                g: pool.submit(_save_group, data, folder, g) for g in sorted(groups, key=cost, reverse=True)
            }
            done = {g: f.result() for g, f in futures.items()}
            paths = [p for g in groups for p in done[g]]
    finally:
        _end(pool)  # idle once the figures are saved: terminated, not shut down in turn
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise RuntimeError(f"figures not written: {', '.join(missing)}")
    return paths


def save_as(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as PNG or SVG by the suffix of ``path``; return ``path``.

    Metadata hold no date or version, so that identical data give identical files. A PNG is
    compressed at zlib level 3, both faster than the default (6) and smaller here, the pixels the
    same, and its text is drawn a string at a time (:func:`sim.png.save_png`). An SVG's text is
    measured once per string and font in a process (:func:`_save_svg`).
    """
    _style()
    if path.suffix == ".png":
        from sim.png import save_png

        save_png(fig, path, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    elif path.suffix == ".svg":
        _save_svg(fig, path, metadata={"Date": None})
    else:
        raise ValueError(f"{path.name}: figures are saved as .png or .svg")
    return path


def _save_svg(fig: Figure, path: Path, **options: Any) -> None:
    """``fig.savefig(path, **options)`` as SVG, each string measured once per process.

    To lay text out, matplotlib's SVG renderer measures every string with FreeType at 100 points
    (``TextToPath.get_text_width_height_descent``), again in every figure: the event key, the
    caption and the tick labels are the same in all seven, and their measures took about a third
    of an SVG's time. The renderer used here remembers them (the same numbers, so the same file).
    It stands in for matplotlib's for the duration of the call only.
    """
    import matplotlib.backends.backend_svg as svg

    with _SVG_LOCK:  # one swap at a time (threads that save at once would undo each other's)
        plain = svg.RendererSVG
        svg.RendererSVG = _measured_svg_renderer(plain)
        try:
            fig.savefig(path, format="svg", **options)
        finally:
            svg.RendererSVG = plain


def _measured_svg_renderer(plain: type) -> type:
    """A subclass of matplotlib's ``RendererSVG`` that remembers the measures of strings."""
    import matplotlib
    from matplotlib.font_manager import findfont

    global _MEASURED
    if _MEASURED is None or _MEASURED.__base__ is not plain:

        class MeasuredRendererSVG(plain):
            def get_text_width_height_descent(self, s, prop, ismath):  # noqa: ANN001, ANN202
                if ismath == "TeX":
                    return super().get_text_width_height_descent(s, prop, ismath)
                # the font file that the settings give the font, and the settings that shape text
                rc = matplotlib.rcParams
                shaping = findfont(prop), rc["text.kerning_factor"], rc["mathtext.fontset"]
                key = (s, prop.copy(), ismath, *shaping)
                if key not in _SVG_METRICS:
                    if len(_SVG_METRICS) > 10_000:  # a long-lived process: forget rather than grow
                        _SVG_METRICS.clear()
                    _SVG_METRICS[key] = super().get_text_width_height_descent(s, prop, ismath)
                return _SVG_METRICS[key]

        _MEASURED = MeasuredRendererSVG
    return _MEASURED


_MEASURED: type | None = None
_SVG_LOCK = threading.Lock()
#: Width, height and descent of strings in SVG figures, by (text, font, math or not).
_SVG_METRICS: dict[tuple, tuple[float, float, float]] = {}


def _style() -> None:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "hedgesim"  # stable ids: identical SVGs for identical data
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, editable, faster
    matplotlib.rcParams["text.hinting"] = "none"  # a quarter faster text, no visible change at this size


def _save_group(ens: Ensemble | FigureData, folder: Path, group: str) -> list[Path]:
    data = FigureData.of(ens, (group,))
    part = _prepared.pop((data.cast(), group), None)  # built by this worker while the runs ran
    fig = fill(part, data) if part is not None else figure(data, group)
    return [save_as(fig, folder / f"{group}.{ext}") for ext in ("png", "svg")]


#: The figures' scaffolds that this worker built while the ensemble ran (:func:`prepare_figures`),
#: by (the scenario's :meth:`FigureData.cast`, group); each used once.
_prepared: dict[tuple, Scaffold] = {}


def prepare_figures(sc: Scenario, groups: tuple[str, ...] = GROUPS) -> None:
    """Have the worker of :func:`start_figure_workers` build the figures of ``sc`` without their
    numbers now (:func:`sim.plots.scaffold`: titles, axes, event lines, the key), while this
    process simulates: about 0.3 s of CPU that the figures no longer take once the numbers are in.
    Nothing when no worker was started, or where several are spawned (each would build them all).
    (Laying the scaffolds out in advance as well, ``Figure.draw_without_rendering``, cost more than
    it saved.)"""
    if _started is not None and FORK:
        _started.submit(_prepare, FigureData.about(sc), groups)


def _prepare(about: FigureData, groups: tuple[str, ...]) -> None:
    import io

    from sim.png import save_png

    _prepared.clear()
    for g in groups:
        part = scaffold(about, g)
        _prepared[(about.cast(), g)] = part
    # The text that every figure shares (the event key, the caption) measured now, once, by saving
    # a spare scaffold: the measures are remembered (sim.png, _save_svg), and a copy forked later
    # has them too.
    if groups:
        spare = scaffold(about, groups[0]).fig
        save_png(spare, io.BytesIO())
        _save_svg(spare, io.BytesIO())


def cost(group: str) -> float:
    """What drawing and saving ``group`` costs, in figures of one panel (:data:`COST`)."""
    return COST.get(group, 1.0)


def shares(groups: tuple[str, ...], processes: int) -> list[list[str]]:
    """``groups`` split among ``processes`` so that they finish about together: the costliest
    first, each to the least loaded (longest processing time first, Graham 1969)."""
    split: list[list[str]] = [[] for _ in range(processes)]
    load = [0.0] * processes
    for g in sorted(groups, key=cost, reverse=True):
        k = load.index(min(load))
        split[k].append(g)
        load[k] += cost(g)
    return [s for s in split if s]


# ---- the worker's side ---------------------------------------------------------------------------
def _save_shares(data: FigureData, folder: Path, groups: tuple[str, ...], processes: int) -> list[Path]:
    """Draw ``groups`` in this process and ``processes`` - 1 forked copies of it, a share each
    (:func:`shares`); return the paths, in the order of ``groups``. Raises the first error of this
    process, else of a copy; waits for every copy first."""
    mine, *theirs = shares(groups, processes)
    copies: dict[int, tuple[int, list[str]]] = {}  # pid: (the read end of its pipe, its share)

    def end_copies(signum: int, frame: object) -> None:  # this worker is ended (_end): its copies too
        for pid in list(copies):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(1)

    previous = signal.signal(signal.SIGTERM, end_copies)
    errors: list[BaseException] = []
    try:
        try:
            for share in theirs:
                _fork(data, folder, share, copies)
            for g in mine:
                _save_group(data, folder, g)
        finally:
            for pid in list(copies):
                read, share = copies[pid]
                error = _reap(pid, read, share)
                del copies[pid]
                if error is not None:
                    errors.append(error)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if errors:
        raise errors[0]
    return [folder / f"{g}.{ext}" for g in groups for ext in ("png", "svg")]


def _fork(data: FigureData, folder: Path, share: list[str], copies: dict[int, tuple[int, list[str]]]) -> None:
    """Fork a copy that draws ``share`` and reports through a pipe; note it in ``copies``. Signals
    wait while it is forked and noted, so that :func:`_save_shares`'s handler knows every copy."""
    read, write = os.pipe()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    parent = os.getpid()
    try:
        pid = os.fork()
        if pid == 0:
            _copy(data, folder, share, read, write, mask, parent)  # never returns
        copies[pid] = (read, share)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _copy(
    data: FigureData, folder: Path, share: list[str], read: int, write: int, mask: set, parent: int
) -> None:
    """A forked copy: draw ``share``, write b"" (or the error) to the pipe, exit 0 (or 1). Never
    returns: whatever happens, it ends in ``os._exit``."""
    code = 1
    try:
        os.close(read)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # Ctrl-C reaches the whole process group: the main process unwinds, and ends the worker,
        # which ends this copy
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _die_with_parent(signal.SIGKILL, parent)
        report = b""
        try:
            for g in share:
                _save_group(data, folder, g)
        except BaseException as e:  # noqa: BLE001 (sent to the parent, which raises it)
            report = _pack(e)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(report)
        code = 0 if not report else 1
    finally:
        os._exit(code)


class RemoteTraceback(Exception):
    """The traceback of an error raised in a figure process (the cause of the error raised here)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _pack(error: BaseException) -> bytes:
    """An error as (its pickle, if it loads again, else None; its traceback as text), pickled."""
    import pickle
    import traceback

    text = "".join(traceback.format_exception(error))
    try:
        blob = pickle.dumps(error)
        pickle.loads(blob)
    except Exception:  # noqa: BLE001 (an error that does not survive pickling: its text will do)
        blob = None
    return pickle.dumps((blob, text))


def _reap(pid: int, read: int, share: list[str]) -> BaseException | None:
    """Wait for a copy; its error (None if it drew its share)."""
    import pickle

    with os.fdopen(read, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if report:
        blob, text = pickle.loads(report)
        error = pickle.loads(blob) if blob is not None else RuntimeError(text.strip().splitlines()[-1])
        error.__cause__ = RemoteTraceback(text)
        return error
    if code:
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return RuntimeError(f"the process drawing the figures {', '.join(share)} stopped ({how})")
    return None


def _die_with_parent(sig: int, parent: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent ``parent`` ends (Linux's
    ``prctl(PR_SET_PDEATHSIG)``), so that no figure process outlives a killed run; elsewhere
    nothing. A parent already gone ends this process now."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def _pool(processes: int) -> ProcessPoolExecutor:
    """A pool of ``processes`` figure workers, started now (:func:`_warm` each).

    Ctrl-C at a terminal reaches the whole process group; this process handles it and ends the
    workers. They start with it ignored (an ignored signal survives fork and exec, and Python then
    installs no handler of its own), so that none prints a traceback, starting or waiting."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(os.getpid(),),
        )
        for _ in range(processes):  # a process pool starts its workers as tasks come
            pool.submit(int)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return pool


def _warm(parent: int) -> None:
    """What a figure worker needs, loaded when it starts rather than at its first figure: the
    modules, the fonts and both backends, with the settings of :func:`save_as` (not the scenario's
    or the model's modules: a worker receives :class:`FigureData`). It ends with ``parent``."""
    import io

    from matplotlib.figure import Figure

    from sim.png import save_png

    _die_with_parent(signal.SIGTERM, parent)  # its handler, while figures are drawn, ends the copies
    _style()
    fig = Figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "0", fontweight="bold")
    fig.add_axes((0.2, 0.2, 0.6, 0.6)).set_ylabel("0")
    save_png(fig, io.BytesIO())
    fig.savefig(io.BytesIO(), format="svg")


_started: ProcessPoolExecutor | None = None


def start_figure_workers(workers: int) -> None:
    """Start the worker(s) of the next :func:`save_figures` with ``workers`` now (none for one),
    so that their start-up (Python, matplotlib, fonts: about 1.3 s of CPU) overlaps the
    simulation instead of following it."""
    global _started
    if workers > 1 and _started is None:
        import atexit

        _started = _pool(1 if FORK else workers)
        atexit.unregister(stop_figure_workers)
        atexit.register(stop_figure_workers)


def stop_figure_workers() -> None:
    """Stop the workers of :func:`start_figure_workers` if no figures used them (a run that stopped
    before its figures), at exit at the latest: a pool left to the interpreter's last clean-up
    prints an error. They are terminated, not shut down in turn: they may still be starting."""
    global _started
    pool, _started = _started, None
    if pool is not None:
        _end(pool)


def _end(pool: ProcessPoolExecutor) -> None:
    """Terminate ``pool``'s processes, whatever they are doing (a worker drawing ends its copies)."""
    if hasattr(pool, "terminate_workers"):  # Python >= 3.14
        pool.terminate_workers()
        return
    for process in list((pool._processes or {}).values()):
        process.terminate()
    pool.shutdown(cancel_futures=True)
