"""How the defaults of the decision rules were set: the flagship's 2020 state near their rest point.

Prints, for scenarios/csp2023.toml at its start (2020Q1):

* for each power, the worth of standing (``standing_value``) at which its 2020 aid is where its
  aid rule rests, and the presence and engagement costs at which those levels rest; the defaults
  are round values near the geometric means over the three powers;
* the small state's utility weights that put the logit targets of the 2020 state closest to the
  2020 alignment in each dimension (least squares on log shares, with a weak pull of each log-weight
  toward its default so that the under-determined fit has one answer).

This calibrates the starting point only (a model at rest in 2020 does not drift before the first
event); no outcome after 2020 enters it. Run: .venv/bin/python scripts/rest_point.py
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.optimize import least_squares

import sim
from sim.agents import AID, ENGAGEMENT, PRESENCE
from sim.model import HedgingModel

WEIGHTS = (
    "weight_aid",
    "weight_dependence",
    "weight_overdependence",
    "weight_protection",
    "weight_threat",
    "weight_entrapment",
    "weight_regime",
    "weight_reciprocity",
)


def powers(m: HedgingModel) -> None:
    s, v, p, w = m.state, m.view, m.p, m.weights
    print("power      standing_value at rest   presence_cost at rest   engagement_cost at rest")
    rows = []
    for i, agent in enumerate(m.powers):
        lead = max(0.0, float(m.rival_max(s.influence, i)[0] - s.influence[i, 0]))
        worth = float(m.interest[i, 0]) * (1 + p.rivalry * lead)
        flows = v["credible_commitment"][:, 0]
        total, rivals = flows.sum(), flows.sum() - flows[i]
        gain = worth * w["aid"] * float(m.budget[i, 0]) * v["credibility"][i, 0] * rivals / total**2
        value = s.policy[AID, i, 0] / gain
        costs = []
        for k, name in ((PRESENCE, "presence"), (ENGAGEMENT, "engagement")):
            levels = v[name][:, 0]
            tot = levels.sum()
            costs.append(p.standing_value * worth * w[name] * (tot - levels[i]) / tot**2 / s.policy[k, i, 0])
        rows.append((value, *costs))
        print(f"{agent.key:<10} {value:>24.2f} {costs[0]:>23.2f} {costs[1]:>25.2f}")
    gm = np.exp(np.log(np.array(rows)).mean(axis=0))
    print(f"{'geo. mean':<10} {gm[0]:>24.2f} {gm[1]:>23.2f} {gm[2]:>25.2f}")


def small_state(m: HedgingModel) -> None:
    s, v, p = m.state, m.view, m.p
    observed = s.alignment[:, :, 0]
    defaults = np.array([getattr(p, n) for n in WEIGHTS])

    def targets(weights: np.ndarray) -> np.ndarray:
        for n, x in zip(WEIGHTS, weights, strict=True):
            setattr(p, n, x)
        p.inertia, p.alignment_noise = 1.0, 0.0
        nxt = copy.deepcopy(s)
        m.small_state.decide(s, nxt, v, np.zeros((*observed.shape, 1)))
        return nxt.alignment[:, :, 0]

    def residuals(logw: np.ndarray) -> np.ndarray:
        misfit = np.log(targets(np.exp(logw))) - np.log(observed)
        return np.concatenate([misfit.ravel(), 0.1 * (logw - np.log(defaults))])

    fit = np.exp(least_squares(residuals, np.log(defaults)).x)
    print("\nsmall state's weight     fitted   default")
    for n, x, d in zip(WEIGHTS, fit, defaults, strict=True):
        print(f"{n:<24} {x:>7.2f} {d:>9.2f}")
    print("2020 alignment (rows: economic, security, diplomatic):\n", observed.round(3))
    print("logit targets with the defaults:\n", targets(defaults).round(3))


if __name__ == "__main__":
    scenario = sim.load_scenario("scenarios/csp2023.toml")
    powers(HedgingModel(scenario, 1, seed=1))
    small_state(HedgingModel(scenario, 1, seed=1))
