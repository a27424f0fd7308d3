"""A picture of the actors at one date, as SVG: the small state in the middle, the powers around it.

* an arrow from each power to the small state: its influence (width) in the power's colour;
* a line beside it and lines between the powers: tension (width, and colour from grey to red);
* a ring around the small state: its alignment toward each power (shares of the ring).

* inside each power: the aid it gives and its partnership tier (1 is the top).

Values are medians over runs (:func:`medians_at`).
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

import numpy as np

from sim.plots import PALETTE

if TYPE_CHECKING:
    from sim.ensemble import Ensemble
    from sim.scenario import Scenario

W, H = 380, 372
CX, CY, R_SMALL, R_ORBIT, R_POWER = 190, 178, 40, 122, 30


def medians_at(ens: Ensemble, step: int) -> dict[str, float]:
    """Median over runs of every variable at a step (the p50 of :meth:`Ensemble.summary`)."""
    return dict(zip(ens.variables, np.median(ens.data[:, step, :], axis=-1).tolist(), strict=True))


def tension_colour(t: float) -> str:
    """Grey (no tension) to red (tension 1)."""
    t = min(max(t, 0.0), 1.0)
    lo, hi = (170, 170, 170), (200, 30, 30)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def svg(scenario: Scenario, values: dict[str, float], date: str) -> str:
    """The picture for one date; ``values`` are medians by variable name."""
    powers, small = scenario.powers, scenario.small
    name = {k: a.name for k, a in scenario.actors.items()}
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(powers)}
    n = len(powers)
    pos = {}
    for i, p in enumerate(powers):
        a = -math.pi / 2 + 2 * math.pi * (i + 0.5) / n + (math.pi if n == 3 else 0)
        pos[p] = (CX + R_ORBIT * math.cos(a), CY + R_ORBIT * math.sin(a))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" '
        f'role="img" aria-label="actors at {escape(date)}" class="hedgesim-actors" '
        'style="font-family: Roboto, Arial, sans-serif">',
        "<defs>",
    ]
    for p in powers:
        out.append(
            f'<marker id="head-{p}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="2.4" '
            f'markerHeight="2.4" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour[p]}"/></marker>'
        )
    out.append("</defs>")

    def tension(a: str, b: str) -> float:
        key = f"tension.{min(a, b)}-{max(a, b)}"
        return values.get(key, 0.0)

    # tension among the powers: lines between their circles, value at the middle
    for i, a in enumerate(powers):
        for b in powers[i + 1 :]:
            t = tension(a, b)
            (x1, y1), (x2, y2) = pos[a], pos[b]
            out.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                f'stroke="{tension_colour(t)}" stroke-width="{1 + 12 * t:.1f}" stroke-dasharray="6 4" '
                f'stroke-linecap="round" data-tension="{t:.3f}"/>'
            )
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            dx, dy = mx - CX, my - CY
            d = math.hypot(dx, dy) or 1
            lx, ly = mx + 16 * dx / d, my + 16 * dy / d
            out.append(_label(lx, ly, f"{t:.2f}", tension_colour(max(t, 0.6)), 12))
    # each power: influence arrow to the small state and, beside it, their tension
    for p in powers:
        x, y = pos[p]
        dx, dy = CX - x, CY - y
        d = math.hypot(dx, dy)
        ux, uy = dx / d, dy / d
        nx, ny = -uy, ux  # normal, to set the two lines side by side
        inf = values.get(f"{p}.influence", 0.0)
        t = tension(p, small)
        sx, sy = x + ux * (R_POWER + 4), y + uy * (R_POWER + 4)
        ex, ey = CX - ux * (R_SMALL + 12), CY - uy * (R_SMALL + 12)
        off = 9
        out.append(
            f'<line x1="{sx + nx * off:.1f}" y1="{sy + ny * off:.1f}" x2="{ex + nx * off:.1f}" '
            f'y2="{ey + ny * off:.1f}" stroke="{colour[p]}" stroke-width="{2 + 14 * inf:.1f}" '
            f'marker-end="url(#head-{p})" data-influence="{inf:.3f}"/>'
        )
        out.append(
            f'<line x1="{sx - nx * off:.1f}" y1="{sy - ny * off:.1f}" x2="{ex - nx * off:.1f}" '
            f'y2="{ey - ny * off:.1f}" stroke="{tension_colour(t)}" stroke-width="{1 + 12 * t:.1f}" '
            f'stroke-dasharray="6 4" stroke-linecap="round" data-tension="{t:.3f}"/>'
        )
        mx, my = (sx + ex) / 2, (sy + ey) / 2
        out.append(_label(mx + nx * 26, my + ny * 26, f"{inf:.2f}", colour[p], 12, bold=True))
        out.append(_label(mx - nx * 24, my - ny * 24, f"{t:.2f}", tension_colour(max(t, 0.6)), 12))
        aid = values.get(f"{p}.aid", 0.0)
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{R_POWER}" fill="{colour[p]}"/>')
        ly = y - R_POWER - 8 if y < CY else y + R_POWER + 15
        out.append(_label(x, ly, name[p], "#222222", 13, bold=True))
        out.append(
            f'<text x="{x:.1f}" y="{y + 1:.1f}" text-anchor="middle" font-size="12" fill="#ffffff" '
            f'font-weight="bold">${aid:.0f}m</text>'
        )
        tier = values.get(f"{p}.tier")
        if tier is not None:
            out.append(
                f'<text x="{x:.1f}" y="{y + 17:.1f}" text-anchor="middle" font-size="10" fill="#ffffff" '
                f'data-tier="{tier:.0f}">tier {tier:.0f}</text>'
            )
    # the small state: alignment ring and hedging index
    out.append(f'<circle cx="{CX}" cy="{CY}" r="{R_SMALL}" fill="#ffffff" stroke="#dddddd"/>')
    start = -math.pi / 2
    for p in powers:
        share = min(max(values.get(f"{small}.alignment.{p}", 0.0), 0.0), 1.0)
        out.append(_arc(CX, CY, R_SMALL + 4, start, start + 2 * math.pi * share, colour[p], share))
        start += 2 * math.pi * share
    out.append(_label(CX, CY - 4, name[small], "#222222", 13, bold=True))
    hedging = values.get(f"{small}.hedging_index", 0.0)
    out.append(_label(CX, CY + 13, f"hedging {hedging:.2f}", "#444444", 11))
    out.append(
        _label(W / 2, H - 24, "arrows: influence (width) · dashed: tension (grey to red)", "#555555", 12)
    )
    out.append(_label(W / 2, H - 6, "ring: mean alignment · $m: aid a quarter · tier 1: top", "#555555", 12))
    out.append("</svg>")
    return "".join(out)


def _label(x: float, y: float, text: str, fill: str, size: float, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="{size}" fill="{fill}"{weight} '
        f'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-opacity="0.8">{escape(text)}</text>'
    )


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, colour: str, share: float) -> str:
    if a1 - a0 >= 2 * math.pi - 1e-6:
        return f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{colour}" stroke-width="8"/>'
    x0, y0 = cx + r * math.cos(a0), cy + r * math.sin(a0)
    x1, y1 = cx + r * math.cos(a1), cy + r * math.sin(a1)
    large = 1 if a1 - a0 > math.pi else 0
    return (
        f'<path d="M{x0:.1f},{y0:.1f} A{r},{r} 0 {large} 1 {x1:.1f},{y1:.1f}" fill="none" '
        f'stroke="{colour}" stroke-width="8" data-alignment="{share:.3f}"/>'
    )
