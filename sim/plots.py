"""Figures of an ensemble over time: the median with its 50% and 90% bands, events marked.

Each figure is one group of variables, or several side by side (see :data:`GROUPS`). Lines are
medians over runs; the darker band holds the middle 50% of runs, the lighter one the middle 90%.
Events are dotted lines numbered at the top and listed under the plot; the caption names the
scenario, the seed and the number of runs, so a figure can always be traced back to its run.
Figures use matplotlib's object API (no pyplot state), so they are safe in notebooks and servers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from sim.ensemble import Ensemble
    from sim.scenario import Scenario

#: Colours by actor position (powers first, then the rest), colour-blind safe (Okabe & Ito 2008).
PALETTE = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: Colours for dyads of two powers (dyads with the small state take the power's colour).
DYAD_COLOURS = ["#E69F00", "#56B4E9", "#555555", "#999933", "#882255", "#44AA99"]
#: Groups of variables with one line each: what the powers did, what followed, how the small state
#: hedged (the figures of a comparison, one per group).
SERIES = (
    "influence",
    "aid",
    "presence",
    "pressure",
    "engagement",
    "alignment",
    "alignment_economic",
    "alignment_security",
    "alignment_diplomatic",
    "hedging",
    "tension",
)
#: The figures of a run; a figure of several groups draws them as panels side by side.
PANELS = {
    "policy": ("presence", "pressure", "engagement"),
    "dimensions": ("alignment_economic", "alignment_security", "alignment_diplomatic"),
}
GROUPS = ("influence", "aid", "policy", "alignment", "dimensions", "hedging", "tension")
#: Titles and y labels of the groups with one line per power: {group: (title, y label)}.
_PER_POWER = {
    "influence": ("Influence of each power over {s}", "influence (0 to 1)"),
    "aid": ("Aid committed by each power to {s}, as disbursed", "USD million per quarter"),
    "presence": ("Security presence of each power in {s}: its choice and the events", "presence (0 to 1)"),
    "pressure": ("Governance pressure each power puts on {s}", "pressure (0 to 1)"),
    "engagement": ("Diplomatic engagement of each power with {s}", "engagement (0 to 1)"),
    "alignment": ("{s}'s alignment toward each power, mean of three dimensions", "share (sums to 1)"),
}


@dataclass(frozen=True)
class FigureData:
    """What the figures of an ensemble draw, and nothing more: names, dates, events, the caption's
    facts and the quantiles of the variables drawn.

    Small (tens of KB, against the megabytes of the runs) and plain, so that a figure worker
    receives it at once and needs neither the scenario's validation (pydantic) nor the model (Mesa)
    to read it. Build one with :meth:`of`; every function here that takes an ensemble takes one too.
    :meth:`about` a scenario alone (no seed, runs or numbers yet) is enough for :func:`scaffold`.
    """

    small: str
    powers: tuple[str, ...]
    names: dict[str, str]  # actor key: its name, as written
    title: str  # the scenario's title
    name: str  # the scenario's name
    settings: str  # " with --set ..." for a scenario with overrides, else ""
    dates: list[str]
    events: list[tuple[int, str, str]]  # (step, title, kind), in date order
    dyads: tuple[tuple[str, str], ...]  # the pairs of actors whose tension is an output
    seed: int | None = None
    runs: int | None = None
    drawn: dict[str, np.ndarray] = field(default_factory=dict)  # variable: p05 ... p95 by date

    @classmethod
    def of(cls, ens: Ensemble | FigureData, groups: tuple[str, ...] = ()) -> FigureData:
        """The figure data of ``ens``, with the quantiles of every variable that ``groups`` draw."""
        if isinstance(ens, FigureData):
            base = ens
        else:
            base = replace(cls.about(ens.scenario), seed=ens.seed, runs=ens.runs)
        wanted = {v for g in groups for part in PANELS.get(g, (g,)) for v, _, _ in series(base, part)[0]}
        if wanted <= base.drawn.keys():
            return base
        if isinstance(ens, FigureData):
            missing = sorted(wanted - ens.drawn.keys())
            raise ValueError(
                f"this FigureData lacks {missing}: build it with FigureData.of(ensemble, groups)"
            )
        return replace(base, drawn={v: ens.quantiles(v) for v in sorted(wanted)})

    @classmethod
    def about(cls, sc: Scenario) -> FigureData:
        """What a scenario alone tells its figures: everything but the seed, the runs and the numbers."""
        return cls(
            small=sc.small,
            powers=tuple(sc.powers),
            names={k: a.name for k, a in sc.actors.items()},
            title=sc.scenario.title,
            name=sc.name,
            settings=set_caption(sc),
            dates=list(sc.dates),
            events=sc.marked_events(),
            dyads=tuple(sc.context().dyads),
        )

    def cast(self) -> tuple:
        """The facts that fix a figure's scaffolding (:func:`scaffold`), hashable."""
        return (
            self.small, self.powers, tuple(self.names.items()), self.title, self.name, self.settings,
            tuple(self.dates), tuple(self.events), self.dyads,
        )  # fmt: skip

    def quantiles(self, name: str) -> np.ndarray:
        """p05, p25, p50, p75 and p95 of a drawn variable at each date, shape (5, dates)."""
        return self.drawn[name]


