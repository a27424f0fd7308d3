"""The EMA Workbench connector and scenario discovery with the Workbench's PRIM.

Importing the Workbench (scikit-learn, statsmodels, seaborn) takes seconds, so the tests that do
are marked slow."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from sim.discovery import discover
from sim.ema import ema_model, uncertain_ranges
from sim.sweeps import run_design

from .conftest import SCENARIOS
from .test_bad_input import run_cli

CSP = SCENARIOS / "csp2023.toml"


def planted(folder, n=400, seed=1):
    """A sweep's folder whose metric y is 1 exactly where a > 0.6 and b < 0.3 (c plays no part)."""
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(rng.uniform(0, 1, (n, 3)), columns=["a", "b", "c"])
    t.insert(0, "sample", np.arange(n))
    t["y@end"] = ((t.a > 0.6) & (t.b < 0.3)).astype(float)
    folder.mkdir()
    t.to_csv(folder / "sweep.csv", index=False)
    manifest = {"parameters": [{"name": n} for n in "abc"], "metrics": ["y@end"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.slow
def test_prim_finds_the_planted_box(tmp_path):
    found = discover(planted(tmp_path / "sw"), "y@end > 0.5")
    assert found.cases == int(pd.read_csv(tmp_path / "sw" / "sweep.csv")["y@end"].sum())
    [box] = found.boxes
    limits = box.limits.set_index("parameter")
    assert set(limits.index) == {"a", "b"}  # c is left unrestricted
    assert abs(limits.loc["a", "low"] - 0.6) < 0.05 and abs(limits.loc["b", "high"] - 0.3) < 0.05
    assert box.coverage >= 0.9 and box.density >= 0.9


@pytest.mark.slow
def test_discover_cli_prints_boxes_and_refuses_bad_conditions(tmp_path):
    folder = planted(tmp_path / "sw")
    res = run_cli(["discover", str(folder), "--condition", "y@end > 0.5"], tmp_path)
    assert res.exit_code == 0, res.output
    assert "coverage" in res.output and "<= b <=" in res.output
    for condition, fragment in [("z@end > 0.5", "no metric 'z@end'"), ("y@end = 1", "expected METRIC > X")]:
        bad = run_cli(["discover", str(folder), "--condition", condition], tmp_path)
        assert bad.exit_code == 2 and fragment in bad.output and len(bad.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_workbench_runs_a_small_experiment_on_a_scenario(csp2023):
    from ema_workbench import SequentialEvaluator, perform_experiments

    metric = "cambodia.hedging_index@end"
    model = ema_model(csp2023, [metric], uncertainties=["inertia=0.1:0.3", "weight_aid=1:4"], runs=2, seed=7)
    assert [u.name for u in model.uncertainties] == ["inertia", "weight_aid"]
    assert [o.name for o in model.outcomes] == ["cambodia_hedging_index_end"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SequentialEvaluator(model) as evaluator:
            experiments, outcomes = perform_experiments(model, scenarios=4, evaluator=evaluator)
    X = experiments[["inertia", "weight_aid"]].to_numpy()
    expected = run_design(csp2023, ["inertia", "weight_aid"], X, [metric], replicates=2, seed=7)
    np.testing.assert_allclose(outcomes["cambodia_hedging_index_end"], expected.means(0), rtol=0, atol=1e-12)


def test_uncertainties_come_from_the_file(csp2023):
    ranges = {r.name: (r.low, r.high) for r in uncertain_ranges(csp2023)}
    assert ranges["inertia"] == (csp2023.parameters.inertia.a, csp2023.parameters.inertia.b)
    assert all(lo < hi for lo, hi in ranges.values())


@pytest.mark.parametrize("condition", ["cambodia.hedging_index@end > 2", "cambodia.hedging_index@end < 2"])
def test_no_box_when_every_sample_or_none_is_a_case(csp2023, condition):
    sw = run_design(csp2023, ["inertia"], [[0.1], [0.3]], replicates=1, seed=1)
    found = discover(sw, condition)
    assert found.boxes == [] and found.cases in (0, 2)


def _broken(folder):
    """The ways a sweep's folder can be damaged or not be one, each with its expected words."""
    return {
        "a file": (lambda f: f.write_text("x"), ["is not a folder"]),
        "missing": (lambda f: None, ["no such folder"]),
        "no metric column": (
            lambda f: (
                pd.read_csv(planted(f, 20) / "sweep.csv")
                .drop(columns="y@end")
                .to_csv(f / "sweep.csv", index=False)
            ),
            ["sweep.csv", "no column 'y@end'"],
        ),
        "no parameter column": (
            lambda f: (
                pd.read_csv(planted(f, 20) / "sweep.csv")
                .drop(columns="b")
                .to_csv(f / "sweep.csv", index=False)
            ),
            ["sweep.csv", "no column 'b'"],
        ),
        "text in a column": (
            lambda f: (planted(f, 20) / "sweep.csv").write_text("sample,a,b,c,y@end\n0,0.1,0.2,0.3,lots\n"),
            ["sweep.csv", "y@end", "not a number"],
        ),
        "sweep.csv a folder": (
            lambda f: ((planted(f, 20) / "sweep.csv").unlink(), (f / "sweep.csv").mkdir()),
            ["sweep.csv", "cannot be read"],
        ),
    }


@pytest.mark.parametrize("case", sorted(_broken(None)))
def test_a_folder_that_is_not_a_sweep_is_one_line(tmp_path, case):
    folder = tmp_path / "sw"
    make, words = _broken(folder)[case]
    make(folder)
    res = run_cli(["discover", str(folder), "--condition", "y@end > 0.5"], tmp_path)
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert str(folder) in lines[0] and all(w in lines[0] for w in words), res.output


@pytest.mark.parametrize("condition", [" > 0.5", "> 0.5"])
def test_a_condition_without_a_metric_is_one_line(tmp_path, condition):
    res = run_cli(["discover", str(planted(tmp_path / "sw", 20)), "--condition", condition], tmp_path)
    assert res.exit_code == 2 and "expected METRIC > X" in res.output, res.output
