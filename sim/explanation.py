"""Explaining a difference between two scenarios by the mechanisms that carry it.

``explain(a, b)`` runs both scenarios with every mechanism of :data:`sim.scenario.MECHANISMS` on,
then with each one switched off in both (one at a time), then with all of them off, always with
the same seed, so that run k meets the same random numbers in every variant (common random
numbers: the difference between variants is the mechanisms', not luck's). For an output y at a
date, with D(S) the mean paired difference b - a when the mechanisms in S are off:

    total         = D({})
    channel k     = D({}) - D({k})          what is lost when k alone is switched off
    not carried   = D(all)                  what remains with every mechanism off
    interaction   = total - sum_k channel k - not carried

so the channels, the interaction and the part not carried add up to the total exactly. A channel's
share is its part over the total. This is one-at-a-time attribution by knock-out, the design of a
"mechanism experiment" (Ludwig, Kling & Mullainathan 2011; in ABM practice, ten Broeke, van Voorn &
Ligtenberg 2016 on what sensitivity analysis says about mechanisms); the interaction term is where
channels need each other, and it is reported, never spread over the channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.errors import HedgesimError
from sim.scenario import MECHANISMS

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: Outputs explained when none are named: each power's influence and the small state's headline.
DEFAULT_OUTPUTS = ("{power}.influence", "{small}.alignment.{power}", "{small}.hedging_index")


@dataclass
class Explanation:
    """The decomposition table and what it was computed from."""

    a: str
    b: str
    date: str
    runs: int
    seed: int
    channels: list[str]
    table: pd.DataFrame  # one row per output: total, each channel, interaction, not carried

    def text(self) -> str:
        """The table for a terminal: each part and, in brackets, its share of the total."""
        head = f"{self.b} - {self.a} at {self.date}, {self.runs} paired runs, seed {self.seed}"
        cols = ["total", *self.channels, "interaction", "not carried"]
        width = max(len(v) for v in self.table.index)
        lines = [head, f"{'':<{width}}  " + "  ".join(f"{c:>20}" for c in cols)]
        for var, row in self.table.iterrows():
            cells = [f"{row['total']:>+20.4f}"]
            for c in cols[1:]:
                share = row[c] / row["total"] if row["total"] != 0 else float("nan")
                cell = f"{row[c]:+.4f}" + (f" ({share:.0%})" if np.isfinite(share) else "")
                cells.append(f"{cell:>20}")
            lines.append(f"{var:<{width}}  " + "  ".join(cells))
        return "\n".join(lines)


def explain(
    a: Scenario,
    b: Scenario,
    runs: int | None = None,
    seed: int | None = None,
    at: str | None = None,
    outputs: list[str] | None = None,
    channels: list[str] | None = None,
) -> Explanation:
    """Split the difference b - a of each output at a date by mechanism (see the module docstring).

    ``runs`` and ``seed`` default to a's; ``at`` to the last date; ``channels`` to every mechanism.
    """
    from sim.ensemble import run

    channels = list(channels or MECHANISMS)
    unknown = [c for c in channels if c not in MECHANISMS]
    if unknown:
        raise HedgesimError(
            f"--channel: unknown mechanism {unknown[0]!r}; expected one of {list(MECHANISMS)}"
        )
    if a.dates != b.dates:
        raise HedgesimError(
            f"{b.source}: its dates differ from {a.source}'s; runs can only be paired date by date"
        )
    runs = runs or a.scenario.runs
    seed = a.scenario.seed if seed is None else seed
    if seed is None:
        from sim.noise import new_seed

        seed = new_seed()
    date = at or a.dates[-1]
    if date not in a.dates:
        raise HedgesimError(f"--at: {date} is not a date of the scenarios ({a.dates[0]}..{a.dates[-1]})")
    t = a.dates.index(date)
    names = _outputs(a, outputs)

    def difference(off: list[str]) -> np.ndarray:
        ends = []
        for sc in (a, b):
            variant = sc.with_overrides({f"mechanisms.{k}": False for k in off})
            ens = run(variant, runs=runs, seed=seed, trajectories=True)  # runs paired
            missing = [v for v in names if v not in ens.variables]
            if missing:
                raise HedgesimError(f"--output: no output named {missing[0]!r}")
            ends.append(np.array([ens.values(v)[:, t] for v in names]))
        return (ends[1] - ends[0]).mean(axis=1)

    total = difference([])
    parts = {k: total - difference([k]) for k in channels}
    rest = difference(channels)
    table = pd.DataFrame({"total": total, **parts}, index=names)
    table["not carried"] = rest
    table["interaction"] = total - sum(parts.values()) - rest
    table = table[["total", *channels, "interaction", "not carried"]]
    return Explanation(a.name, b.name, date, runs, seed, channels, table)


def _outputs(sc: Scenario, outputs: list[str] | None) -> list[str]:
    if outputs:
        return list(outputs)
    out = []
    for pattern in DEFAULT_OUTPUTS:
        if "{power}" in pattern:
            out += [pattern.format(power=p, small=sc.small) for p in sc.powers]
        else:
            out.append(pattern.format(small=sc.small))
    return out
