"""What the figures say: event numbers, steps at quarterly values, lines and labels that stay visible."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pytest
from matplotlib.text import Text

import sim
from sim.overlays import event_marks, overlay_figure
from sim.plots import event_key, figure

from .conftest import SCENARIOS

GREY = "#555555"


@pytest.fixture(scope="module")
def three():
    names = ["csp2023", "no_ream", "no_criticism"]
    return sim.compare([SCENARIOS / f"{n}.toml" for n in names], runs=8)


def _medians(ax):
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def _labels(ax) -> dict[str, str]:
    """Event labels at the top of a panel: text -> colour."""
    return {t.get_text(): mcolors.to_hex(t.get_color()) for t in ax.texts}


def test_event_numbers_are_the_same_in_a_run_and_a_comparison(three):
    """Events in the same quarter (2023Q3 has three) are numbered in the same order in both."""
    _, run_key = event_key(three.ensembles[0])
    _, comp_key = event_marks(three)
    assert [line.split("  [")[0] for line in comp_key] == run_key


def test_events_shared_by_all_three_are_drawn_as_shared(three):
    marks, key = event_marks(three)
    shared = next(n for n, line in enumerate(key, 1) if "Japan recognises the election result" in line)
    assert "[" not in key[shared - 1]  # every scenario has it
    labels = _labels(overlay_figure(three, "influence").axes[0])
    [grey] = [text for text in labels if str(shared) in text.split(",")]
    assert labels[grey] == GREY, "a shared event is labelled in a scenario's colour"
    only = next(line for line in key if "Chinese corvettes at Ream" in line)
    assert only.endswith("[not in no_ream]")


def test_no_scenario_line_hides_another(three):
    fig = overlay_figure(three, "hedging")
    for ax in fig.axes:
        lines = _medians(ax)
        assert len(lines) == 3
        looks = {(str(ln.get_linestyle()), ln.get_marker()) for ln in lines}
        assert len(looks) == 3, "two scenarios drawn alike"
        widths = [ln.get_linewidth() for ln in lines]
        assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3, widths  # each on top thinner
        marks = [
            set(range(ln.get_markevery()[0], len(ln.get_xdata()), ln.get_markevery()[1])) for ln in lines
        ]
        assert not (marks[0] & marks[1] or marks[0] & marks[2] or marks[1] & marks[2])


def test_a_comparisons_legend_clears_the_panel_titles(three):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = overlay_figure(three, "hedging")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # titles take their place when drawn
    renderer = canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        text = ax.get_title(loc="left")
        [title] = [t for t in ax.get_children() if isinstance(t, Text) and t.get_text() == text]
        assert not legend.overlaps(title.get_window_extent(renderer)), text
        assert "\n" not in text


def test_quarterly_values_are_drawn_as_steps(three):
    """A value holds until the next quarter: an effect shows at its event's date, not a quarter early."""
    for fig in (figure(three.ensembles[0], "alignment"), overlay_figure(three, "alignment")):
        for ax in fig.axes:
            assert {ln.get_drawstyle() for ln in _medians(ax)} == {"steps-post"}