def quarter_x(dates: list[str]) -> np.ndarray:
    """Decimal years for "2023Q3"-style dates (2023.5)."""
    return np.array([int(d[:4]) + (int(d[-1]) - 1) / 4 for d in dates])


def plain(text: str) -> str:
    """Text from a scenario drawn as written: ``$`` escaped, so that matplotlib never reads it as
    mathtext (two dollars in a title would be typeset, or fail to parse and stop the run)."""
    return text.replace("$", r"\$")


def series(ens: Ensemble | FigureData, group: str) -> tuple[list[tuple[str, str, str]], str, str]:
    """The lines of a figure: [(variable, label, colour)], its title and its y-axis label."""
    about = FigureData.of(ens)
    powers, small = about.powers, about.small
    name = {k: plain(n) for k, n in about.names.items()}
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate([*powers, small])}
    sname = name[small]
    if group in _PER_POWER:
        title, ylabel = _PER_POWER[group]
        pattern = f"{small}.alignment.{{p}}" if group == "alignment" else f"{{p}}.{group}"
        return [(pattern.format(p=p), name[p], colour[p]) for p in powers], title.format(s=sname), ylabel
    if group.startswith("alignment_"):
        dim = group.removeprefix("alignment_")
        lines = [(f"{small}.alignment.{dim}.{p}", name[p], colour[p]) for p in powers]
        return lines, f"{sname}'s {dim} alignment toward each power", "share (sums to 1)"
    if group == "hedging":
        lines = [
            (f"{small}.hedging_index", "hedging index\n(mean of the three parts)", "#333333"),
            # colours of their own, not the powers' (the parts belong to the small state)
            (f"{small}.hedging.divergence", "divergence\n(economic vs security)", "#882255"),
            (f"{small}.hedging.ambiguity", "ambiguity\n(of security alignment)", "#44AA99"),
            (f"{small}.hedging.fallback", "fallback\n(ties with every side)", "#999933"),
            (f"{small}.diversification", "diversification\n(evenness of alignment)", "#999999"),
        ]
        return lines, f"{sname}: hedging and its parts", "index (0 to 1)"
    if group == "tension":
        dyads = sorted(f"tension.{a}-{b}" for a, b in about.dyads)
        spare = iter(DYAD_COLOURS * 4)
        lines = []
        for v in dyads:
            a, b = v.removeprefix("tension.").split("-")
            # a dyad with the small state takes the power's colour; a dyad of powers a colour of its own
            c = colour[b if a == small else a] if small in (a, b) else next(spare)
            lines.append((v, f"{name[a]} - {name[b]}", c))
        return lines, "Tension between actors", "tension (0 to 1)"
    raise ValueError(f"unknown group {group!r}; expected one of {SERIES}")


