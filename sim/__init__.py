"""hedgesim: an agent-based model of how small states hedge between great powers.

The plain Python API, the same one under the CLI, the notebooks and the dashboard::

    import sim
    scenario = sim.load_scenario("scenarios/csp2023.toml")
    ens = sim.run(scenario, runs=200, seed=1)
    ens.values("japan.influence")        # ndarray (runs, steps + 1)
    ens.summary()                        # tidy DataFrame
    comp = sim.compare(["scenarios/no_csp.toml", "scenarios/csp2023.toml"], runs=200)
    comp.differences()                   # paired differences against the first scenario
    sim.explain(scenario_a, scenario_b).table   # that difference split by mechanism
    sim.check("scenarios/history_1999_calibrated.toml").table()   # the named patterns vs history
    sim.calibrate("scenarios/history_1999.toml").text()   # ABC fit to UN votes, held-out years
    sw = sim.sweep(scenario, ["inertia=0.1:0.4"], ["cambodia.hedging_index@end"], samples=64, runs=10)
    sw.table()                           # one row per sample: parameters, metrics with intervals
    sim.sensitivity(scenario, ["inertia=0.1:0.4", "weight_aid=1:4"], method="sobol").table()

Names are imported lazily, so ``import sim`` (and ``hedgesim --help``) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.calibration import calibrate
    from sim.comparison import Comparison, compare
    from sim.ensemble import Ensemble, run
    from sim.errors import HedgesimError, ScenarioError
    from sim.explanation import Explanation, explain
    from sim.global_sensitivity import Sensitivity, sensitivity
    from sim.model import HedgingModel
    from sim.outputs import load_results, write_results
    from sim.patterns import evaluate as check
    from sim.scenario import Scenario, bundled_scenarios, load_scenario
    from sim.sweeps import Sweep, sweep

_WHERE = {
    "load_scenario": "sim.scenario",
    "bundled_scenarios": "sim.scenario",
    "compare": "sim.comparison",
    "Comparison": "sim.comparison",
    "Scenario": "sim.scenario",
    "run": "sim.ensemble",
    "Ensemble": "sim.ensemble",
    "explain": "sim.explanation",
    "calibrate": "sim.calibration",
    "check": "sim.patterns",
    "Explanation": "sim.explanation",
    "HedgingModel": "sim.model",
    "write_results": "sim.outputs",
    "load_results": "sim.outputs",
    "HedgesimError": "sim.errors",
    "ScenarioError": "sim.errors",
    "sweep": "sim.sweeps",
    "Sweep": "sim.sweeps",
    "sensitivity": "sim.global_sensitivity",
    "Sensitivity": "sim.global_sensitivity",
}
__all__ = [
    "Comparison",
    "Ensemble",
    "Explanation",
    "HedgesimError",
    "HedgingModel",
    "Scenario",
    "ScenarioError",
    "Sensitivity",
    "Sweep",
    "bundled_scenarios",
    "calibrate",
    "check",
    "compare",
    "explain",
    "load_results",
    "load_scenario",
    "run",
    "sensitivity",
    "sweep",
    "write_results",
]


#: Names exported under another name than their module's.
_AS = {"check": "evaluate"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), _AS.get(name, name))
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
