"""What carries a difference: the partnership works only through its channels, and the
decomposition of ``hedgesim explain`` adds up."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim.cli import main
from sim.explanation import explain
from sim.scenario import MECHANISMS

from .conftest import SCENARIOS

ALL_OFF = {f"mechanisms.{k}": False for k in MECHANISMS}


@pytest.fixture(scope="module")
def pair():
    return sim.load_scenario(SCENARIOS / "no_csp.toml"), sim.load_scenario(SCENARIOS / "csp2023.toml")


def test_with_every_mechanism_off_the_partnership_changes_nothing(pair):
    """No tier enters influence or alignment directly: with its channels and the powers' decisions
    switched off, csp2023 and no_csp are the same to the last bit in every output but the tier."""
    a, b = (sc.with_overrides(ALL_OFF) for sc in pair)
    ea, eb = sim.run(a, runs=30, seed=3), sim.run(b, runs=30, seed=3)
    assert not np.array_equal(ea.values("japan.tier"), eb.values("japan.tier"))  # the upgrade is there
    for v in ea.variables:
        if not v.endswith(".tier"):
            assert np.array_equal(ea.values(v), eb.values(v)), v


def test_with_the_mechanisms_on_the_partnership_has_an_effect(pair):
    ea, eb = (sim.run(sc, runs=30, seed=3) for sc in pair)
    assert np.all(eb.final("japan.influence") > ea.final("japan.influence"))


def test_the_leader_reacts_to_the_partnership(pair):
    """China's policy differs with and without Japan's upgrade: the leader answers a challenger."""
    ea, eb = (sim.run(sc, runs=30, seed=3) for sc in pair)
    diff = eb.values("china.aid") - ea.values("china.aid")
    t = pair[1].dates.index("2022Q4")
    assert np.all(diff[:, :t] == 0)
    assert np.mean(diff[:, t + 2 :]) > 1.0  # USD m per quarter, on average over runs and dates


def test_the_parts_add_up_to_the_total(pair):
    result = explain(*pair, runs=40, seed=5)
    t = result.table
    parts = t[[*result.channels, "interaction", "not carried"]].sum(axis=1)
    assert np.allclose(parts, t["total"], rtol=0, atol=1e-12)
    assert (t["not carried"] == 0).all()  # the two scenarios differ by the partnership alone
    assert t.loc["japan.influence", "total"] > 0
    assert t.loc["japan.influence", "aid_credibility"] > 0


def test_a_difference_carried_by_one_channel_is_all_that_channels(pair):
    """Known answer: with every other mechanism off in both scenarios, the one left carries the
    whole difference, with no interaction and nothing uncarried."""
    others = {f"mechanisms.{k}": False for k in MECHANISMS if k != "aid_credibility"}
    a, b = (sc.with_overrides(others) for sc in pair)
    result = explain(a, b, runs=20, seed=5, channels=["aid_credibility"])
    t = result.table
    assert np.allclose(t["aid_credibility"], t["total"], rtol=0, atol=1e-12)
    assert np.allclose(t["interaction"], 0, atol=1e-12) and (t["not carried"] == 0).all()
    assert t.loc["japan.influence", "total"] > 0


def test_explain_command_prints_the_table_and_refuses_bad_input(tmp_path):
    runner = CliRunner()
    a, b = str(SCENARIOS / "no_csp.toml"), str(SCENARIOS / "csp2023.toml")
    out = tmp_path / "parts.csv"
    r = runner.invoke(
        main, ["explain", a, b, "--runs", "10", "--output", "japan.influence", "--csv", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "japan.influence" in r.output and "aid_credibility" in r.output and "interaction" in r.output
    assert out.read_text().startswith("output,total,aid_credibility")
    r = runner.invoke(main, ["explain", a, b, "--csv", str(out)])
    assert r.exit_code == 2 and "exists" in r.output
    r = runner.invoke(main, ["explain", a, b, "--runs", "5", "--channel", "luck"])
    assert r.exit_code == 2 and "unknown mechanism 'luck'" in r.output
    r = runner.invoke(main, ["explain", a, b, "--runs", "5", "--at", "1999Q1"])
    assert r.exit_code == 2 and "--at" in r.output
