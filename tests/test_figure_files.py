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
from sim.plots import GROUPS, FigureData, cost, figure, save_as, save_figures, shares
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


def test_figure_data_holds_what_the_figures_draw_and_no_more(ens, tmp_path):
    """A figure from :class:`FigureData` is the figure from the ensemble, byte for byte; the data
    are the quantiles of the variables drawn, in as many bytes whatever the number of runs."""
    import pickle

    data = FigureData.of(ens, GROUPS)
    for group in ("tension", "dimensions"):
        save_as(figure(ens, group), tmp_path / f"{group}-ens.png")
        save_as(figure(data, group), tmp_path / f"{group}-data.png")
        assert (tmp_path / f"{group}-ens.png").read_bytes() == (tmp_path / f"{group}-data.png").read_bytes()
    drawn = {v for g in ("influence", "hedging") for v in FigureData.of(ens, (g,)).drawn}
    assert drawn == {v for v in ens.variables if v.endswith(".influence")} | {
        v for v in ens.variables if ".hedging" in v or v.endswith(".diversification")
    }
    assert all(np.array_equal(data.quantiles(v), ens.quantiles(v)) for v in data.drawn)
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


def test_an_error_in_a_forked_figure_process_reaches_the_caller(ens, tmp_path):
    """A figure that fails in a copy of the worker fails the call, with its own error, after the
    others are saved."""
    import pickle
    import subprocess
    import sys

    blob = pickle.dumps(FigureData.of(ens, ("aid",)))
    code = (
        "import pickle, sys; from pathlib import Path; from sim.plots import _save_shares; "
        "d = pickle.loads(sys.stdin.buffer.read()); "
        f"_save_shares(d, Path({str(tmp_path)!r}), ('aid', 'no-such-group'), 2)"
    )
    res = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True)
    assert res.returncode == 1
    assert (
        res.stderr.decode().strip().splitlines()[-1].startswith("ValueError: unknown group 'no-such-group'")
    )
    assert (tmp_path / "aid.png").exists()


@pytest.mark.slow
def test_figures_drawn_in_a_worker_are_the_figures_drawn_here(ens, tmp_path):
    one = save_figures(ens, tmp_path / "one", groups=("aid", "policy", "hedging"))
    two = save_figures(ens, tmp_path / "two", groups=("aid", "policy", "hedging"), workers=2)
    assert [p.name for p in one] == [p.name for p in two]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))


def test_unused_figure_workers_are_ended_not_waited_for():
    """A run refused after its figure worker started (too large, say) exits at once."""
    import time

    import sim.plots

    sim.plots.start_figure_workers(2)
    pool = sim.plots._started
    processes = list(pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    began = time.perf_counter()
    sim.plots.stop_figure_workers()
    assert time.perf_counter() - began < 1.0  # a worker still importing matplotlib takes longer
    assert sim.plots._started is None and not any(p.is_alive() for p in processes)


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
    data = replace(data, names={k: f"${v}$" for k, v in data.names.items()}, title="A $2 $3 deal")
    for group in GROUPS:
        fig = figure(data, group)
        texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
        dollars = [t for t in texts if "$" in t]
        assert dollars and not [t for t in dollars if re.search(r"(?<!\\)\$", t)], group
