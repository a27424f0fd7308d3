"""The observed data: the files in data/ load, hold what their sources say, and bad files fail in one line."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from sim import observations as obs
from tests.conftest import ROOT

DATA = ROOT / "data"


@pytest.fixture(scope="module")
def unga():
    return obs.load_unga()


@pytest.fixture(scope="module")
def case():
    return obs.load_case_observations()


# --- UN General Assembly voting agreement ------------------------------------------------------


def test_unga_covers_1993_to_2015_for_the_three_powers(unga):
    years = set(unga["year"])
    # 1998: Cambodia cast no recorded vote (data/unga/README.md); every other year is there.
    assert years == set(range(1993, 2016)) - {1998}
    assert set(unga["partner"]) == {"china", "japan", "us"}
    overall = unga[unga["issue"] == "all"]
    assert overall.groupby("partner")["year"].nunique().eq(22).all()


def test_unga_values_are_shares_of_positive_vote_counts(unga):
    assert unga["agreement"].between(0, 1).all()
    assert (unga["votes"] > 0).all()
    assert not unga.duplicated(["year", "partner", "issue"]).any()


def test_unga_known_value_from_the_source(unga):
    # First row of the shared file: 1993, China, all roll calls: 42 votes, 38 alike (0.9048).
    row = unga.query("year == 1993 and partner == 'china' and issue == 'all'").iloc[0]
    assert row["votes"] == 42
    assert row["agreement"] == pytest.approx(0.9048)


def test_unga_orders_the_powers_as_the_case_file_does(unga):
    # Stylized fact 7 and N13: Cambodia votes most often with China, then Japan, least with the US.
    overall = unga[unga["issue"] == "all"]
    weighted = (
        overall.assign(alike=overall["votes"] * overall["agreement"])
        .groupby("partner")[["alike", "votes"]]
        .sum()
    )
    share = weighted["alike"] / weighted["votes"]
    assert share["china"] > share["japan"] > share["us"]


# --- the case file's numbers ---------------------------------------------------------------------


def test_every_case_observation_has_a_source_and_a_case_row(case):
    assert case["source"].str.match(r"https?://").all()
    assert case["case_row"].str.len().gt(0).all()
    # every row of the case file's table "Numbers" is there
    assert {f"N{i}" for i in range(2, 15)} <= set(case["case_row"])


def test_case_observations_span_1992_to_2025(case):
    assert case["start"].str[:4].astype(int).min() == 1992  # US aid since 1992 (N7)
    assert case["year"].max() == 2025  # the US tariff cut of October 2025
    assert case["year"].between(1992, 2026).all()


def test_case_values_as_the_case_file_states_them(case):
    def one(case_row, indicator, partner, end):
        rows = case.query(
            "case_row == @case_row and indicator == @indicator and partner == @partner and end == @end"
        )
        assert len(rows) == 1
        return rows.iloc[0]

    assert one("N3", "fdi_approved_share", "china", "2019")["value"] == 21.8
    assert one("N3", "fdi_approved_share", "china", "2019")["start"] == "1994"
    assert one("N8", "trade_value", "china", "2022")["value"] == 11.7
    # "below 50% (2024)": an upper bound, no point value
    survey = one("N14", "elite_choose_share", "china", "2024")
    assert survey["qualifier"] == "under" and survey["value_high"] == 50 and pd.isna(survey["value"])
    # "over one-third": a lower bound of 100/3
    debt = one("N12", "public_debt_share", "china", "2024")
    assert debt["qualifier"] == "over" and debt["value_low"] == pytest.approx(100 / 3, abs=1e-4)


def test_case_percentages_lie_in_0_to_100(case):
    pct = case[case["unit"] == "percent"][["value", "value_low", "value_high"]]
    assert ((pct >= 0) & (pct <= 100) | pct.isna()).all().all()


def test_case_confidence_follows_the_readme_rule(case):
    assert set(case["confidence"]) <= {"high", "medium", "low"}
    # case file M, dated only "~2022": two steps below H
    assert case.query("case_row == 'N11' and year == 2022")["confidence"].item() == "low"


def test_load_observations_stacks_every_dataset(case):
    everything = obs.load_observations()
    assert "case" in set(everything["dataset"])
    assert len(everything[everything["dataset"] == "case"]) == len(case)
    assert everything["source"].str.strip().str.len().gt(0).all()


def test_data_folder_can_be_moved_with_the_environment(tmp_path, monkeypatch):
    shutil.copytree(DATA, tmp_path / "data", ignore=shutil.ignore_patterns("*.md"))
    monkeypatch.setenv(obs.DATA_ENV, str(tmp_path / "data"))
    assert obs.data_dir() == tmp_path / "data"
    assert len(obs.load_unga()) > 0
    monkeypatch.setenv(obs.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(obs.ObservationError, match=obs.DATA_ENV):
        obs.load_unga()


# --- trade as reported --------------------------------------------------------------------------


def test_trade_rows_name_their_reporter_and_source():
    trade = obs.load_observations(DATA / "trade" / "observations.csv")
    assert trade["source"].str.match(r"https?://").all()
    assert set(trade["reporter"]) <= {
        "kh_gdce",
        "kh_moc",
        "kh_government",
        "us_census",
        "jetro",
        "cn_mofcom",
        "unnamed",
    }
    # no statistical agency's own publication was read, so nothing is rated high (data/trade/README.md)
    assert set(trade["confidence"]) <= {"medium", "low"}
    assert set(trade.loc[trade["reporter"] == "unnamed", "confidence"]) == {"low"}


def test_trade_holds_the_reported_figures():
    trade = obs.load_observations(DATA / "trade" / "observations.csv")
    full_year = trade[(trade["start"] == trade["end"]) & (trade["indicator"] == "trade_value")]
    china = full_year[(full_year["partner"] == "china") & (full_year["reporter"] == "kh_gdce")]
    assert china.set_index("year")["value"].to_dict() == {2023: 12.26, 2024: 15.18}
    # the two 2022 figures for trade with China, Cambodia's and China's, are both kept
    assert sorted(full_year.query("partner == 'china' and year == 2022")["value"]) == [11.686, 16.02]
    # stylized fact 3: the US buys far more of Cambodia's exports than China does (GDCE, 2022)
    shares = trade.query("indicator == 'export_share' and year == 2022").set_index("partner")["value"]
    assert shares["us"] > 5 * shares["china"]


# --- aid --------------------------------------------------------------------------------------------


def test_aid_rows_follow_the_readme_rules():
    aid = obs.load_observations(DATA / "aid" / "observations.csv")
    assert aid["source"].str.match(r"https?://").all()
    # a figure reposted on a blog is never better than low (data/aid/README.md)
    assert set(aid.loc[aid["source"].str.contains("blogspot"), "confidence"]) == {"low"}
    # US fiscal years run October to September, Japanese ones April to March
    budget = aid[aid["indicator"] == "usaid_budget"]
    assert budget["start"].str.endswith("-10").all() and budget["end"].str.endswith("-09").all()
    assert set(aid.loc[aid["indicator"] == "aid_disbursed", "start"]) == {"2006-04"}


def test_aid_holds_the_documents_figures():
    aid = obs.load_observations(DATA / "aid" / "observations.csv")
    # Japan's statement of June 2007: FY2006 disbursed, the same amount in two units
    japan = aid[(aid["indicator"] == "aid_disbursed") & (aid["partner"] == "japan")].set_index("unit")[
        "value"
    ]
    assert japan.to_dict() == {"usd_m": 110.43, "jpy_bn": 13.252}
    # USAID's FY2006 budget justification, thousands of dollars
    budget = aid[aid["indicator"] == "usaid_budget"].set_index("year")["value"]
    assert budget.to_dict() == {2004: 49010, 2005: 55014, 2006: 44600}
    # China's first appearance in the donors' tally, 2007
    assert (
        aid.query("indicator == 'aid_pledged' and partner == 'china' and year == 2007")["value"].item()
        == 91.54
    )


def test_one_source_may_give_a_figure_in_two_units_but_not_twice_in_one(tmp_path):
    src = DATA / "aid" / "observations.csv"
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    yen = next(i for i, line in enumerate(lines) if ",jpy_bn," in line)
    path = tmp_path / "aid.csv"
    path.write_text("".join(lines + [lines[yen]]), encoding="utf-8")
    with pytest.raises(obs.ObservationError, match=rf":{len(lines) + 1}: repeats an earlier row"):
        obs.load_observations(path)


# --- port calls ---------------------------------------------------------------------------------


def test_port_calls_count_ships_and_the_official_totals():
    calls = obs.load_observations(DATA / "port_calls" / "observations.csv")
    assert set(calls["unit"]) == {"ships", "visits"}
    assert (calls["value"] >= 1).all() and (calls["value"] == calls["value"].round()).all()
    single = calls[calls["indicator"] == "navy_ships_called"]
    # dated US visits: the first two of 2007 and the Savannah, "the first after an eight-year hiatus";
    # the calls of 2008-2016 are only in the Defence Ministry's total
    us_years = sorted(single.loc[single["partner"] == "us", "year"])
    assert us_years == [2007, 2007, 2024]
    # Cambodian Navy, March 2022: Japan's navy nine times since 2008, 27 ships in all
    japan = calls[(calls["partner"] == "japan") & calls["indicator"].str.endswith("_total")]
    assert japan.set_index("unit")["value"].to_dict() == {"visits": 9, "ships": 27}


# --- bad files: one line naming the file, the line and the column ----------------------------------


def _edited(tmp_path, source, name, old, new):
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


UNGA_SRC = DATA / "unga" / "cambodia_unga_agreement.csv"
CASE_SRC = DATA / "case" / "observations.csv"


@pytest.mark.parametrize(
    "old, new, where",
    [
        ("1993,china,all,42,0.9048", "1993,china,all,42,1.9048", ":2: agreement: 1.9048 is not a share"),
        ("1993,china,all,42,0.9048", "1993,china,all,0,0.9048", ":2: votes: '0' is not a whole number >= 1"),
        (
            "1993,china,all,42,0.9048",
            "1993,russia,all,42,0.9048",
            ":2: partner: 'russia' is not one of china, japan, us",
        ),
        ("1993,china,all,42,0.9048", "1993,china,all,42,abc", ":2: agreement: 'abc' is not a number"),
        (
            "1993,china,all,42,0.9048",
            "1993,china,all,42,0.9048\n1993,china,all,42,0.9048",
            ":3: repeats an earlier row",
        ),
        ("year,partner", "yr,partner", ":1: missing column(s) year"),
    ],
)
def test_bad_unga_file_gives_one_line_naming_file_and_row(tmp_path, old, new, where):
    path = _edited(tmp_path, UNGA_SRC, "unga.csv", old, new)
    with pytest.raises(obs.ObservationError) as err:
        obs.load_unga(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert where in message


@pytest.mark.parametrize(
    "old, new, where",
    [
        (
            "N3,fdi_approved_share,china,1994,2019,21.8",
            "N3,fdi_approved_share,china,2020,2019,21.8",
            ":5: end: the period 2020..2019 ends before it starts",
        ),
        (
            "N3,fdi_approved_share,china,1994,2019,21.8",
            "N3,fdi_approved_share,china,1994,2019,121.8",
            ":5: value: 121.8 percent is outside 0..100",
        ),
        (
            "N3,fdi_approved_share,china,1994,2019,21.8",
            "N3,fdi_approved_share,china,1994,19,21.8",
            ":5: end: '19' is not a period",
        ),
        (
            ",,,about,percent,medium,https://english.nna.jp/articles/549",
            ",,,roughly,percent,medium,https://english.nna.jp/articles/549",
            ":2: qualifier: 'roughly' is not one of",
        ),
        (
            ",,,about,percent,medium,https://english.nna.jp/articles/549",
            ",,,about,percent,sure,https://english.nna.jp/articles/549",
            ":2: confidence: 'sure' is not one of high, medium, low",
        ),
        (
            ",,,about,percent,medium,https://english.nna.jp/articles/549",
            ",,,over,percent,medium,https://english.nna.jp/articles/549",
            ":2: value_low: empty, and qualifier 'over' needs it",
        ),
        (
            ",,,about,percent,medium,https://english.nna.jp/articles/549",
            ",,,about,percent,medium,",
            ":2: source: every observation needs its source",
        ),
        ("N2,fdi_approved_share", "X2,fdi_approved_share", ":2: case_row: 'X2' is not a case row"),
    ],
)
def test_bad_case_file_gives_one_line_naming_file_and_row(tmp_path, old, new, where):
    path = _edited(tmp_path, CASE_SRC, "case.csv", old, new)
    with pytest.raises(obs.ObservationError) as err:
        obs.load_case_observations(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert where in message


def test_unreadable_or_missing_file_gives_one_line(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text('year,partner,issue,votes,agreement\n1993,"china,all,42,0.9\n', encoding="utf-8")
    for path in (broken, tmp_path / "absent.csv"):
        with pytest.raises(obs.ObservationError) as err:
            obs.load_unga(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_observation_error_is_a_user_error():
    # The CLI turns HedgesimError into one line and exit code 2.
    from sim.errors import HedgesimError

    assert issubclass(obs.ObservationError, HedgesimError)
