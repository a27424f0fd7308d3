"""hedgesim check: the named patterns of sim/patterns.py, their table and figure, and bad input."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import sim
from sim import patterns

from .conftest import ROOT, SCENARIOS, one_line_error


def test_every_pattern_cites_a_source_and_has_a_unique_name():
    names = patterns.pattern_names()
    assert len(names) == len(set(names)) >= 10
    for p in patterns.PATTERNS:
        assert p.source.strip() and p.description.strip(), p.name


def test_a_scenario_built_to_fail_is_reported_as_failing(cli, tmp_path):
    """csp2023 with China giving no aid: China's share of the powers' aid cannot exceed a third."""
    out = tmp_path / "chk"
    r = cli(
        "check", SCENARIOS / "csp2023.toml", "--runs", "10", "--out", out, "--no-figures",
        "--set", "actors.china.budget=0", "--set", "actors.china.aid=0",
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("china_aid_over_a_third"))
    assert row.rstrip().endswith("NO")
    table = pd.read_csv(out / "patterns.csv")
    got = table.set_index("pattern")
    assert not got.loc["china_aid_over_a_third", "holds"]
    assert got.loc["china_aid_over_a_third", "measured"] == pytest.approx(0.0)
    assert got.loc["unga_china", "holds"] != got.loc["unga_china", "holds"]  # NaN: not applicable here


def test_the_unchanged_scenario_holds_that_pattern():
    report = patterns.evaluate(sim.load_scenario(SCENARIOS / "csp2023.toml"), runs=10)
    r = report.result("china_aid_over_a_third")
    assert r.applies and r.holds and r.low <= r.mean <= r.high
    assert not report.result("unga_us").applies  # csp2023 starts in 2020
    assert report.result("japan_partnership_raises_influence").applies  # the CSP event is there


@pytest.mark.slow
def test_check_on_the_long_history_writes_its_table_and_figure(cli, tmp_path):
    out = tmp_path / "chk"
    r = cli("check", SCENARIOS / "history_1999.toml", "--runs", "20", "--out", out)
    assert r.exit_code in (0, 1), r.output
    assert sorted(p.name for p in out.iterdir()) == ["check.png", "manifest.json", "patterns.csv"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 20 and manifest["seed"] == 19990430 and len(manifest["sha256"]) == 64
    table = pd.read_csv(out / "patterns.csv")
    assert set(table["pattern"]) == set(patterns.pattern_names())
    assert table["holds"].notna().all()  # every pattern applies to 1999-2026
    assert "UN voting map (fitted 1999-2011)" in r.stdout


def test_check_bad_input_is_one_line_and_writes_nothing(cli, tmp_path):
    one_line_error(cli("check", tmp_path / "nope.toml"), "nope.toml", "no such file")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    one_line_error(cli("check", SCENARIOS / "csp2023.toml", "--out", out), "taken")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "year,partner,issue,votes,agreement\n1999,china,all,10,1.7\n",
            ["cambodia_unga_agreement.csv:2", "agreement"],
        ),
        ("year,partner,votes\n1999,china,10\n", ["cambodia_unga_agreement.csv", "missing column"]),
        ("year,partner,issue,votes,agreement\n1999,russia,all,10,0.5\n", [":2", "partner"]),
    ],
)
def test_a_bad_data_file_is_one_line_and_exit_code_2(cli, tmp_path, monkeypatch, text, words):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    (data / "unga" / "cambodia_unga_agreement.csv").write_text(text)
    monkeypatch.setenv("HEDGESIM_DATA", str(data))
    out = tmp_path / "chk"
    one_line_error(cli("check", SCENARIOS / "history_1999.toml", "--runs", "2", "--out", out), *words)
    assert not out.exists()


def test_a_scenario_without_the_case_s_powers_is_told_so_not_given_years():
    from sim.patterns import evaluate

    report = evaluate(sim.load_scenario(SCENARIOS / "ruritania.toml"), runs=2, seed=1)
    assert {r.reason for r in report.results} == {"needs China, Japan and the US"}
