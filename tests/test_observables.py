"""Observation models (sim/observables.py), each on a case whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import observables as om

DATES = ["2010Q1", "2010Q2", "2010Q3", "2010Q4", "2011Q1", "2011Q2"]


def test_yearly_means_the_quarters_of_each_year_and_nan_where_none():
    v = np.array([[1, 2, 3, 4, 10, 20], [0, 0, 0, 0, 1, 1]], dtype=float)
    y = om.yearly(v, DATES, [2010, 2011, 2012])
    assert y[:, 0] == pytest.approx([2.5, 0.0])
    assert y[:, 1] == pytest.approx([15.0, 1.0])
    assert np.isnan(y[:, 2]).all()


def test_aid_shares_divide_by_the_total_and_split_evenly_when_nobody_gives():
    s = om.aid_shares(
        {"china": np.array([200.0, 0.0]), "japan": np.array([100.0, 0.0]), "us": np.array([100.0, 0.0])}
    )
    assert s["china"] == pytest.approx([0.5, 1 / 3])
    assert s["japan"] == pytest.approx([0.25, 1 / 3])
    assert sum(s.values()) == pytest.approx([1.0, 1.0])


def test_elite_choice_is_chinas_share_of_china_and_the_us():
    assert om.elite_choice_share(np.array([0.6, 0.3]), np.array([0.2, 0.3])) == pytest.approx([0.75, 0.5])


def test_unga_map_recovers_a_known_line_and_clips_to_shares():
    x = np.array([0.1, 0.3, 0.5, 0.7])
    m = om.UngaMap.fit(x, 0.1 + 1.2 * x)
    assert (m.intercept, m.slope) == pytest.approx((0.1, 1.2))
    assert m.rmse == pytest.approx(0.0, abs=1e-12) and m.n == 4
    assert m.predict(np.array([0.0, 0.5, 1.0])) == pytest.approx([0.1, 0.7, 1.0])  # 1.3 clipped
    with pytest.raises(ValueError, match="two points"):
        om.UngaMap.fit(np.array([0.2, 0.2]), np.array([0.5, 0.6]))


class FakeEnsemble:
    """What the observation models read from an ensemble: values(name) and dates."""

    def __init__(self, series: dict[str, np.ndarray], dates: list[str]):
        self.series, self.dates = series, dates

    def values(self, name: str) -> np.ndarray:
        return self.series[name]


def test_fit_unga_map_pairs_yearly_diplomatic_shares_with_the_observed_agreement():
    dates = [f"{y}Q{q}" for y in (1999, 2000) for q in (1, 2, 3, 4)]
    share = {"china": 0.6, "japan": 0.3, "us": 0.1}
    series = {
        f"cambodia.alignment.diplomatic.{p}": np.full((3, 8), s) + np.array([[-0.01], [0.0], [0.01]])
        for p, s in share.items()
    }
    unga = pd.DataFrame(
        [(y, p, "all", 50, 0.2 + 1.0 * s) for y in (1999, 2000) for p, s in share.items()],
        columns=["year", "partner", "issue", "votes", "agreement"],
    )
    m = om.fit_unga_map(FakeEnsemble(series, dates), unga, years=(1999, 2000))
    assert (m.intercept, m.slope) == pytest.approx((0.2, 1.0))
    pred = om.unga_predicted(FakeEnsemble(series, dates), m, [2000])
    assert pred["china"][:, 0] == pytest.approx([0.79, 0.8, 0.81])


def test_unga_observed_gives_nan_for_a_missing_year():
    unga = pd.DataFrame(
        [(1999, p, "all", 10, 0.5) for p in om.POWERS],
        columns=["year", "partner", "issue", "votes", "agreement"],
    )
    got = om.unga_observed(unga, [1998, 1999])
    assert np.isnan(got["us"][0]) and got["us"][1] == 0.5


def test_observed_points_on_the_dashboards_scales():
    import sim

    from .conftest import SCENARIOS

    history = sim.load_scenario(SCENARIOS / "history_1999.toml")
    dip = {p: (x, y) for p, x, y in om.observed_points(history, "alignment_diplomatic")}
    assert set(dip) == set(om.POWERS)
    x, china = dip["china"]
    assert x[0] == 1999.375 and x[-1] == 2015.375  # 1999-2015: inside the scenario, mid-year
    # 1999: agreement 0.8171, 0.5233, 0.1667 with China, Japan, the US (data/unga), as shares
    assert china[0] == pytest.approx(0.8171 / (0.8171 + 0.5233 + 0.1667))
    assert sum(y for _, y in dip.values()) == pytest.approx(np.ones(len(x)))
    aid = {p: (x, y) for p, x, y in om.observed_points(history, "aid")}
    us_x, us_y = aid["us"]
    assert 10.0 in us_y[us_x == 1999 + 4 + 0.375]  # USAID's $40m in 2003 (data/aid): 10 a quarter
    csp = sim.load_scenario(SCENARIOS / "csp2023.toml")
    assert om.observed_points(csp, "alignment_diplomatic") == []  # the votes end in 2015
    assert [p for p, _, _ in om.observed_points(csp, "aid")] == ["us"]  # N7: about $62m in 2021
    assert om.observed_points(sim.load_scenario(SCENARIOS / "ruritania.toml"), "aid") == []
    assert om.observed_points(history, "influence") == []


def test_the_dashboard_draws_observed_points_where_they_exist():
    import sim
    from sim.dashboard.charts import PanelCanvas

    from .conftest import SCENARIOS

    for name, n in (("history_1999", 17 * 3), ("csp2023", 0)):
        ens = sim.run(sim.load_scenario(SCENARIOS / f"{name}.toml"), runs=2, seed=1)
        canvas = PanelCanvas(ens, "alignment_diplomatic")
        canvas.png(ens)
        from matplotlib.collections import PathCollection

        drawn = sum(len(c.get_offsets()) for c in canvas.ax.collections if isinstance(c, PathCollection))
        assert drawn == n, name
        legend = [t.get_text() for t in canvas.fig.legends[0].get_texts()]
        assert ("observed" in legend) == (n > 0)
