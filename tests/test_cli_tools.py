"""The commands compare, scenarios, validate, describe and schema, in-process with CliRunner.

Bad input must end with one line naming the file, key or option, exit code 2 and nothing written.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.scenario import json_schema_text

from .conftest import ROOT, SCENARIOS, one_line_error

# ---- compare -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_writes_tables_and_figures(cli, tmp_path):
    out = tmp_path / "cmp"
    r = cli(
        "compare",
        SCENARIOS / "no_csp.toml",
        SCENARIOS / "csp2023.toml",
        "--runs",
        12,
        "--seed",
        4,
        "--out",
        out,
    )
    assert r.exit_code == 0, r.output
    assert "csp2023 - no_csp at 2026Q4 (12 paired runs)" in r.stdout
    assert f"Results in {out}" in r.stdout
    for name in ("manifest.json", "differences.csv", "differences.md", "summary.csv"):
        assert (out / name).is_file()
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    from sim.plots import SERIES

    assert pngs == sorted(f"{g}.png" for g in SERIES)
    assert json.loads((out / "manifest.json").read_text())["command"].startswith("hedgesim compare")


def test_compare_self_and_dates(cli, tmp_path):
    out = tmp_path / "self"
    csp = SCENARIOS / "csp2023.toml"
    r = cli(
        "compare",
        csp,
        csp,
        "--runs",
        5,
        "--at",
        "2023-07",
        "--at",
        "2026Q4",
        "--out",
        out,
        "--no-figures",
        "-q",
    )
    assert r.exit_code == 0 and r.output == ""
    df = pd.read_csv(out / "differences.csv")
    assert sorted(set(df["date"])) == ["2023Q3", "2026Q4"]
    assert (df["mean"] == 0).all() and (df["higher"] == 0).all()


def test_compare_bad_input(cli, tmp_path):
    csp, out = SCENARIOS / "csp2023.toml", tmp_path / "out"
    one_line_error(cli("compare", csp, "--out", out), "two or more")
    one_line_error(cli("compare", csp, csp, "--at", "2040Q1", "--out", out), "--at 2040Q1", "outside")
    one_line_error(cli("compare", csp, csp, "--at", "soon", "--out", out), "--at soon")
    one_line_error(
        cli("compare", csp, tmp_path / "missing.toml", "--out", out), "missing.toml", "no such file"
    )
    one_line_error(cli("compare", csp, SCENARIOS / "history_2010.toml", "--out", out), "same horizon")
    assert not out.exists()  # nothing written
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    one_line_error(cli("compare", csp, csp, "--runs", 2, "--out", out), "not empty", "--force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    r = cli("compare", csp, csp, "--runs", "0")
    assert r.exit_code == 2 and "--runs" in r.stderr


# ---- scenarios -----------------------------------------------------------------------------------


def test_scenarios_lists_bundled_with_titles(cli):
    r = cli("scenarios")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(list(SCENARIOS.glob("*.toml")))
    csp = next(ln for ln in lines if "csp2023.toml" in ln)
    assert "Cambodia-Japan Comprehensive Strategic Partnership (2023)" in csp


def test_scenarios_bad_input(cli, tmp_path):
    one_line_error(cli("scenarios", tmp_path / "nowhere"), "nowhere", "no such folder")
    one_line_error(cli("scenarios", tmp_path), "no .toml")
    (tmp_path / "good.toml").write_text((SCENARIOS / "csp2023.toml").read_text())
    (tmp_path / "zbad.toml").write_text("[scenario\n")
    r = cli("scenarios", tmp_path)
    one_line_error(r, "zbad.toml", "TOML syntax error")
    assert "good.toml" in r.stdout  # the good ones are still listed


# ---- validate ------------------------------------------------------------------------------------


def test_validate_good_files(cli):
    files = sorted(SCENARIOS.glob("*.toml"))
    r = cli("validate", *files)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count(": ok (") == len(files)


def test_validate_reports_each_bad_file(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    text = (SCENARIOS / "csp2023.toml").read_text().replace("inertia = {", "inertai = {")
    bad.write_text(text)
    r = cli("validate", SCENARIOS / "no_csp.toml", bad, tmp_path)
    assert r.exit_code == 2
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 2
    assert (
        "bad.toml:" in errors[0]
        and "parameters.inertai" in errors[0]
        and "did you mean 'inertia'" in errors[0]
    )
    assert "is a directory" in errors[1]
    assert "no_csp.toml: ok" in r.stdout


# ---- describe ------------------------------------------------------------------------------------


def test_describe_tells_what_a_scenario_assumes(cli):
    r = cli("describe", SCENARIOS / "no_csp.toml")
    assert r.exit_code == 0
    out = r.stdout
    assert "Counterfactual: changes csp2023.toml" in out and "without the event: Japan-Cambodia CSP" in out
    assert (
        "toward Japan: alignment economic 0.22, security 0.25, diplomatic 0.36; dependence 0.135, "
        "tier 2 (strategic partnership)"
    ) in out
    assert "Decisions: both" in out
    assert "*inertia" in out and "uniform 0.15 to 0.25" in out  # set by the scenario, a distribution
    assert " standing_value " in out  # a default is listed too
    assert "Timeline: 17 events" in out and "Japan-Cambodia CSP" not in out.split("Timeline")[1]
    assert "source: https://www.postguam.com/" in out
    assert out.index("2021Q4  sanctions") < out.index("2023Q4  naval_access")  # in date order


def test_describe_bad_input(cli, tmp_path):
    one_line_error(cli("describe", tmp_path / "none.toml"), "none.toml", "no such file")
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    one_line_error(cli("describe", empty), "empty.toml", "is empty")


# ---- schema --------------------------------------------------------------------------------------


def test_schema_prints_the_current_schema(cli):
    r = cli("schema")
    assert r.exit_code == 0
    assert r.stdout == json_schema_text()
    assert json.loads(r.stdout)["title"] == "hedgesim scenario"
    # the copy shipped for editors is current
    assert (ROOT / "scenarios" / "scenario.schema.json").read_text() == r.stdout


def test_schema_bad_input(cli):
    r = cli("schema", "extra")
    assert r.exit_code == 2 and "unexpected extra argument" in r.stderr.lower()


# ---- run (the command the others stand beside) ----------------------------------------------------


def test_run_writes_a_results_folder(cli, tmp_path):
    out = tmp_path / "run"
    r = cli("run", SCENARIOS / "ruritania.toml", "--runs", 8, "--seed", 3, "--out", out, "--no-figures")
    assert r.exit_code == 0, r.output
    assert "Ruritania" in r.stdout and f"Results in {out}" in r.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["runs"]) == (3, 8)
    assert "ruritania.alignment.westmark" in manifest["variables"]  # another cast, same code


def test_run_bad_input(cli, tmp_path):
    out = tmp_path / "run"
    one_line_error(
        cli("run", SCENARIOS / "csp2023.toml", "--set", "inertai=0.3", "--out", out), "--set inertai"
    )
    one_line_error(
        cli("run", SCENARIOS / "csp2023.toml", "--set", "inertia=7", "--out", out), "--set inertia"
    )
    assert not out.exists()
