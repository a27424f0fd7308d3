"""How a run's figures are saved: PNG text drawn a string at a time, files that repeat, figures drawn
by worker processes from the little data they need."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

import sim
import sim.chunks
import sim.figure_files
from sim.figure_files import cost, save_as, save_figures, shares
from sim.plots import GROUPS, FigureData, figure
from sim.png import save_png

from .conftest import SCENARIOS


@pytest.fixture(scope="module")
def ens():
    return sim.run(sim.load_scenario(SCENARIOS / "csp2023.toml"), runs=20, seed=3, progress=False)


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)


def _text_figure() -> Figure:
    fig = Figure(figsize=(4, 2), dpi=100)
    fig.text(0.05, 0.8, "2023Q3  Japan recognises the election result", fontsize=7)
    fig.text(0.5, 0.5, "Bold title", fontsize=12, fontweight="bold", ha="center")
    fig.text(0.02, 0.1, "level (0 to 1)", rotation=90, fontsize=10)
    return fig


def test_png_text_drawn_whole_looks_as_matplotlib_draws_it():
    """Same ink in the same places as matplotlib's own drawing, to within a pixel."""
    fig = _text_figure()
    ours = io.BytesIO()
    save_png(fig, ours)
    theirs = io.BytesIO()
    FigureCanvasAgg(_text_figure()).print_png(theirs)
    a, b = _pixels(ours.getvalue()), _pixels(theirs.getvalue())
    assert a.shape == b.shape
    ink_a, ink_b = 255 - a, 255 - b
    assert ink_a.sum() > 1000 and abs(ink_a.sum() - ink_b.sum()) < 0.05 * ink_b.sum()  # every string drawn
    # where the ink is: its centre in each band of rows and columns within a pixel
    for axis in (0, 1):
        for band in np.array_split(np.arange(a.shape[axis]), 4):
            wa, wb = ink_a.take(band, axis).sum(1 - axis), ink_b.take(band, axis).sum(1 - axis)
            if wb.sum() > 100:
                idx = np.arange(len(wa))
                assert abs((idx * wa).sum() / wa.sum() - (idx * wb).sum() / wb.sum()) < 1.0
    assert fig.canvas is not None and not isinstance(fig.canvas, FigureCanvasAgg)  # canvas given back


def test_figures_repeat_byte_for_byte(ens, tmp_path):
    fig = figure(ens, "tension")
    for k in (1, 2):
        save_as(fig, tmp_path / f"a{k}.png")
        save_as(figure(ens, "tension"), tmp_path / f"a{k}.svg")
    assert (tmp_path / "a1.png").read_bytes() == (tmp_path / "a2.png").read_bytes()
    assert (tmp_path / "a1.svg").read_bytes() == (tmp_path / "a2.svg").read_bytes()


def test_svg_text_measured_once_gives_matplotlibs_own_file(ens, tmp_path):
    """An SVG whose strings' measures are remembered (sim.figure_files._save_svg) is the file that
    matplotlib's own renderer writes, byte for byte, with the measures new or remembered; and
    matplotlib's renderer is in place again after each save."""
    import matplotlib.backends.backend_svg as svg

    plain = svg.RendererSVG
    sim.figure_files._SVG_METRICS.clear()
    sim.figure_files._style()
    figure(ens, "aid").savefig(tmp_path / "theirs.svg", format="svg", metadata={"Date": None})
    for k in (1, 2):  # first with the measures new, then remembered
        save_as(figure(ens, "aid"), tmp_path / f"ours{k}.svg")
        assert svg.RendererSVG is plain
    assert len(sim.figure_files._SVG_METRICS) > 20  # the key, the caption, titles, ticks
    theirs = (tmp_path / "theirs.svg").read_bytes()
    assert (tmp_path / "ours1.svg").read_bytes() == theirs
    assert (tmp_path / "ours2.svg").read_bytes() == theirs


def test_event_lines_and_numbers_are_drawn(ens):
    """One line per event date (a collection), one number label per date, above the axes."""
    _, key = sim.plots.event_key(ens)
    dates = {step for step, _, _ in ens.events}
    fig = figure(ens, "influence")
    [ax] = fig.axes
    [lines] = [c for c in ax.collections if c.get_linestyle()[0][1] is not None]  # the dotted one
    assert len(lines.get_segments()) == len(dates)
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == len(dates) and sorted(int(n) for t in labels for n in t.split(",")) == list(
        range(1, len(key) + 1)
    )


