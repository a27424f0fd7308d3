"""The named patterns of sim/patterns.py (what `hedgesim check` reports) on the bundled scenarios,
over 500 runs with each scenario's own seed.

Means over 500 runs have standard errors near 0.002 for these variables (sd ~ 0.03-0.05), so the
thresholds of the patterns are many standard errors away: a change in what holds means the model
changed, not bad luck. The patterns that the model is known not to reproduce are checked to fail
still (as a strict expected failure would), so that the gap stays visible.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import patterns

from .conftest import SCENARIOS

pytestmark = pytest.mark.slow  # four 500-run ensembles per scenario

RUNS = 500

#: Applicable patterns that do not hold, per scenario, besides the known failures; `hedgesim check`
#: reports them, and so does this list. history_2010 does not lean to China diplomatically in 2012
#: or 2016 (its diplomatic share of China is 0.485 and 0.468), and in most of its runs Japan's aid
#: (about 110 USD m a quarter, 127 with the 2023 loan) passes China's volatile aid (about 155, noise
#: sd 0.2) in some quarter, so "China gives the most at every date" fails there.
FAILING = {"csp2023": set(), "history_2010": {"shields_china_2012", "shields_china_2016", "aid_order"}}


@pytest.fixture(scope="module")
def reports():
    return {n: patterns.evaluate(SCENARIOS / f"{n}.toml", runs=RUNS) for n in FAILING}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_the_patterns_the_model_reproduces_hold(reports, name):
    report = reports[name]
    applied = [r for r in report.results if r.applies]
    assert len(applied) >= 10
    failing = {r.pattern.name for r in applied if not r.holds and not r.pattern.known_failure}
    assert failing == FAILING[name]


@pytest.mark.parametrize("name", sorted(FAILING))
def test_known_failures_still_fail(reports, name):
    """Case file N6 (development finance fell 30% in 2022) and N14 (fewer than half of the elite
    choose China in 2024): the model's China keeps its aid near its 2020 level through 2022, and
    Cambodia's alignment leans to China far more than its surveyed elite."""
    for pattern in ("china_finance_falls_2022", "elite_split_2024"):
        r = reports[name].result(pattern)
        assert r.applies and r.holds is False, pattern


def test_partnership_effects_hold_run_by_run(reports):
    """csp2023 with and without the Japan CSP: the same run with and without it, nearly every run
    (the tier acts only through its channels: tests/test_explanation.py)."""
    r = reports["csp2023"].result("japan_partnership_raises_influence")
    assert np.mean(r.values > 0) > 0.99
    r = reports["csp2023"].result("ream_draws_security_alignment")
    assert np.mean(r.values > 0) > 0.95


def test_naval_access_changes_nothing_before_its_first_event(reports):
    """Chinese access at Ream (2022Q2, 2023Q4 in csp2023): no difference before the first event."""
    import sim

    sc = sim.load_scenario(SCENARIOS / "csp2023.toml")
    ens = reports["csp2023"].ensemble
    without = sim.run(
        sc.without_events(*[t for t in patterns.REAM if t in {e.title for e in sc.events}]), runs=RUNS
    )
    before = ens.values("tension.china-us")[:, :9] - without.values("tension.china-us")[:, :9]
    assert np.allclose(before, 0)  # 2020Q1-2022Q1
