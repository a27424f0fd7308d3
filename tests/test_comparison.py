"""Comparisons: paired statistics, common random numbers, and the comparison's results folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sim
from sim.comparison import COLUMNS, Comparison, compare, paired_stats, write_comparison
from sim.errors import HedgesimError

from .conftest import SCENARIOS


def test_paired_stats_known_answer():
    # differences 1..5: mean 3, sd sqrt(2.5); Student t(0.95, 4 df) = 2.131846786 (any t table)
    a = np.array([10.0, 10, 10, 10, 10])
    s = paired_stats(a, a + np.arange(1, 6))
    half = 2.131846786 * np.sqrt(2.5) / np.sqrt(5)
    assert s["mean"] == pytest.approx(3.0)
    assert s["sd"] == pytest.approx(np.sqrt(2.5))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((3 - half, 3 + half), rel=1e-8)
    # linear interpolation between order statistics: positions 0.2 and 3.8 of 0..4
    assert (s["p05"], s["p95"]) == pytest.approx((1.2, 4.8))
    assert s["higher"] == 1.0 and s["lower"] == 0.0


def test_paired_stats_ties_and_one_run():
    s = paired_stats(np.zeros(5), np.array([-1.0, 0.0, 1e-15, 1.0, 2.0]))
    assert (s["higher"], s["lower"]) == (0.4, 0.2)  # 1e-15 is rounding: a tie
    one = paired_stats(np.array([1.0]), np.array([3.0]))
    assert one["mean"] == 2.0 and np.isnan(one["ci_low"]) and np.isnan(one["sd"])
    with pytest.raises(ValueError):
        paired_stats(np.zeros(3), np.zeros(4))


def test_a_scenario_against_itself_differs_in_no_run(csp2023):
    """Common random numbers: the same scenario twice gives identical runs, so every difference is 0."""
    comp = compare([csp2023, csp2023], runs=30, seed=5)
    assert comp.labels == ["csp2023", "csp2023#2"]
    a, b = comp.ensembles
    assert np.array_equal(a.data, b.data)
    df = comp.differences(at=comp.dates)  # every date
    assert len(df) == len(comp.dates) * len(comp.variables)
    assert (df["mean"] == 0).all() and (df["higher"] == 0).all() and (df["lower"] == 0).all()
    assert (df["ci_low"] == 0).all() and (df["p95"] == 0).all()


def test_known_difference_from_a_presence_shock(csp2023):
    """A held shock adds exactly 0.2 to Japan's presence from 2024Q1: the table must say +0.2 in every
    run from that date and 0 before it; Japan's influence (presence is in its target) ends higher.
    The powers follow the events only (historical), so that no choice of theirs blurs the +0.2."""
    csp2023 = csp2023.with_overrides({"scenario.decisions": "historical"})
    shocked = csp2023.with_events(
        {
            "date": "2024Q1",
            "title": "Extra Japanese presence",
            "kind": "shock",
            "target": "japan.presence",
            "add": 0.2,
        }
    )
    comp = compare([csp2023, shocked], runs=40, seed=11, at=["2023Q4", "2024Q1", "2026Q4"])
    df = comp.differences().set_index(["date", "variable"])
    for date in ("2024Q1", "2026Q4"):
        row = df.loc[(date, "japan.presence")]
        assert row["mean"] == pytest.approx(0.2)
        assert row["ci_low"] == pytest.approx(0.2) and row["ci_high"] == pytest.approx(0.2)
        assert row["p05"] == pytest.approx(0.2) and row["p95"] == pytest.approx(0.2)
        assert row["higher"] == 1.0
    before = df.loc[("2023Q4", "japan.presence")]
    assert before["mean"] == 0 and before["higher"] == 0 and before["lower"] == 0
    # nothing differs before the event in any variable: the runs are paired
    assert (df.loc["2023Q4"]["mean"] == 0).all()
    assert df.loc[("2026Q4", "japan.influence")]["higher"] == 1.0


def test_common_random_numbers_shrink_the_noise_in_a_difference():
    """Law 2015, 11.2: pairing runs by their random numbers makes the paired difference far less noisy
    than the difference of two independently seeded ensembles (its sd at least halves)."""
    crn = compare([SCENARIOS / "no_csp.toml", SCENARIOS / "csp2023.toml"], runs=100, seed=1)
    paired_sd = crn.paired("japan.influence").std(ddof=1)
    a = sim.run(SCENARIOS / "no_csp.toml", runs=100, seed=1).final("japan.influence")
    b = sim.run(SCENARIOS / "csp2023.toml", runs=100, seed=2).final("japan.influence")
    assert paired_sd < 0.5 * (b - a).std(ddof=1)  # about a quarter here


def test_compare_refuses_what_cannot_be_paired(csp2023):
    with pytest.raises(HedgesimError, match="at least two"):
        compare([csp2023])
    with pytest.raises(HedgesimError, match="same horizon"):
        compare([csp2023, SCENARIOS / "history_2010.toml"], runs=2)
    with pytest.raises(HedgesimError, match="outside"):
        compare([csp2023, csp2023], runs=2, at=["2031Q1"])
    with pytest.raises(HedgesimError, match="2023Q5"):
        compare([csp2023, csp2023], runs=2, at=["2023Q5"])
    a = sim.run(csp2023, runs=3, seed=1)
    with pytest.raises(HedgesimError, match="seed"):
        Comparison([a, sim.run(csp2023, runs=3, seed=2)])


def test_write_comparison_folder(tmp_path, csp2023):
    comp = compare([SCENARIOS / "no_csp.toml", csp2023], runs=20, seed=3, at=["2023Q4", "2026Q4"])
    out = write_comparison(comp, tmp_path / "cmp", figures=False, command="test")
    diff = pd.read_csv(out / "differences.csv")
    assert list(diff.columns) == list(COLUMNS)
    assert len(diff) == 2 * len(comp.variables)
    assert set(diff["scenario"]) == {"csp2023"} and set(diff["baseline"]) == {"no_csp"}
    md = (out / "differences.md").read_text()
    assert "## csp2023 - no_csp at 2026Q4" in md and "| japan.influence |" in md
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["scenario"]) == {"no_csp", "csp2023"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["runs"] == 20 and manifest["at"] == ["2023Q4", "2026Q4"]
    assert [s["name"] for s in manifest["scenarios"]] == ["no_csp", "csp2023"]
    assert all(len(s["sha256"]) == 64 for s in manifest["scenarios"])
    # never over a non-empty folder without force; with force, replaced whole
    with pytest.raises(HedgesimError, match="not empty"):
        write_comparison(comp, out, figures=False)
    (out / "stale.txt").write_text("x")
    write_comparison(comp, out, figures=False, force=True)
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cmp"]  # no temporary folder left behind


def test_text_table_lists_changed_variables(csp2023):
    comp = compare([SCENARIOS / "no_csp.toml", csp2023], runs=20, seed=3)
    text = comp.text()
    assert "csp2023 - no_csp at 2026Q4 (20 paired runs)" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("japan.influence"))
    assert "+0.0" in line and line.split()[-2:] == ["100%", "0%"]
    assert "the same in every run:" in text and "china.presence" in text


@pytest.mark.slow
def test_compare_takes_the_ensemble_options_and_they_change_no_number(tmp_path):
    """--workers and --chunk-size reach every scenario's run and leave the table unchanged."""
    from click.testing import CliRunner

    from sim.cli import main

    files = [str(SCENARIOS / "no_csp.toml"), str(SCENARIOS / "csp2023.toml")]
    outs = []
    for extra in ([], ["--workers", "2", "--chunk-size", "7"]):
        out = tmp_path / f"c{len(extra)}"
        res = CliRunner().invoke(
            main, ["compare", *files, "--runs", "30", "--out", str(out), "-q", "--no-figures", *extra]
        )
        assert res.exit_code == 0, res.output
        outs.append((out / "differences.csv").read_bytes())
    assert outs[0] == outs[1]
