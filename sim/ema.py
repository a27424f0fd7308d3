"""A scenario as an EMA Workbench model (the optional extra ``hedgesim[ema]``).

The EMA Workbench (Kwakkel 2017, *Environ. Model. Softw.* 96) does exploratory modelling: sample
uncertainties and levers, run a model on each point, and analyse the outcomes (PRIM, feature
scoring, its plots). :func:`ema_model` makes a hedgesim scenario one of its models:

- **uncertainties**: the parameters the scenario file itself leaves uncertain (every value written
  as a distribution: ``{low, high}`` and triangular as their range, normal as mean +- 2 sd within
  the valid range), unless ranges are given;
- **levers**: ranges given as ``levers`` (what a power could choose, e.g. ``actors.japan.budget``);
- **outcomes**: one :class:`~ema_workbench.ScalarOutcome` per metric (``VAR@end``...), the mean over
  ``runs`` replicated runs of the point, as the sweep computes it (:mod:`sim.sweeps`).

Workbench names must be Python identifiers, so ``events[3].magnitude`` is ``events_3_magnitude``
there and ``cambodia.hedging_index@end`` is ``cambodia_hedging_index_end`` (:func:`identifier`).

Each call of the model runs its point through :func:`sim.sweeps.run_design`, so a point's numbers
are the ones ``hedgesim sweep`` gives for the same values and seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import HedgesimError
from sim.parameters import Range, checked_range, lookup, parameters, parse_range
from sim.quantities import Dist
from sim.scenario import Scenario, load_scenario


def _workbench() -> Any:
    import warnings

    try:
        with warnings.catch_warnings():  # its note that optional evaluators are missing
            warnings.simplefilter("ignore", UserWarning)
            import ema_workbench
    except ImportError:
        raise HedgesimError(
            "the EMA Workbench is not installed; install the extra: pip install 'hedgesim[ema]'"
        ) from None
    return ema_workbench


def uncertain_ranges(sc: Scenario) -> list[Range]:
    """The ranges of the values the scenario file gives as distributions."""
    out = []
    for p in parameters(sc):
        v = p.value
        if not isinstance(v, Dist):
            continue
        if v.form == "normal":
            lo, hi = max(p.low, v.a - 2 * v.b), min(p.high, v.a + 2 * v.b)
        else:
            lo, hi = v.a, v.b
        if hi > lo:
            out.append(Range(p, lo, hi))
    return out


class ScenarioFunction:
    """The model's function: keyword values -> the mean of each metric over the point's runs."""

    def __init__(
        self, scenario: Scenario, metrics: list[str], runs: int, seed: int, against: Scenario | None
    ):
        self.scenario, self.metrics, self.runs = scenario, metrics, runs
        self.seed, self.against = seed, against

    def __call__(self, **values: float) -> dict[str, float]:
        from sim.sweeps import run_design

        names = list(values)
        sw = run_design(
            self.scenario,
            names,
            np.array([[values[n] for n in names]], dtype=float),
            self.metrics,
            replicates=self.runs,
            seed=self.seed,
            against=self.against,
            workers=1,
            progress=False,
        )
        return {m.text: float(sw.Y[k, 0].mean()) for k, m in enumerate(sw.metrics)}


def ema_model(
    scenario: Scenario | str | Path,
    metrics: list[str] | None = None,
    *,
    uncertainties: list[str] | None = None,
    levers: list[str] | None = None,
    runs: int = 1,
    seed: int | None = None,
    against: Scenario | str | Path | None = None,
    name: str | None = None,
) -> Any:
    """An ``ema_workbench.Model`` of a scenario; ranges as ``"NAME=LOW:HIGH"`` (or ``{name: (lo, hi)}``).

    Example::

        from ema_workbench import perform_experiments
        model = sim.ema.ema_model("scenarios/csp2023.toml", ["cambodia.hedging_index@end"])
        experiments, outcomes = perform_experiments(model, scenarios=100)
    """
    from sim.sweeps import default_metric

    ema = _workbench()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    vs = against if isinstance(against, Scenario) or against is None else load_scenario(against)

    def ranges(given: list[str] | dict[str, tuple[float, float]] | None, label: str) -> list[Range]:
        if isinstance(given, dict):
            return [checked_range(sc, lookup(sc, k), lo, hi, None, label) for k, (lo, hi) in given.items()]
        return [parse_range(sc, t, label) for t in given or []]

    unc = ranges(uncertainties, "uncertainty") if uncertainties else uncertain_ranges(sc)
    lev = ranges(levers, "lever")
    if not unc and not lev:
        raise HedgesimError(f"{sc.source}: no uncertain values in the file; give uncertainties")
    texts = metrics or [default_metric(sc)]
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 1)
    model = ema.Model(name or sc.name.replace("-", "_"), function=ScenarioFunction(sc, texts, runs, seed, vs))
    real = lambda r: ema.RealParameter(identifier(r.name), r.low, r.high, variable_name=r.name)  # noqa: E731
    model.uncertainties = [real(r) for r in unc]
    if lev:
        model.levers = [real(r) for r in lev]
    model.outcomes = [ema.ScalarOutcome(identifier(t), variable_name=t) for t in texts]
    return model


def identifier(text: str) -> str:
    """A Workbench name (a Python identifier) for a parameter or a metric: ``events[3].magnitude``
    -> ``events_3_magnitude``; the model's function still receives and returns hedgesim's names."""
    import re

    name = re.sub(r"\W+", "_", text).strip("_")
    return name if name and not name[0].isdigit() else f"x_{name}"


# ---- PRIM on a sweep's table -------------------------------------------------------------------


OPERATORS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}


def parse_condition(text: str) -> tuple[str, str, float]:
    """``"cambodia.alignment.china@end > 0.6"`` -> (metric, operator, threshold)."""
    import re

    m = re.match(r"^\s*(?P<metric>\S.*?)\s*(?P<op>>=|<=|>|<)\s*(?P<x>[-+0-9.eE]+)\s*$", text)
    if not m:
        raise HedgesimError(f"--condition {text}: expected METRIC > X (or >=, <, <=)")
    try:
        x = float(m["x"])
    except ValueError:
        raise HedgesimError(f"--condition {text}: {m['x']!r} is not a number") from None
    if not math.isfinite(x):
        raise HedgesimError(f"--condition {text}: expected a finite number")
    return m["metric"], m["op"], x
