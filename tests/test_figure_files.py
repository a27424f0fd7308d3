"""How a run's figures are saved: PNG text drawn a string at a time, files that repeat, the split of
the figures between this process and a worker."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

import sim
from sim.plots import COST, GROUPS, figure, save_as, save_figures, split_by_cost
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


def test_split_by_cost_gives_each_figure_once_and_balances():
    """This process has drawn figures before (backend_agg is imported), so it pays no start-up."""
    local, remote = split_by_cost(GROUPS, 1)
    assert sorted(local + remote) == sorted(GROUPS) and not set(local) & set(remote)
    assert list(local) == [g for g in GROUPS if g in local]  # in the caller's order
    cost = {g: COST.get(g, 1.0) for g in GROUPS}
    here, there = sum(cost[g] for g in local), sum(cost[g] for g in remote)
    assert abs(here - there) <= max(cost.values())
    assert {"policy", "dimensions"} & set(local) and {"policy", "dimensions"} & set(remote)
    # three workers take more than one would, and every figure still once
    local3, remote3 = split_by_cost(GROUPS, 3)
    assert len(remote3) > len(remote) and sorted(local3 + remote3) == sorted(GROUPS)


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
