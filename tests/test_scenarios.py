"""Every bundled scenario loads and runs; the JSON Schema is current; overrides and counterfactuals."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

import sim
from sim.scenario import json_schema_text

from .conftest import SCENARIOS

FILES = sorted(SCENARIOS.glob("*.toml"))


def test_there_are_scenarios():
    assert {"csp2023", "no_csp", "history_2010"} <= {p.stem for p in FILES}
    assert len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_scenario_loads_and_runs(path):
    sc = sim.load_scenario(path)
    assert sc.name == path.stem  # the name matches the file, so results folders are findable
    ens = sim.run(sc, runs=8)
    assert ens.data.shape == (len(ens.variables), sc.steps + 1, 8)
    assert np.all(np.isfinite(ens.data))
    for ev in sc.events:
        assert ev.source, f"{path.name}: event {ev.title!r} has no source"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_scenario_matches_the_json_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    raw = tomllib.loads(path.read_text())
    jsonschema.validate(raw, json.loads((SCENARIOS / "scenario.schema.json").read_text()))


def test_json_schema_file_is_current():
    """The shipped schema is generated from the same definitions that validate files."""
    assert (SCENARIOS / "scenario.schema.json").read_text() == json_schema_text()


def test_counterfactual_drops_only_its_events(csp2023):
    no = sim.load_scenario(SCENARIOS / "no_csp.toml")
    assert [e.title for e in csp2023.events if e.title != "Japan-Cambodia CSP"] == [
        e.title for e in no.events
    ]
    assert no.actors == csp2023.actors and no.parameters == csp2023.parameters
    assert no.sha256 != csp2023.sha256 and len(no.sha256) == 64


def test_overrides_change_values_and_keep_the_file(csp2023):
    sc = csp2023.with_overrides({"inertia": 0.3, "actors.japan.budget": 200, "scenario.runs": 10})
    assert sc.parameters.inertia == 0.3 and sc.actors["japan"].budget == 200 and sc.scenario.runs == 10
    assert csp2023.parameters.inertia != 0.3  # the original is untouched
    assert sc.sha256 == csp2023.sha256 and sc.source == csp2023.source


def test_run_takes_overrides_as_keywords(csp2023):
    a = sim.run(csp2023, runs=5, seed=1, inertia=0.0)
    assert np.all(a.values("cambodia.alignment.china") == a.values("cambodia.alignment.china")[:, :1])


def test_distribution_draws_follow_their_form(toy):
    """Uniform, normal and triangular parameters are drawn per run within their bounds."""
    sc = toy(
        "\n[parameters]\ninertia = { low = 0.1, high = 0.3 }\nalignment_noise = { mean = 0.6, sd = 0.1 }\n"
        "influence_rate = { low = 0.1, mode = 0.15, high = 0.3 }\n"
    )
    from sim.model import HedgingModel

    m = HedgingModel(sc, 4000, seed=1)
    assert 0.1 <= m.p.inertia.min() and m.p.inertia.max() <= 0.3 and abs(m.p.inertia.mean() - 0.2) < 0.005
    assert abs(m.p.alignment_noise.mean() - 0.6) < 0.01 and abs(m.p.alignment_noise.std() - 0.1) < 0.01
    assert abs(m.p.influence_rate.mean() - (0.1 + 0.15 + 0.3) / 3) < 0.005


def test_dates_accept_months_and_quarters():
    from sim.quantities import format_date, parse_date

    assert parse_date("2023Q3") == parse_date("2023-07") == parse_date("2023-09")
    assert format_date(parse_date("2023-12")) == "2023Q4"
    with pytest.raises(ValueError):
        parse_date("2023-13")


def test_tension_keys_may_be_written_either_way(toy):
    a = toy('"red-isle" = 0.6\n')  # appended to [tension]
    b = toy('"isle-red" = 0.6\n', name="b.toml")
    assert a.tension_of("isle", "red") == b.tension_of("red", "isle") == 0.6
    assert np.array_equal(sim.run(a, runs=3).data, sim.run(b, runs=3).data)


def test_influence_weights_that_are_all_zero_are_refused_even_as_ranges(toy):
    zero = "{ low = 0.0, high = 0.0 }"
    extra = "\n[parameters]\n" + "".join(
        f"influence_{k} = {zero}\n" for k in ("aid", "alignment", "presence", "engagement")
    )
    with pytest.raises(sim.ScenarioError, match="cannot all be 0"):
        toy(extra)


def test_event_draws_do_not_depend_on_how_the_date_is_written(toy):
    ev = '\n[[events]]\ndate = "{}"\ntitle = "t"\nkind = "criticism"\npower = "red"\nmagnitude = {{ low = 0.1, high = 0.3 }}\n'
    a = sim.run(toy(ev.format("2002Q3")), runs=20)
    b = sim.run(toy(ev.format("2002-08"), name="b.toml"), runs=20)
    assert np.array_equal(a.data, b.data)


def test_later_partnership_wins_whatever_the_file_order(toy):
    ev = '\n[[events]]\ndate = "{}"\ntitle = "{}"\nkind = "partnership"\npower = "blue"\ntier = {}\n'
    up_then_down = ev.format("2003Q1", "down", 3) + ev.format("2001Q1", "up", 1)  # listed out of order
    ens = sim.run(toy(up_then_down), runs=5)
    from sim.model import HedgingModel

    m = HedgingModel(ens.scenario, 1, seed=1)
    m.run()
    blue = m.spec.powers.index("blue")
    assert m.view["tier"][blue, 0] == 3  # tier 3 at the end: the 2003 downgrade is the later event


def test_a_power_can_have_its_own_aid_volatility(csp2023):
    ens = sim.run(csp2023, runs=300)
    cv = {
        p: (ens.values(f"{p}.aid")[:, 1:8].std(axis=0) / ens.values(f"{p}.aid")[:, 1:8].mean(axis=0)).mean()
        for p in ("china", "japan")
    }
    assert cv["china"] > 2 * cv["japan"]  # China's flows volatile, Japan's steady (stylized fact 4)


@pytest.mark.parametrize(
    "dist",
    [("uniform", 0.1, 0.2), ("normal", 0.2, 0.05), ("triangular", 0.1, 0.4, 0.2)],
    ids=lambda d: d[0],
)
def test_distributions_compare_equal_by_value(dist):
    """Equal distributions are equal on every Python: a NaN default for the unused mode made them
    unequal on 3.13 (dataclass equality compares fields one by one), and after a copy through
    pickle (as for worker processes) on 3.12."""
    import pickle

    from sim.quantities import Dist

    assert Dist(*dist) == Dist(*dist)
    assert pickle.loads(pickle.dumps(Dist(*dist))) == Dist(*dist)
    assert hash(Dist(*dist)) == hash(pickle.loads(pickle.dumps(Dist(*dist))))