def test_figure_data_holds_what_the_figures_draw_and_no_more(ens):
    """The facts of the captions and keys, and the quantiles of the variables drawn, in as many
    bytes whatever the number of runs."""
    import pickle

    data = FigureData.of(ens, GROUPS)
    sc = ens.scenario
    assert (data.small, data.powers, data.title, data.name) == (
        sc.small,
        tuple(sc.powers),
        sc.scenario.title,
        sc.name,
    )
    assert data.names == {k: a.name for k, a in sc.actors.items()}
    assert (data.seed, data.runs, data.dates, data.events) == (ens.seed, ens.runs, ens.dates, ens.events)
    other = sim.run(sc.with_overrides(inertia=0.3), runs=2, seed=1, progress=False)
    assert FigureData.of(other).settings == " with --set inertia=0.3" and data.settings == ""
    drawn = {v for g in ("influence", "hedging") for v in FigureData.of(ens, (g,)).drawn}
    assert drawn == {v for v in ens.variables if v.endswith(".influence")} | {
        v for v in ens.variables if ".hedging" in v or v.endswith(".diversification")
    }
    assert all(np.array_equal(data.quantiles(v), ens.quantiles(v)) for v in data.drawn)
    with pytest.raises(ValueError, match="lacks"):
        figure(FigureData.of(ens, ("aid",)), "influence")
    quantiles = 8 * 5 * len(ens.dates) * len(data.drawn)  # bytes, whatever the number of runs
    assert quantiles < len(pickle.dumps(data)) < quantiles + 10_000


def test_figure_data_loads_without_the_scenario_or_the_model(ens):
    """A figure worker that receives FigureData imports neither pydantic's scenario nor Mesa."""
    import pickle
    import subprocess
    import sys

    blob = pickle.dumps(FigureData.of(ens, ("aid",)))
    code = (
        "import pickle, sys; d = pickle.loads(sys.stdin.buffer.read()); "
        "print(d.runs, sorted(m for m in ('sim.scenario', 'mesa', 'pydantic', 'sim.ensemble') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True).stdout
    assert out.decode().split(None, 1) == [str(ens.runs), "[]\n"]


def test_figures_are_shared_costliest_first_and_each_once():
    """Three panels cost about twice one; each process gets about as much to draw."""
    order = sorted(GROUPS, key=cost, reverse=True)
    assert order[:2] == ["policy", "dimensions"] and order[2] == "tension"
    for processes in (1, 2, 3):
        split = shares(GROUPS, processes)
        assert len(split) == processes and sorted(sum(split, [])) == sorted(GROUPS)
        loads = [sum(cost(g) for g in share) for share in split]
        assert max(loads) - min(loads) <= max(cost(g) for g in GROUPS)
    assert shares(("aid",), 2) == [["aid"]]  # no process without a figure


#: A figure worker's drawing of ("aid", "broken") in two processes, the figure "broken" failing
#: as the first argument says; prints the error, its cause and whether SIGTERM's handler is back.
SHARES = """
import os, pickle, signal, sys
from pathlib import Path
import sim.figure_files as ff
mode, folder = sys.argv[1], Path(sys.argv[2])
draw = ff._save_group
class Odd(Exception):  # pickles, but does not load again
    def __init__(self, a, b):
        super().__init__(a + b)
def fake(data, folder, group):
    if group != "broken":
        return draw(data, folder, group)
    if mode == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "unpicklable":
        raise Odd("one", "two")
    raise ValueError("no figure here")
ff._save_group = fake
data = pickle.loads(sys.stdin.buffer.read())
groups = ("broken", "aid") if mode == "own" else ("aid", "broken")  # the first is this process's
try:
    ff._save_shares(data, folder, groups, 2)
except BaseException as e:
    print(f"{type(e).__name__}: {e}|{type(e.__cause__).__name__}|{signal.getsignal(signal.SIGTERM) is signal.SIG_DFL}")
"""


@pytest.mark.skipif(not sim.figure_files.FORK, reason="figures are drawn in forked copies on Linux only")
@pytest.mark.parametrize(
    "mode, expected",
    [
        ("error", "ValueError: no figure here|RemoteTraceback|True"),
        ("unpicklable", "RuntimeError: Odd: onetwo|RemoteTraceback|True"),
        ("killed", "RuntimeError: the process drawing the figures broken stopped (signal 9)|NoneType|True"),
        ("own", "ValueError: no figure here|NoneType|True"),
    ],
)
def test_a_figure_that_fails_in_any_process_fails_the_call(ens, tmp_path, mode, expected):
    """An error in a forked copy is raised by the worker with the copy's traceback as its cause
    (as text when the error cannot be loaded again); a copy that dies without a word is an error
    too; an error of the worker's own share waits for its copy. The other figure is saved, and the
    worker's SIGTERM handler is restored."""
    import pickle
    import subprocess
    import sys

    blob = pickle.dumps(FigureData.of(ens, ("aid",)))
    res = subprocess.run(
        [sys.executable, "-c", SHARES, mode, str(tmp_path)], input=blob, capture_output=True, check=True
    )
    assert res.stdout.decode().strip() == expected
    assert (tmp_path / "aid.png").is_file() and (tmp_path / "aid.svg").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("fork", [True, False])
def test_figures_drawn_in_other_processes_are_the_figures_drawn_here(ens, tmp_path, monkeypatch, fork):
    """Forked copies of one worker (Linux), or as many spawned workers (elsewhere)."""
    if fork and not sim.figure_files.FORK:
        pytest.skip("figures are drawn in forked copies on Linux only")
    monkeypatch.setattr(sim.figure_files, "FORK", fork)
    groups = ("aid", "policy", "hedging")
    one = save_figures(ens, tmp_path / "one", groups=groups)
    two = save_figures(ens, tmp_path / "two", groups=groups, workers=2)
    assert [p.name for p in one] == [p.name for p in two]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))


