"""What must hold in every run, at every step, for any valid input."""

from __future__ import annotations

import numpy as np
import pytest

import sim

EXTREME = {
    "inertia": 1.0,
    "temperature": 0.01,
    "weight_economy": 10.0,
    "weight_security": 10.0,
    "weight_regime": 10.0,
    "weight_entrapment": 10.0,
    "weight_diversification": 10.0,
    "weight_partnership": 10.0,
    "alignment_noise": 2.0,
    "aid_noise": 2.0,
    "tension_noise": 0.5,
    "competition": 10.0,
    "influence_rate": 1.0,
    "tension_relax": 0.0,
    "tension_rivalry": 1.0,
    "dependence_rate": 1.0,
}


def check(ens) -> None:
    sc = ens.scenario
    for v in ens.variables:
        x = ens.values(v)
        assert np.all(np.isfinite(x)), v
        if v.endswith(".aid"):
            assert np.all(x >= 0), v
        else:
            assert np.all((x >= 0) & (x <= 1)), v
    align = np.stack([ens.values(f"{sc.small}.alignment.{p}") for p in sc.powers])
    assert np.allclose(align.sum(axis=0), 1.0, atol=1e-12)  # on the simplex
    dep = np.stack([ens.values(f"{sc.small}.dependence.{p}") for p in sc.powers])
    assert np.allclose(dep.sum(axis=0), 1.0, atol=1e-12)


def test_flagship_stays_in_range(csp2023):
    check(sim.run(csp2023, runs=200))


@pytest.mark.parametrize("extreme", [EXTREME, {k: 0.0 for k in EXTREME if k != "temperature"}])
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


def test_hedging_index_bounds():
    from sim.agents import hedging_index

    assert hedging_index(np.array([[1 / 3], [1 / 3], [1 / 3]]))[0] == pytest.approx(1.0)
    assert hedging_index(np.array([[1.0], [0.0], [0.0]]))[0] == pytest.approx(0.0)