def draw_bands(
    ax: Axes,
    x: np.ndarray,
    values: np.ndarray,
    colour: str,
    label: str,
    linestyle: str | tuple = "-",
    alpha: float = 1.0,
    **line: object,
) -> None:
    """Median line with 50% and 90% bands of ``values`` (runs x dates)."""
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    draw_quantiles(ax, x, q, colour, label, linestyle, alpha, **line)


def draw_quantiles(
    ax: Axes,
    x: np.ndarray,
    q: np.ndarray,
    colour: str,
    label: str,
    linestyle: str | tuple = "-",
    alpha: float = 1.0,
    **line: object,
) -> None:
    """Median line with 50% and 90% bands, from the rows p05, p25, p50, p75, p95 of ``q``.

    Values are quarterly: each is drawn as a step that holds until the next quarter, so a change
    shows at the date where it is recorded (an event's date), not a quarter before as a straight
    line from the previous value would. ``line``: more options of the median line (marker, lw).
    """
    q05, q25, q50, q75, q95 = q
    if np.isnan(q).any():  # fill_between leaves gaps where a value is missing
        ax.fill_between(x, q05, q95, color=colour, alpha=0.12 * alpha, linewidth=0, step="post")
        ax.fill_between(x, q25, q75, color=colour, alpha=0.28 * alpha, linewidth=0, step="post")
    else:  # both bands in one collection: the same polygons, half the artists
        from matplotlib.collections import PolyCollection
        from matplotlib.colors import to_rgba

        # steps that hold each value until the next quarter, as drawstyle="steps-post"
        xs = np.repeat(x, 2)[1:]
        bands = [(np.repeat(lo, 2)[:-1], np.repeat(hi, 2)[:-1]) for lo, hi in ((q05, q95), (q25, q75))]
        polygons = [np.column_stack([np.r_[xs, xs[::-1]], np.r_[lo, hi[::-1]]]) for lo, hi in bands]
        faces = [to_rgba(colour, 0.12 * alpha), to_rgba(colour, 0.28 * alpha)]
        ax.add_collection(PolyCollection(polygons, facecolors=faces, edgecolors="none", linewidths=0))
    options = {"lw": 2, **line}
    ax.plot(
        x, q50, color=colour, label=label, linestyle=linestyle, alpha=alpha, drawstyle="steps-post", **options
    )


