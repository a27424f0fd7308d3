"""The model's outputs, declared once: a name pattern and how to compute each from the state.

This table plays the role of the reporters of Mesa's ``DataCollector``: the output names, the
recording (:meth:`sim.model.HedgingModel.record_state`) and the output tables of docs/ODD.md and the
README all come from it (tests/test_docs.py checks the tables). Each reporter gives rows over runs
for one of four families of names:

* ``power``: one row per great power, ``{power}`` in the pattern;
* ``dimension``: one row per alignment dimension and power, ``{dimension}`` and ``{power}``;
* ``small``: one row for the small state;
* ``dyad``: one row per pair of actors, ids in alphabetical order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.hedging import evenness
from sim.scenario import DIMENSIONS

if TYPE_CHECKING:
    from sim.model import HedgingModel, State

    Compute = Callable[[HedgingModel, State, dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Reporter:
    """One output family: its name pattern, how many rows, how to compute them, what it means."""

    pattern: str
    family: str  # "power" | "dimension" | "small" | "dyad"
    compute: Compute
    meaning: str

    def names(self, model: HedgingModel) -> list[str]:
        small, powers = model.ctx.small, model.ctx.powers
        if self.family == "power":
            return [self.pattern.format(power=p, small=small) for p in powers]
        if self.family == "dimension":
            return [
                self.pattern.format(small=small, dimension=d, power=p) for d in DIMENSIONS for p in powers
            ]
        if self.family == "small":
            return [self.pattern.format(small=small)]
        return [f"tension.{a}-{b}" for a, b in model.ctx.dyads]


def _hedging(part: str) -> Compute:
    return lambda m, s, v: v["hedging"][part]


REPORTERS: tuple[Reporter, ...] = (
    Reporter(
        "{power}.influence", "power", lambda m, s, v: s.influence, "standing with the small state (0..1)"
    ),
    Reporter("{power}.aid", "power", lambda m, s, v: s.aid, "aid flow, USD million per quarter"),
    Reporter("{power}.presence", "power", lambda m, s, v: v["presence"], "security presence (0..1)"),
    Reporter(
        "{power}.pressure", "power", lambda m, s, v: s.policy[2], "governance pressure it applies (0..1)"
    ),
    Reporter("{power}.engagement", "power", lambda m, s, v: s.policy[3], "diplomatic engagement (0..1)"),
    Reporter("{power}.tier", "power", lambda m, s, v: v["tier"], "partnership tier in force (1 top .. 3)"),
    Reporter(
        "{small}.alignment.{dimension}.{power}",
        "dimension",
        lambda m, s, v: s.alignment.reshape(-1, s.alignment.shape[-1]),
        "alignment share toward a power in one dimension (each dimension sums to 1)",
    ),
    Reporter(
        "{small}.alignment.{power}",
        "power",
        lambda m, s, v: v["mean_alignment"],
        "alignment share averaged over the dimensions (sums to 1)",
    ),
    Reporter(
        "{small}.dependence.{power}", "power", lambda m, s, v: s.dependence, "economic dependence share"
    ),
    Reporter("{small}.threat.{power}", "power", lambda m, s, v: v["threat"], "threat perceived from a power"),
    Reporter("{small}.hedging_index", "small", _hedging("index"), "mean of the three hedging parts (0..1)"),
    Reporter("{small}.hedging.divergence", "small", _hedging("divergence"), "economic vs security alignment"),
    Reporter("{small}.hedging.ambiguity", "small", _hedging("ambiguity"), "evenness of security alignment"),
    Reporter("{small}.hedging.fallback", "small", _hedging("fallback"), "breadth of working ties"),
    Reporter(
        "{small}.diversification",
        "small",
        lambda m, s, v: evenness(v["mean_alignment"]),
        "evenness of the mean alignment (1 even, 0 one power)",
    ),
    Reporter(
        "{small}.autonomy", "small", lambda m, s, v: 1.0 - s.dependence.max(axis=0), "1 - largest dependence"
    ),
    Reporter("{small}.regime_pressure", "small", lambda m, s, v: s.regime, "how exposed the elite feels"),
    Reporter("tension.{a}-{b}", "dyad", lambda m, s, v: s.tension, "tension of a pair of actors (0..1)"),
)


def record(
    model: HedgingModel,
    state: State,
    view: dict[str, np.ndarray],
    out: np.ndarray,
    outputs: list[tuple[Reporter, slice]] | None = None,
) -> None:
    """Write every output of ``state`` (or only those of ``outputs``) into ``out`` (variables, runs)."""
    from sim.hedging import hedging_components

    view = {**view, "hedging": hedging_components(state.alignment)}
    for reporter, rows in model.outputs if outputs is None else outputs:
        out[rows] = reporter.compute(model, state, view)


def output_table(model: HedgingModel) -> list[tuple[Reporter, slice]]:
    """Each reporter with the rows of the record it fills."""
    out, k = [], 0
    for r in REPORTERS:
        n = len(r.names(model))
        out.append((r, slice(k, k + n)))
        k += n
    return out
