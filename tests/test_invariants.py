"""What must hold in every run, at every step, for any valid input."""

from __future__ import annotations

import numpy as np
import pytest

import sim

from .conftest import check_invariants, share_groups

#: Every parameter at the top of its range (the second case puts them all at 0).
EXTREME = {
    "inertia": 1.0,
    "standing_value": 100.0,
    "rivalry": 10.0,
    "policy_rate": 1.0,
    "presence_cost": 0.0,
    "engagement_cost": 0.0,
    "pressure_cost": 0.0,
    "weight_aid": 200.0,
    "weight_protection": 200.0,
    "weight_threat": 200.0,
    "weight_regime": 200.0,
    "weight_entrapment": 200.0,
    "weight_overdependence": 200.0,
    "alignment_noise": 5.0,
    "aid_noise": 2.0,
    "tension_noise": 0.5,
    "tension_pressure": 1.0,
    "influence_rate": 1.0,
    "tension_relax": 0.0,
    "tension_rivalry": 1.0,
    "dependence_rate": 1.0,
    "tier_credibility": 1.0,
}


def check(ens) -> None:
    """The invariants of every run (tests/conftest.py), and all five families of shares present:
    alignment (the mean and each of three dimensions) and dependence."""
    check_invariants(ens)
    assert len(share_groups(ens.variables)) == 5


def test_flagship_stays_in_range(csp2023):
    check(sim.run(csp2023, runs=200))


@pytest.mark.parametrize("extreme", [EXTREME, {k: 0.0 for k in EXTREME}])
def test_century_with_extreme_parameters_stays_finite_and_in_range(csp2023, extreme):
    """A 100-year horizon with parameters at the edges of their ranges: no NaN, nothing out of range."""
    long = csp2023.with_overrides({"scenario.end": "2120Q1", **extreme})
    assert long.steps == 400
    check(sim.run(long, runs=100, seed=3))


def test_all_aid_zero_keeps_shares_defined(toy):
    """With no aid at all, aid shares are equal (not 0/0) and nothing turns NaN."""
    sc = toy().with_overrides({"actors.red.budget": 0.0, "actors.blue.budget": 0.0})
    ens = sim.run(sc, runs=10)
    check(ens)
    assert np.all(ens.values("red.aid") == 0)


def test_hedging_parts_at_the_documented_points():
    """sim.hedging's docstring: one power everywhere 0; equidistance 2/3; the classic hedge 0.89."""
    from sim.hedging import evenness, hedging_components

    def index(econ, sec, dip):
        return hedging_components(np.array([econ, sec, dip], dtype=float)[:, :, None])

    third = [1 / 3] * 3
    one = index([1, 0, 0], [1, 0, 0], [1, 0, 0])
    assert all(one[k][0] == pytest.approx(0.0) for k in one)
    even = index(third, third, third)
    assert even["index"][0] == pytest.approx(2 / 3) and even["divergence"][0] == pytest.approx(0.0)
    hedge = index([1, 0, 0], third, third)
    assert hedge["index"][0] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert hedge["divergence"][0] == pytest.approx(2 / 3) and hedge["ambiguity"][0] == pytest.approx(1.0)
    split = index([1, 0, 0], [0, 1, 0], [0.5, 0.5, 0])  # economy with one, security with another
    assert split["divergence"][0] == pytest.approx(1.0) and split["ambiguity"][0] == pytest.approx(0.0)
    assert evenness(np.array([[1 / 3], [1 / 3], [1 / 3]]))[0] == pytest.approx(1.0)


def test_dependence_stays_a_share_when_a_power_loses_every_tie(toy):
    """A negative cooperation event on the power that held all structural ties leaves the shares
    summing to 1 (the first version fell to 0.872 by the end)."""
    sc = toy(
        '\n[[events]]\ndate = "2001Q1"\ntitle = "cut"\nkind = "cooperation"\npower = "red"\nmagnitude = -1.0\n'
    ).with_overrides({"actors.isle.dependence": {"red": 1.0, "blue": 0.0}})
    check(sim.run(sc, runs=10))