def mark_events(
    ax: Axes, ens: Ensemble | FigureData, marks: dict[int, str] | list[tuple[int, str, str | None]]
) -> None:
    """Dotted lines at event dates, numbered at the top of the axes (staggered when close).

    ``marks``: (step, numbers, colour) for each label, or {step: numbers}; a colour (default grey)
    marks events of only some scenarios. A step may have several labels (shared events in grey,
    the others in colour), stacked above each other.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.transforms import ScaledTranslation

    x = quarter_x(ens.dates)
    lo, hi = ax.get_xlim()
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    if isinstance(marks, dict):
        marks = [(step, label, None) for step, label in marks.items()]
    grey = "#777777"
    steps = sorted({m[0] for m in marks})
    colours = [next((c for s, _, c in marks if s == step and c), grey) for step in steps]
    # one collection for all the lines (x in data, y from the bottom to the top of the axes)
    lines = LineCollection(
        [[(x[step], 0), (x[step], 1)] for step in steps],
        colors=colours,
        linewidths=[0.8 if c == grey else 1.4 for c in colours],
        linestyles=":",
        zorder=0,
        transform=ax.get_xaxis_transform(),
    )
    ax.add_collection(lines, autolim=False)
    last_end, level = -np.inf, 0
    for step, label, colour in sorted(marks, key=lambda m: (m[0], m[2] is not None)):
        # half the label's width in data units (~0.07 in per character at 7 pt, plus a margin)
        half = (0.035 * len(label) + 0.03) * (hi - lo) / width_in
        level = level + 1 if x[step] - half < last_end and level < 2 else 0
        last_end = x[step] + half
        # a text shifted by points, not an annotation: the same place, a quarter of the work
        shift = ScaledTranslation(0, (2 + 9 * level) / 72, ax.figure.dpi_scale_trans)
        ax.text(
            x[step],
            1.0,
            label,
            transform=ax.get_xaxis_transform() + shift,
            ha="center",
            va="bottom",
            fontsize=7,
            color=colour or "#555555",
        )


def event_key(ens: Ensemble | FigureData) -> tuple[dict[int, str], list[str]]:
    """Numbers per event step (several events on a date share a line) and the lines of the key."""
    by_step: dict[int, list[str]] = {}
    key = []
    for k, (step, title, _kind) in enumerate(ens.events, start=1):
        by_step.setdefault(step, []).append(str(k))
        key.append(f"{k}  {ens.dates[step]}  {plain(title)}")
    return {s: ",".join(ns) for s, ns in by_step.items()}, key


def figure(ens: Ensemble | FigureData, group: str) -> Figure:
    """One figure of a variable group for one ensemble."""
    data = FigureData.of(ens, (group,))
    return fill(scaffold(data, group), data)


@dataclass
class Scaffold:
    """A figure without its numbers (:func:`scaffold`): what :func:`fill` completes."""

    fig: Figure
    axes: list[Axes]
    panels: list[tuple[list[tuple[str, str, str]], str | None]]  # (lines, the panel's label)
    group: str
    caption: Text


def scaffold(about: FigureData, group: str) -> Scaffold:
    """The parts of a figure that the scenario alone decides: title, axes, event lines and numbers,
    the key, panel labels. A figure worker builds them while the ensemble runs (``about`` then
    holds no numbers: :meth:`FigureData.about`)."""
    small = about.small
    sname = plain(about.names[small])
    if group in PANELS:
        parts = [series(about, g) for g in PANELS[group]]
        lines, ylabel = [], "level (0 to 1)" if group == "policy" else "share (sums to 1)"
        title = (
            "What each power chose: presence, governance pressure, engagement"
            if group == "policy"
            else f"{sname}'s alignment in each dimension"
        )
        short = {
            "presence": "security presence",
            "pressure": "governance pressure",
            "engagement": "engagement",
        }
        names = [short.get(g, g.removeprefix("alignment_")) for g in PANELS[group]]
        panels = [(p[0], name) for p, name in zip(parts, names, strict=True)]
    else:
        lines, title, ylabel = series(about, group)
    if group in PANELS:
        pass  # the panels are set above
    elif group == "tension" and any(small in v for v, _, _ in lines):
        panels = [
            ([ln for ln in lines if small not in ln[0]], "among the great powers"),
            ([ln for ln in lines if small in ln[0]], f"with {sname}"),
        ]
    else:
        panels = [(lines, None)]
    fig, axes, caption = layout(title, len(panels), event_key(about)[1])
    x = quarter_x(about.dates)
    numbers = event_key(about)[0]
    for ax, (_, sub) in zip(axes, panels, strict=True):
        style_axes(ax, x, ylabel, group != "aid", y=group != "aid")  # aid's y axis follows its numbers
        mark_events(ax, about, numbers)
        if group in PANELS:
            ax.text(0.02, 0.97, sub, transform=ax.transAxes, va="top", fontsize=9, fontweight="bold")
    return Scaffold(fig, axes, panels, group, caption)


def fill(part: Scaffold, data: FigureData) -> Figure:
    """Complete a :func:`scaffold` with the numbers of ``data``: the caption, each line's median and
    bands, the legends, and the y axis of aid. The figure is the same as built in one go: artists
    are drawn by their z-order, whatever the order they were added in."""
    part.caption.set_text(
        f"{plain(data.title)}\nscenario {plain(data.name)}{plain(data.settings)} · "
        f"seed {data.seed} · {data.runs} runs · line: median; bands: middle 50% and 90% of runs"
    )
    x = quarter_x(data.dates)
    for ax, (group_lines, sub) in zip(part.axes, part.panels, strict=True):
        for var, label, colour in group_lines:
            draw_quantiles(ax, x, data.quantiles(var), colour, label)  # from the exact statistics
        if part.group == "aid":
            ax.set_ylim(bottom=0)
        if part.group in PANELS:
            if ax is not part.axes[-1]:
                continue
            sub = None
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
            title=sub,
            title_fontsize=8,
            alignment="left",
        )
    return part.fig


def set_caption(sc: Scenario) -> str:
    """ " with --set inertia=0.3, ..." for a scenario with overrides ("" otherwise), for captions."""
    from sim.scenario import override_text

    return (
        " with --set " + ", ".join(override_text(k, v) for k, v in sc.overrides.items())
        if sc.overrides
        else ""
    )


def layout(title: str, panels: int, key: list[str]) -> tuple[Figure, list[Axes], Text]:
    """A figure with a title, ``panels`` axes side by side and an event key below; and the text
    of its caption, empty until the numbers are in (:func:`fill`).

    Positions are computed in inches (no constrained layout): drawing twice as fast matters when a
    run writes ten files.
    """
    from matplotlib.figure import Figure

    cols = 2 if len(key) > 6 else 1
    rows = -(-len(key) // cols)
    width, top, plot, below = {1: 9.0, 2: 11.0}.get(panels, 13.0), 1.15, 3.4, 0.55
    key_h = 0.16 * rows + (0.15 if rows else 0)
    height = top + plot + below + key_h
    fig = Figure(figsize=(width, height), dpi=100)
    fig.text(0.5, 1 - 0.12 / height, title, ha="center", va="top", fontsize=12, fontweight="bold")
    caption = fig.text(0.5, 1 - 0.42 / height, "", ha="center", va="top", fontsize=8, color="#444444")
    left, right = 0.75, 1.9  # room on the right of the last panel for its legend
    gap = 2.0 if panels < 3 else 0.8  # three panels share one legend
    w = (width - left - right - gap * (panels - 1)) / panels
    axes = [
        fig.add_axes(((left + k * (w + gap)) / width, (below + key_h) / height, w / width, plot / height))
        for k in range(panels)
    ]
    draw_key(fig, key, cols, left, key_h)
    return fig, axes, caption


def draw_key(fig: Figure, key: list[str], cols: int, left: float, top: float) -> None:
    """The numbered list of events in ``cols`` columns below the axes, starting ``top`` inches up
    from the bottom of the figure and ``left`` inches from its left edge."""
    width, height = fig.get_size_inches()
    rows = -(-len(key) // cols) if key else 0
    for c in range(cols):
        chunk = key[c * rows : (c + 1) * rows]
        fig.text(
            (left + c * (width - left) / cols) / width,
            (top - 0.05) / height,
            "\n".join(chunk),
            fontsize=7,
            color="#555555",
            va="top",
            linespacing=1.35,
        )


def style_axes(ax: Axes, x: np.ndarray, ylabel: str, unit_interval: bool, y: bool = True) -> None:
    """Shared axis style: limits, years on x, light grid, no top and right spines. ``y``: whether
    to set the y limits (from 0, to 1 or to what the lines reach) now; else the caller does later."""
    ax.set_xlim(x[0], x[-1])
    if y and unit_interval:
        ax.set_ylim(0, 1)
    elif y:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    ticks = np.arange(np.ceil(x[0]), np.floor(x[-1]) + 1)
    every = max(1, int(np.ceil(len(ticks) / 10)))
    ax.set_xticks(ticks[::every])
    ax.set_xticklabels([str(int(t)) for t in ticks[::every]], fontsize=8)
