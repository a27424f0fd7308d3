"""Scenario.to_toml(): a scenario written out reads back equal and runs the same."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.scenario import bundled_scenarios


def test_bundled_scenarios_lists_the_scenario_files():
    found = bundled_scenarios()
    assert {"csp2023", "no_csp", "no_ream", "no_criticism", "history_2010"} <= set(found)
    assert all(p.suffix == ".toml" and p.is_file() for p in found.values())


@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_to_toml_reads_back_equal_and_runs_the_same(name, tmp_path):
    sc = sim.load_scenario(bundled_scenarios()[name])
    path = tmp_path / f"{name}.toml"
    path.write_text(sc.to_toml("a header\nof two lines"), encoding="utf-8")
    back = sim.load_scenario(path)
    assert back.model_dump() == sc.model_dump()
    assert path.read_text().startswith("# a header\n# of two lines\n")
    a, b = sim.run(sc, runs=20, seed=5), sim.run(back, runs=20, seed=5)
    assert np.array_equal(a.data, b.data)


def test_to_toml_keeps_overrides_and_dropped_events(tmp_path):
    sc = sim.load_scenario(bundled_scenarios()["csp2023"])
    changed = sc.with_overrides({"actors.us.budget": 0.0, "weight_regime": 2.5}).without_events(
        "Japan-Cambodia CSP"
    )
    path = tmp_path / "changed.toml"
    path.write_text(changed.to_toml(), encoding="utf-8")
    back = sim.load_scenario(path)
    assert back.actors["us"].budget == 0.0
    assert back.parameters.weight_regime == 2.5
    assert "Japan-Cambodia CSP" not in {e.title for e in back.events}
    assert len(back.events) == len(sc.events) - 1
