"""The brief's visible patterns, stated over the ensemble (500 runs, the scenario's own seed).

Means over 500 runs have standard errors near 0.002 for these variables (sd ~ 0.03-0.05), so the
margins below are many standard errors wide: a failure means the model changed, not bad luck.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim

from .conftest import SCENARIOS

pytestmark = (
    pytest.mark.slow
)  # four 500-run ensembles: the whole suite runs them, the fast part on other Pythons does not

RUNS = 500


@pytest.fixture(scope="module")
def ensembles():
    names = ("csp2023", "no_csp", "no_ream", "history_2010")
    return {n: sim.run(sim.load_scenario(SCENARIOS / f"{n}.toml"), runs=RUNS) for n in names}


def end_mean(ens, var):
    return float(ens.final(var).mean())


def test_partnership_raises_japan_influence_and_hedging(ensembles):
    """csp2023 vs no_csp: with the upgrade, Japan's influence and Cambodia's hedging index end
    higher (the brief's first pattern; Cheunboran 2019 reads Japan as Cambodia's key hedge). No
    equation puts this in: the tier acts only through its channels (tests/test_explain.py). The
    effect is small: +0.02 of influence (the first version wrote +0.12 into an equation)."""
    csp, no = ensembles["csp2023"], ensembles["no_csp"]
    assert end_mean(csp, "japan.influence") - end_mean(no, "japan.influence") > 0.01
    assert end_mean(csp, "cambodia.hedging_index") - end_mean(no, "cambodia.hedging_index") > 0.005
    # paired: the same run with and without the upgrade, in nearly every run
    assert np.mean(csp.final("japan.influence") > no.final("japan.influence")) > 0.99


@pytest.mark.parametrize("name", ["csp2023", "history_2010"])
def test_china_keeps_largest_influence_and_alignment(ensembles, name):
    """China keeps the largest influence and Cambodia's largest alignment share at every date
    (stylized facts 1-4: dominant investor, creditor and donor)."""
    ens = ensembles[name]
    for var in ("{}.influence", "cambodia.alignment.{}", "cambodia.alignment.economic.{}"):
        china = ens.values(var.format("china")).mean(axis=0)
        others = np.maximum(
            ens.values(var.format("japan")).mean(axis=0), ens.values(var.format("us")).mean(axis=0)
        )
        assert np.all(china > others + 0.02), var  # 0.02 is ten standard errors


def test_naval_access_raises_china_us_tension(ensembles):
    """csp2023 vs no_ream: Chinese access at Ream (2022Q2, 2023Q4) raises China-US tension from
    then on (Walt 1987: capability on site and intent)."""
    csp, no = ensembles["csp2023"], ensembles["no_ream"]
    t = csp.dates.index("2023Q4")
    before = csp.values("tension.china-us")[:, :9].mean(axis=0) - no.values("tension.china-us")[:, :9].mean(
        axis=0
    )
    after = csp.values("tension.china-us")[:, t:].mean(axis=0) - no.values("tension.china-us")[:, t:].mean(
        axis=0
    )
    assert np.allclose(before, 0)  # 2020Q1-2022Q1: no difference before the first access event
    assert np.all(after > 0.03)


def test_china_dominates_aid_and_dependence(ensembles):
    """The inputs reflect the case numbers: China the largest donor (N6) and the largest source of
    dependence (investment and debt, N4 and N11-N12), Japan second in aid, US aid small (N7)."""
    ens = ensembles["csp2023"]
    aid = {p: ens.values(f"{p}.aid").mean(axis=0) for p in ("china", "japan", "us")}
    assert np.all(aid["china"] > aid["japan"]) and np.all(aid["japan"] > aid["us"])
    assert 150 < aid["china"][0] < 250 and aid["us"][0] < 25  # USD m per quarter, as calibrated
    dep = {p: ens.values(f"cambodia.dependence.{p}").mean(axis=0) for p in ("china", "japan", "us")}
    assert np.all(dep["china"] > 0.5)


def test_chinese_access_at_ream_draws_cambodia_closer_in_security(ensembles):
    """csp2023 vs no_ream: with Chinese access, Cambodia's security alignment with China ends higher.
    Threat now grows with hostility, not presence alone (Walt's offensive intentions), and China's
    tension with Cambodia is low, so access reads as protection against the US rather than as a
    threat: the first version, in which any presence threatened, found the opposite."""
    csp, no = ensembles["csp2023"], ensembles["no_ream"]
    var = "cambodia.alignment.security.china"
    assert end_mean(csp, var) - end_mean(no, var) > 0.05
    assert np.mean(csp.final(var) > no.final(var)) > 0.95


@pytest.mark.xfail(strict=True, reason="not reproduced: the model's Chinese aid does not fall in 2022")
def test_chinese_development_finance_falls_in_2022(ensembles):
    """Case file N6: official development finance fell 30% in 2022, China's share of it large.
    The model's China keeps its aid near its 2020 level through 2022: nothing in the scenario or
    the decision rule lowers it (the fall came from China's own lending retreat, which the model
    does not represent). Kept as an expected failure so that the gap stays visible."""
    aid = ensembles["csp2023"].values("china.aid").mean(axis=0)
    year = {y: aid[4 * (y - 2020) : 4 * (y - 2020) + 4].mean() for y in (2021, 2022)}
    assert year[2022] < 0.9 * year[2021]
