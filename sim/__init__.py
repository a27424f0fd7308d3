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

Names are imported lazily, so ``import sim`` (and ``hedgesim --help``) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.comparison import Comparison, compare
    from sim.ensemble import Ensemble, run
    from sim.errors import HedgesimError, ScenarioError
    from sim.explanation import Explanation, explain
    from sim.model import HedgingModel
    from sim.outputs import load_results, write_results
    from sim.scenario import Scenario, bundled_scenarios, load_scenario

_WHERE = {
    "load_scenario": "sim.scenario",
    "bundled_scenarios": "sim.scenario",
    "compare": "sim.comparison",
    "Comparison": "sim.comparison",
    "Scenario": "sim.scenario",
    "run": "sim.ensemble",
    "Ensemble": "sim.ensemble",
    "explain": "sim.explanation",
    "Explanation": "sim.explanation",
    "HedgingModel": "sim.model",
    "write_results": "sim.outputs",
    "load_results": "sim.outputs",
    "HedgesimError": "sim.errors",
    "ScenarioError": "sim.errors",
}
__all__ = [
    "Comparison",
    "Ensemble",
    "Explanation",
    "HedgesimError",
    "HedgingModel",
    "Scenario",
    "ScenarioError",
    "bundled_scenarios",
    "compare",
    "explain",
    "load_results",
    "load_scenario",
    "run",
    "write_results",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
