"""Figures that overlay scenarios: one panel per variable, one colour, line style and marker per scenario.

A comparison figure shows a variable group (influence, aid, alignment, hedging, tension) as small
multiples, one panel per variable (China's influence, Japan's, ...), with every scenario's median
and its 50% and 90% bands in the same panel. Scenarios keep one colour, line style and marker
across panels and figures, so the eye follows a scenario, and style and marker tell them apart in
print; each median is thinner than the one drawn before it, so equal medians never hide one another.
Events are numbered as in a run's figures (by date, then file order). Events shared by all
scenarios are grey; an event that some lack is drawn in the colour of the scenario that has it
(or of the one that lacks it, when only one does), and the key says which. The caption names the
scenarios, the seed and the runs. Bands and events come from :mod:`sim.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sim.plots import (
    SERIES,
    draw_key,
    draw_quantiles,
    mark_events,
    plain,
    quarter_x,
    series,
    set_caption,
    style_axes,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.comparison import Comparison

#: Scenario colours (colour-blind safe, Okabe & Ito 2008), line styles and markers. Each scenario's
#: median is also thinner than the one before, and its markers fall on other quarters, so a line
#: that coincides with another never hides it.
SCENARIO_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000"]
SCENARIO_STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]
SCENARIO_MARKERS = ["o", "s", "^", "D", "v", "P"]
STYLE_WORDS = {"-": "solid", "--": "dashed", "-.": "dash-dot", ":": "dotted"}
MARKER_WORDS = {"o": "circles", "s": "squares", "^": "triangles", "D": "diamonds", "v": "triangles down"}


def scenario_style(k: int) -> tuple[str, str | tuple]:
    return SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)], SCENARIO_STYLES[k % len(SCENARIO_STYLES)]


def scenario_line(k: int, n: int, steps: int) -> dict[str, object]:
    """The median's look for scenario ``k`` of ``n``: width falling with k, markers every few
    quarters, offset so that no two scenarios put a marker on the same quarter."""
    every = max(n + 1, steps // 8)
    return {
        "lw": 1.4 + 1.1 * (n - 1 - k),
        "marker": SCENARIO_MARKERS[k % len(SCENARIO_MARKERS)],
        "markersize": 4.5,
        "markevery": (k * max(1, every // n) % every, every),
    }


def event_marks(comp: Comparison) -> tuple[list[tuple[int, str, str | None]], list[str]]:
    """Event labels over every scenario's events, and the lines of the key.

    Events are numbered by date, then in the order of the scenarios' files (as in a run's figures),
    so an event has the same number here and in the first scenario's figures where they share it.
    A step's events that every scenario has are labelled in grey; the others, in the colour of the
    scenario that has them (or, when all but one have them, of the one that does not).
    """
    seen: dict[tuple[int, str], list[int]] = {}
    for k, ens in enumerate(comp.ensembles):
        for step, title, _kind in ens.events:
            who = seen.setdefault((step, title), [])
            if k not in who:
                who.append(k)
    everyone = list(range(len(comp.ensembles)))
    labels: dict[tuple[int, str | None], list[str]] = {}
    key = []
    for n, ((step, title), who) in enumerate(sorted(seen.items(), key=lambda item: item[0][0]), start=1):
        line = f"{n}  {comp.dates[step]}  {plain(title)}"
        colour = None
        if who != everyone:
            missing = [k for k in everyone if k not in who]
            if len(missing) == 1 and len(everyone) > 2:
                line += f"  [not in {comp.labels[missing[0]]}]"
                colour = scenario_style(missing[0])[0]
            else:
                line += f"  [only {', '.join(comp.labels[k] for k in who)}]"
                colour = scenario_style(who[0])[0]
        labels.setdefault((step, colour), []).append(str(n))
        key.append(line)
    return [(step, ",".join(ns), colour) for (step, colour), ns in labels.items()], key


def overlay_figure(comp: Comparison, group: str) -> Figure:
    """One figure of a variable group: a panel per variable, every scenario overlaid in each."""
    first = comp.ensembles[0]
    lines, title, ylabel = series(first, group)
    lines = [ln for ln in lines if ln[0] in comp.variables]
    marks, key = event_marks(comp)
    n = len(comp.ensembles)
    styles = [scenario_style(k) for k in range(n)]
    looks = [scenario_line(k, n, len(comp.dates) - 1) for k in range(n)]
    names = ", ".join(
        f"{lab} ({STYLE_WORDS.get(ls, 'dashed')}, {MARKER_WORDS.get(str(look['marker']), 'markers')})"
        for lab, (_, ls), look in zip(comp.labels, styles, looks, strict=True)
    )
    caption = (
        f"{names}{set_caption(first.scenario)} · seed {comp.seed} · {comp.runs} paired runs each "
        "(common random numbers)\n"
        "lines: medians; bands: middle 50% and 90% of runs"
    )
    fig, axes = grid(f"{title}: {' vs '.join(comp.labels)}", caption, len(lines), key)
    x = quarter_x(comp.dates)
    for ax, (var, label, _) in zip(axes, lines, strict=True):
        for k, ens in enumerate(comp.ensembles):
            colour, ls = styles[k]
            # the exact statistics of the summary: np.quantile's bits, computed once per ensemble
            q = ens.quantiles(var)
            draw_quantiles(ax, x, q, colour, comp.labels[k], linestyle=ls, alpha=0.8, **looks[k])
        style_axes(ax, x, ylabel if ax is axes[0] or len(axes) <= 3 else "", group != "aid")
        # one line: a two-line title would reach into the legend above the panels
        ax.set_title(" ".join(label.split()), fontsize=10, fontweight="bold", loc="left", pad=34)
        mark_events(ax, first, marks)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.78 / fig.get_figheight()),
        fontsize=9,
        frameon=False,
        ncols=len(labels),
        handlelength=3.2,
    )
    return fig


def grid(title: str, caption: str, panels: int, key: list[str]) -> tuple[Figure, list[Axes]]:
    """A figure with a title, a caption, ``panels`` axes in rows of at most three, and an event key.

    Sizes are in inches, as in :func:`sim.plots.layout`.
    """
    from matplotlib.figure import Figure

    cols = min(3, panels)
    rows = -(-panels // cols)
    kcols = 2 if len(key) > 6 else 1
    krows = -(-len(key) // kcols)
    pw, ph, gap_w, gap_h = 3.3, 2.3, 0.75, 1.05
    left, right, top, below = 0.75, 0.25, 1.75, 0.45
    key_h = 0.16 * krows + (0.15 if krows else 0)
    width = left + right + cols * pw + (cols - 1) * gap_w
    width = max(width, 9.0)
    pw = (width - left - right - (cols - 1) * gap_w) / cols
    height = top + rows * ph + (rows - 1) * gap_h + below + key_h
    fig = Figure(figsize=(width, height), dpi=100)
    fig.text(0.5, 1 - 0.12 / height, title, ha="center", va="top", fontsize=12, fontweight="bold")
    fig.text(0.5, 1 - 0.42 / height, caption, ha="center", va="top", fontsize=8, color="#444444")
    axes = []
    for k in range(panels):
        r, c = divmod(k, cols)
        y0 = height - top - (r + 1) * ph - r * gap_h
        axes.append(fig.add_axes(((left + c * (pw + gap_w)) / width, y0 / height, pw / width, ph / height)))
    draw_key(fig, key, kcols, left, key_h)
    return fig, axes


def save_overlays(comp: Comparison, folder: str | Path, groups: tuple[str, ...] = SERIES) -> list[Path]:
    """Save an overlay figure per group as PNG and SVG into ``folder`` (as a run's figures are
    saved: :func:`sim.figure_files.save_as`); return the paths written."""
    from sim.figure_files import save_as

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for group in groups:
        fig = overlay_figure(comp, group)
        paths += [save_as(fig, folder / f"{group}.{ext}") for ext in ("png", "svg")]
    return paths
