"""The dashboard's plots: the current setting against the baseline, one small figure per panel.

Twelve panels in two views (:data:`PANELS`): the small state's alignment in each dimension, its
mean and the hedging index with its three parts (:mod:`sim.hedging`), each power's influence; and
what each power decided (aid, presence, pressure, engagement) with the tension that followed.
Where data exist (:func:`sim.observables.observed_points`: UN voting on the diplomatic panel,
yearly aid flows on the aid panel), observed points are drawn on the frame. Each figure reuses
:mod:`sim.plots`: the median and bands of
:func:`draw_bands` (the current setting solid, the baseline dashed and faint), years on x by
:func:`quarter_x`. Axes sit at fixed positions (:data:`AXES`), so the page can draw a time cursor
over the picture without redrawing it, and :class:`PanelCanvas` redraws only what changes.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

import numpy as np

from sim.observables import observed_points
from sim.plots import PALETTE, draw_bands, plain, quarter_x, series, style_axes

if TYPE_CHECKING:
    from sim.ensemble import Ensemble

#: The two views of the page, each six panels: the small state's choices, and what the powers did.
VIEWS = ("small", "powers")
#: Panels of the dashboard: (id, view).
PANELS = (
    ("alignment", "small"),
    ("alignment_economic", "small"),
    ("alignment_security", "small"),
    ("alignment_diplomatic", "small"),
    ("hedging", "small"),
    ("influence", "small"),
    ("aid", "powers"),
    ("presence", "powers"),
    ("pressure", "powers"),
    ("engagement", "powers"),
    ("tension_powers", "powers"),
    ("tension_small", "powers"),
)
#: The parts of the hedging index (sim.hedging) and their colours, apart from the powers'.
HEDGING_PARTS = (
    ("divergence", "#CC79A7"),
    ("ambiguity", "#E69F00"),
    ("fallback", "#56B4E9"),
)
#: Titles of the panels of one line per power: (title, y label); {small} is the small state's name.
PER_POWER = {
    "alignment": ("{small}'s alignment (mean of 3 dimensions)", "share (sums to 1)"),
    "alignment_economic": ("Economic alignment (aid, trade, debt)", "share (sums to 1)"),
    "alignment_security": ("Security alignment (threat, protection)", "share (sums to 1)"),
    "alignment_diplomatic": ("Diplomatic alignment (UN votes)", "share (sums to 1)"),
    "influence": ("Influence over {small}", "influence (0 to 1)"),
    "aid": ("Aid each power gives", "USD m per quarter"),
    "presence": ("Security presence (ships, access)", "presence (0 to 1)"),
    "pressure": ("Governance pressure (criticism, sanctions)", "pressure (0 to 1)"),
    "engagement": ("Engagement (summits, partnership offers)", "engagement (0 to 1)"),
}
#: Axes position in figure fractions: left, bottom, width, height.
AXES = (0.12, 0.34, 0.84, 0.53)
SIZE = (4.4, 3.0)  # inches
DPI = 100


def view_of(panel: str) -> str:
    return next(v for p, v in PANELS if p == panel)


def panel_lines(ens: Ensemble, panel: str) -> tuple[list[tuple[str, str, str]], str, str]:
    """The lines, title and y label of a dashboard panel."""
    sc = ens.scenario
    small, powers = sc.small, sc.powers
    sname = plain(sc.actors[small].name)
    name = {p: plain(sc.actors[p].name) for p in powers}
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(powers)}
    if panel in PER_POWER:
        title, ylabel = PER_POWER[panel]
        if panel.startswith("alignment"):
            dimension = panel.removeprefix("alignment").removeprefix("_")
            pattern = f"{small}.alignment.{dimension + '.' if dimension else ''}{{p}}"
        else:
            pattern = f"{{p}}.{panel}"
        lines = [(pattern.format(p=p), name[p], colour[p]) for p in powers]
        return lines, title.format(small=sname), ylabel
    if panel == "hedging":
        lines = [(f"{small}.hedging_index", "hedging index", "#222222")]
        lines += [(f"{small}.hedging.{part}", part, c) for part, c in HEDGING_PARTS]
        return lines, f"{sname}: hedging index and its parts", "index (0 to 1)"
    if panel.startswith("tension"):
        lines, _, ylabel = series(ens, "tension")
        if panel == "tension_powers":
            return [ln for ln in lines if small not in ln[0]], "Tension among the great powers", ylabel
        lines = [ln for ln in lines if small in ln[0]]
        lines = [(v, label.replace(f"{sname} - ", "").replace(f" - {sname}", ""), c) for v, label, c in lines]
        return lines, f"Tension with {sname}", ylabel
    raise ValueError(f"unknown panel {panel!r}; expected one of {[p for p, _ in PANELS]}")


class PanelCanvas:
    """One panel, redrawn fast: what does not change is drawn once and kept as pixels.

    The frame (axes, labels, legend, event dates and the baseline's median, dashed and faint) is
    drawn when the panel is made, or when the values outgrow the y axis; each update then draws
    only the current setting's bands and median (:func:`draw_bands`) over a copy of the frame.
    That is about 15 ms a panel instead of 100 ms for a whole figure.
    """

    def __init__(self, baseline: Ensemble, panel: str):
        self.baseline, self.panel = baseline, panel
        self.lines, self.title, self.ylabel = panel_lines(baseline, panel)
        self.x = quarter_x(baseline.dates)
        self.unit = not panel.startswith("aid")
        self.top: float | None = None
        self._lock = threading.Lock()

    def _frame(self, top: float) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        fig = Figure(figsize=SIZE, dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes(AXES)
        x = self.x
        handles, labels = [], []
        for var, label, colour in self.lines:
            median = np.median(self.baseline.values(var), axis=0)
            ax.plot(x, median, color=colour, lw=1.6, ls="--", alpha=0.55, drawstyle="steps-post")
            handles.append(Line2D([], [], color=colour, lw=2))
            labels.append(label)
        handles.append(Line2D([], [], color="#777777", ls="--", lw=1.6, alpha=0.55))
        labels.append("baseline")
        colours = {p: c for _, p, c in ((v, v.rsplit(".", 1)[-1], c) for v, _, c in self.lines)}
        points = observed_points(self.baseline.scenario, self.panel)  # data/, where they exist
        for power, px, py in points:
            ax.scatter(
                px, py, s=14, color=colours.get(power, "#222222"), edgecolors="black", lw=0.5, zorder=5
            )
        if points:
            handles.append(Line2D([], [], ls="", marker="o", color="#bbbbbb", mec="black", mew=0.5, ms=4))
            labels.append("observed")
        style_axes(ax, x, self.ylabel, self.unit)
        ax.set_ylim(0, top)
        steps = sorted({step for step, _title, _kind in self.baseline.events})
        ax.vlines(
            x[steps], 0, 1, transform=ax.get_xaxis_transform(), color="#999999", lw=0.6, ls=":", zorder=0
        )
        ax.set_title(self.title, fontsize=10, fontweight="bold", loc="left")
        ax.yaxis.label.set_fontsize(8)
        ax.tick_params(labelsize=8)
        fig.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(labels) if sum(len(x) + 5 for x in labels) < 56 else -(-len(labels) // 2),
            fontsize=8,
            frameon=False,
            handlelength=1.6,
            columnspacing=1.0,
        )
        canvas.draw()
        self.fig, self.ax, self.canvas, self.top = fig, ax, canvas, top
        self.background = canvas.copy_from_bbox(fig.bbox)

    def _top_for(self, current: Ensemble) -> float:
        if self.unit:
            return 1.0
        high = max(
            float(ens.values(var).max()) for ens in (current, self.baseline) for var, _, _ in self.lines
        )
        if self.top is not None and 0.5 * self.top <= high <= self.top:
            return self.top  # keep the frame while the values fit it well
        step = 10 ** np.floor(np.log10(max(high, 1e-9))) / 2
        return float(np.ceil(high * 1.08 / step) * step)

    def png(self, current: Ensemble) -> bytes:
        """The panel with ``current`` drawn over the frame, as PNG bytes."""
        from PIL import Image

        with self._lock:
            top = self._top_for(current)
            if top != self.top:
                self._frame(top)
            ax, canvas = self.ax, self.canvas
            canvas.restore_region(self.background)
            before = len(ax.collections), len(ax.lines)
            for var, label, colour in self.lines:
                draw_bands(ax, self.x, current.values(var), colour, f"_{label}")
            drawn = [*ax.collections[before[0] :], *ax.lines[before[1] :]]
            for artist in drawn:
                ax.draw_artist(artist)
            for artist in drawn:
                artist.remove()
            width, height = canvas.get_width_height()
            image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
            buf = io.BytesIO()
            image.save(buf, format="PNG", compress_level=1)  # fast; the page is served on localhost
            return buf.getvalue()


def canvases(baseline: Ensemble) -> dict[str, PanelCanvas]:
    """A canvas for every panel of the dashboard."""
    return {p: PanelCanvas(baseline, p) for p, _ in PANELS}


def cursor_left(dates: list[str], step: int) -> float:
    """Where a date falls across a panel's picture, as a fraction of its width (for the time cursor)."""
    x = quarter_x(dates)
    left, _, width, _ = AXES
    return left + width * (x[step] - x[0]) / (x[-1] - x[0])