def test_unused_figure_workers_are_ended_not_waited_for():
    """A run refused after its figure worker started (too large, say) exits at once."""
    import time

    sim.figure_files.start_figure_workers(2)
    pool = sim.figure_files._started
    processes = list(pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    began = time.perf_counter()
    sim.figure_files.stop_figure_workers()
    assert time.perf_counter() - began < 2.0  # a worker still importing matplotlib takes longer
    assert sim.figure_files._started is None and not any(p.is_alive() for p in processes)


def test_figure_workers_leave_ctrl_c_to_this_process():
    """Ctrl-C at a terminal reaches the whole process group: the figure workers ignore it from
    their start (no traceback from a worker importing or waiting), and this process keeps its own
    handler."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    pool = sim.figure_files._pool(1)
    try:
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
    finally:
        sim.figure_files._end(pool)
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask


def test_png_text_falls_back_to_matplotlib_when_its_internals_move(monkeypatch):
    """A matplotlib whose private renderer methods changed still gets every string drawn, by its
    own path."""
    import sim.png

    canvas = sim.png._canvas_class()
    if canvas is None:
        pytest.skip("this matplotlib draws each string in one pass itself: sim.png is not used")
    monkeypatch.setattr(sim.png, "_broken", False)
    fig = _text_figure()

    def moved(*args):
        raise AttributeError("'RendererAgg' object has no attribute '_prepare_font'")

    monkeypatch.setattr(type(canvas(fig).get_renderer()), "_draw_string", moved)
    ours = io.BytesIO()
    save_png(fig, ours)
    assert sim.png._broken
    theirs = io.BytesIO()
    FigureCanvasAgg(_text_figure()).print_png(theirs)
    assert np.array_equal(_pixels(ours.getvalue()), _pixels(theirs.getvalue()))  # matplotlib's own


def test_names_with_dollars_are_drawn_as_written(ens):
    """A name with dollars is never read as mathtext: every text of every figure escapes them."""
    import re
    from dataclasses import replace

    data = FigureData.of(ens, GROUPS)
    data = replace(
        data,
        names={k: f"${v}$" for k, v in data.names.items()},
        title="A $2 $3 deal",
        name="$x$",
        settings=" with --set actors.cambodia.name=$a$",
    )
    for group in GROUPS:
        fig = figure(data, group)
        texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
        dollars = [t for t in texts if "$" in t]
        assert dollars and not [t for t in dollars if re.search(r"(?<!\\)\$", t)], group
        assert not [t for t in dollars if "\\\\" in t], group  # escaped once, not twice
    texts = [t.get_text() for t in figure(data, "tension").findobj(lambda a: hasattr(a, "get_text"))]
    assert "with \\$Cambodia\\$" in texts


@pytest.mark.skipif(sim.chunks.cores() < 2, reason="with one core, this process draws the figures")
def test_a_run_draws_its_figures_without_loading_matplotlib_here(tmp_path):
    """`hedgesim run` leaves matplotlib to its figure processes (its import is a second of CPU)."""
    import subprocess
    import sys

    code = (
        "import sys; from sim.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    print(e.code)\n"
        "print('matplotlib' in sys.modules)"
    )
    args = ["run", str(SCENARIOS / "csp2023.toml"), "--runs", "5", "--out", str(tmp_path / "r"), "-q"]
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, check=True)
    assert res.stdout.decode().split() == ["0", "False"]
    assert len(list((tmp_path / "r" / "figures").glob("*.png"))) == len(GROUPS)


def test_a_scaffold_built_before_the_numbers_gives_the_same_files(ens, tmp_path):
    """A figure worker builds each figure's scaffold from the scenario alone while the ensemble
    runs; filled with the numbers, it saves the same bytes as the figure built in one go, PNG and
    SVG, for every group."""
    from sim.figure_files import _prepare, _prepared, _save_group

    data = FigureData.of(ens, GROUPS)
    for group in GROUPS:
        for ext in ("png", "svg"):
            save_as(figure(data, group), tmp_path / f"direct-{group}.{ext}")
    _prepare(FigureData.about(ens.scenario), GROUPS)
    assert len(_prepared) == len(GROUPS)
    folder = tmp_path / "prepared"
    folder.mkdir()
    for group in GROUPS:
        _save_group(data, folder, group)
    assert not _prepared  # each scaffold used once
    for group in GROUPS:
        for ext in ("png", "svg"):
            direct = (tmp_path / f"direct-{group}.{ext}").read_bytes()
            assert (folder / f"{group}.{ext}").read_bytes() == direct, (group, ext)
