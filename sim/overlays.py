"""Figures that overlay scenarios: one panel per variable, one colour and line style per scenario.

A comparison figure shows a variable group (influence, aid, alignment, hedging, tension) as small
multiples, one panel per variable (China's influence, Japan's, ...), with every scenario's median
and its 50% and 90% bands in the same panel. Scenarios keep one colour and one line style across
panels and figures, so the eye follows a scenario, and the line style tells them apart in print.
Events shared by all scenarios are grey dotted lines; an event that only some scenarios have is
drawn in the colour of the (first) scenario that has it, and the key says which. The caption names
the scenarios, the seed and the runs. Bands and events come from :mod:`sim.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sim.plots import GROUPS, draw_bands, draw_key, mark_events, plain, quarter_x, series, style_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.comparison import Comparison

#: Scenario colours (colour-blind safe, Okabe & Ito 2008) and line styles.
SCENARIO_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000"]
SCENARIO_STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]


def scenario_style(k: int) -> tuple[str, str | tuple]:
    return SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)], SCENARIO_STYLES[k % len(SCENARIO_STYLES)]


def event_marks(comp: Comparison) -> tuple[dict[int, str], dict[int, str], list[str]]:
    """Numbers per step, colours per step and the lines of the key, over every scenario's events."""
    seen: dict[tuple[int, str], list[int]] = {}
    for k, ens in enumerate(comp.ensembles):
        for step, title, _kind in ens.events:
            seen.setdefault((step, title), [])
            if k not in seen[(step, title)]:
                seen[(step, title)].append(k)
    numbers: dict[int, list[str]] = {}
    colours: dict[int, str] = {}
    key = []
    everyone = list(range(len(comp.ensembles)))
    for n, ((step, title), who) in enumerate(sorted(seen.items()), start=1):
        numbers.setdefault(step, []).append(str(n))
        line = f"{n}  {comp.dates[step]}  {plain(title)}"
        if who != everyone:
            line += f"  [only {', '.join(comp.labels[k] for k in who)}]"
            colours[step] = scenario_style(who[0])[0]
        key.append(line)
    return {s: ",".join(ns) for s, ns in numbers.items()}, colours, key


def overlay_figure(comp: Comparison, group: str) -> Figure:
    """One figure of a variable group: a panel per variable, every scenario overlaid in each."""
    first = comp.ensembles[0]
    lines, title, ylabel = series(first, group)
    lines = [ln for ln in lines if ln[0] in comp.variables]
    numbers, colours, key = event_marks(comp)
    styles = [scenario_style(k) for k in range(len(comp.ensembles))]
    words = {"-": "solid", "--": "dashed", "-.": "dash-dot", ":": "dotted"}
    names = ", ".join(
        f"{lab} ({words.get(ls, 'dashed')})" for lab, (_, ls) in zip(comp.labels, styles, strict=True)
    )
    caption = (
        f"{names} · seed {comp.seed} · {comp.runs} paired runs each (common random numbers)\n"
        "lines: medians; bands: middle 50% and 90% of runs"
    )
    fig, axes = grid(f"{title}: {' vs '.join(comp.labels)}", caption, len(lines), key)
    x = quarter_x(comp.dates)
    for ax, (var, label, _) in zip(axes, lines, strict=True):
        for k, ens in enumerate(comp.ensembles):
            colour, ls = styles[k]
            draw_bands(ax, x, ens.values(var), colour, comp.labels[k], linestyle=ls, alpha=0.8)
        style_axes(ax, x, ylabel if ax is axes[0] or len(axes) <= 3 else "", group != "aid")
        ax.set_title(label, fontsize=10, fontweight="bold", loc="left", pad=34)
        mark_events(ax, first, numbers, colours)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.78 / fig.get_figheight()),
        fontsize=9,
        frameon=False,
        ncols=len(labels),
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


def save_overlays(comp: Comparison, folder: str | Path, groups: tuple[str, ...] = GROUPS) -> list[Path]:
    """Save an overlay figure per group as PNG and SVG into ``folder``; return the paths written."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "hedgesim"
    matplotlib.rcParams["svg.fonttype"] = "none"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for group in groups:
        fig = overlay_figure(comp, group)
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None})):
            path = folder / f"{group}.{ext}"
            fig.savefig(path, metadata=meta)
            paths.append(path)
    return paths
