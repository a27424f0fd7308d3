"""Research tools: parameters named as --set names them, sweeps, Sobol' and Morris indices.

Known answers by construction: an event dated after an outcome's date cannot move it (index ~ 0);
a parameter swept over a wide range beside others swept over next to nothing ranks first; SALib's
Ishigami function through the same analysis gives its published indices.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.global_sensitivity import analyze, problem, sample, sensitivity
from sim.parameters import PerRun, lookup, parameters, with_values
from sim.sweeps import run_design, sweep

from .conftest import SCENARIOS
from .test_bad_input import run_cli

CSP = str(SCENARIOS / "csp2023.toml")
NO_CSP = str(SCENARIOS / "no_csp.toml")
#: The last event of csp2023 (2026Q1): it cannot move anything dated before it.
LATE = "events[17].magnitude"


def test_parameters_name_every_scalar_with_its_range(csp2023):
    table = {p.name: p for p in parameters(csp2023)}
    assert table["inertia"].value == csp2023.parameters.inertia
    assert (table["inertia"].low, table["inertia"].high) == (0, 1)
    assert table["actors.japan.budget"].value == csp2023.actors["japan"].budget
    assert table["actors.japan.budget"].high == 1e6
    assert not table["actors.japan.budget"].per_run and table["weight_aid"].per_run
    assert table[LATE].description.startswith(csp2023.events[17].title)
    assert lookup(csp2023, "parameters.inertia").name == "inertia"
    # an event's magnitude is set the same way, through --set's addresses
    changed = csp2023.with_overrides({"events[17].magnitude": 0.5})
    assert changed.events[17].magnitude == 0.5


def test_per_run_values_give_what_one_scenario_per_sample_gives(csp2023):
    """The batched sweep (a value per run in one ensemble) equals running each sample's scenario."""
    from sim.model import HedgingModel

    X = np.array([[0.1, 0.2], [0.35, 0.9]])
    names = ["inertia", "events[10].magnitude"]
    sw = run_design(csp2023, names, X, ["cambodia.hedging_index@end"], replicates=3, seed=5)
    for s, row in enumerate(X):
        spec = csp2023.with_overrides(dict(zip(names, row, strict=True)))
        model = HedgingModel(spec, np.arange(3), 5)  # replicate r of every sample is run r
        model.run()
        expected = model.record[model.variables.index("cambodia.hedging_index"), -1]
        np.testing.assert_array_equal(sw.Y[0, s], expected)
    # an actor's value is a fixed number in the model: one scenario per sample, same answer
    budget = csp2023.actors["japan"].budget
    fixed = run_design(csp2023, ["actors.japan.budget"], [[budget], [budget]], replicates=2, seed=5)
    plain = sim.run(csp2023, runs=2, seed=5).final("cambodia.hedging_index")
    np.testing.assert_array_equal(fixed.Y[0], [plain, plain])
    with pytest.raises(ValueError, match="3 values for"):
        sim.run(with_values(csp2023, {"inertia": PerRun(values=np.full(3, 0.3))}), runs=2, seed=5)


def test_a_design_over_actor_values_makes_each_sample_s_scenario_where_it_runs(csp2023, monkeypatch):
    """Sample s runs with its own values; the scenarios are not all built before the first run (a
    design of a million samples would have taken hours and tens of GB first)."""
    import sim.sweeps

    names, X = (
        ["actors.japan.budget", "tension.china-us"],
        np.array([[50.0, 0.2], [300.0, 0.7], [120.0, 0.4]]),
    )
    sw = run_design(csp2023, names, X, ["japan.influence@end"], replicates=2, seed=3, chunk_size=1)
    for s, row in enumerate(X):
        alone = sim.run(csp2023.with_overrides(dict(zip(names, row, strict=True))), runs=2, seed=3)
        np.testing.assert_array_equal(sw.Y[0, s], alone.final("japan.influence"))
    made = []
    real = sim.sweeps.with_values
    monkeypatch.setattr(sim.sweeps, "with_values", lambda *a, **k: made.append(1) or real(*a, **k))
    monkeypatch.setattr(sim.sweeps, "compute", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run_design(csp2023, names[:1], np.linspace(1, 400, 10_000)[:, None], replicates=1, seed=3)
    assert len(made) <= 1


def test_same_tables_whatever_the_chunks(csp2023, tmp_path):
    from sim.research_outputs import write_sweep_into

    args = dict(design="lhs", samples=12, runs=3, seed=3, metrics=["japan.influence@2024Q4"])
    a = sweep(csp2023, ["inertia=0.1:0.4", "weight_aid=1:4"], **args)
    b = sweep(csp2023, ["inertia=0.1:0.4", "weight_aid=1:4"], chunk_size=5, **args)
    np.testing.assert_array_equal(a.Y, b.Y)
    for name, sw in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_sweep_into(sw, tmp_path / name, figures=False)
    assert (tmp_path / "a" / "sweep.csv").read_bytes() == (tmp_path / "b" / "sweep.csv").read_bytes()


@pytest.mark.slow
def test_same_numbers_on_two_processes(csp2023):
    args = dict(design="sobol", samples=16, runs=4, seed=3)
    one = sweep(csp2023, ["inertia=0.1:0.4", "actors.japan.budget=50:150"], workers=1, **args)
    two = sweep(csp2023, ["inertia=0.1:0.4", "actors.japan.budget=50:150"], workers=2, chunk_size=3, **args)
    np.testing.assert_array_equal(one.Y, two.Y)


@pytest.mark.slow
def test_same_numbers_on_dask(csp2023):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        args = dict(design="lhs", samples=10, runs=3, seed=3, against=NO_CSP)
        local = sweep(csp2023, ["inertia=0.1:0.4", "tier_trust=0.2:0.8"], **args)
        remote = sweep(
            csp2023,
            ["inertia=0.1:0.4", "tier_trust=0.2:0.8"],
            dask=cluster.scheduler_address,
            chunk_size=7,
            **args,
        )
    finally:
        cluster.close()
    np.testing.assert_array_equal(local.Y, remote.Y)


def test_an_interrupted_sweep_leaves_no_folder(tmp_path, monkeypatch):
    import sim.sweeps

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.sweeps, "compute", interrupted)
    out = tmp_path / "sw"
    res = run_cli(["sweep", CSP, "--param", "inertia=0.1:0.3", "--out", str(out)], tmp_path)
    assert res.exit_code == 130 and "nothing was written" in res.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["work"]
    res = run_cli(["sweep", CSP, "--param", "inertia=0.1:0.3"], tmp_path)  # the default folder too
    assert res.exit_code == 130 and res.leftovers in ([], ["results"])
    assert not list((tmp_path / "work").rglob("*.csv"))


def test_against_is_a_paired_difference(csp2023):
    args = dict(design="grid", runs=4, seed=9, metrics=["cambodia.hedging_index@end"])
    diff = sweep(csp2023, ["inertia=0.1:0.3:2"], against=NO_CSP, **args)
    a = sweep(csp2023, ["inertia=0.1:0.3:2"], **args)
    b = sweep(NO_CSP, ["inertia=0.1:0.3:2"], **args)
    np.testing.assert_allclose(diff.Y, a.Y - b.Y, rtol=0, atol=1e-15)
    same = sweep(csp2023, ["inertia=0.1:0.3:2"], against=CSP, **args)
    assert not same.Y.any()  # common random numbers: against itself, every difference is 0


def test_grid_design_and_table(csp2023):
    sw = sweep(csp2023, ["inertia=0.1:0.3:3", "weight_aid=1:2:2"], design="grid", runs=2, seed=1)
    t = sw.table()
    assert len(t) == 6 and sorted(set(t["inertia"])) == [0.1, 0.2, 0.3]
    m = "cambodia.hedging_index@end"
    assert (t[f"{m} low95"] <= t[m]).all() and (t[m] <= t[f"{m} high95"]).all()
    np.testing.assert_array_equal(t[m], sw.Y[0].mean(axis=1))


def test_ishigami_through_the_same_analysis_gives_its_published_indices():
    from SALib.test_functions import Ishigami

    prob = problem([(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)])
    X = sample(prob, "sobol", 1024, seed=3)
    r = analyze(prob, X, Ishigami.evaluate(X), "sobol", seed=3, outcome="ishigami")
    t = r.table.set_index("parameter")
    published = {"x1": (0.3139, 0.5576), "x2": (0.4424, 0.4424), "x3": (0.0, 0.2437)}  # a=7, b=0.1
    for x, (s1, st) in published.items():
        assert abs(t.loc[x, "S1"] - s1) <= t.loc[x, "S1_conf"], (x, t.loc[x])
        assert abs(t.loc[x, "ST"] - st) <= t.loc[x, "ST_conf"], (x, t.loc[x])
    assert list(t.index) == ["x1", "x2", "x3"]  # ranked by total index


@pytest.mark.parametrize("method,samples", [("sobol", 32), ("morris", 12)])
def test_known_answers_on_the_model(csp2023, method, samples):
    """weight_aid over a wide range ranks first; inertia over next to nothing and an event after
    the outcome's date get indices near zero."""
    params = ["weight_aid=1:4", "inertia=0.2:0.2001", f"{LATE}=0:1"]
    sa = sensitivity(
        csp2023, params, ["cambodia.hedging_index@2025Q4"], method=method, samples=samples, runs=2, seed=4
    )
    t = sa.results[0].table.set_index("parameter")
    main = "ST" if method == "sobol" else "mu_star"
    assert t.index[0] == "weight_aid"
    assert t.loc[LATE, main] == 0  # the outcome is the same bits whatever the event's magnitude
    assert abs(t.loc["inertia", main]) < 0.05 * t.loc["weight_aid", main]
    if method == "sobol":
        assert abs(t.loc[LATE, "S1"]) < 1e-12 and "ST_half" in t.columns
    v = sa.results[0].variance
    assert 0 <= v["parametric_share"] <= 1 and v["stochastic"] > 0


def test_cli_sweep_writes_a_folder(tmp_path):
    out = tmp_path / "sw"
    res = run_cli(
        ["sweep", CSP, "--param", "inertia=0.1:0.3:2", "--design", "grid", "--runs", "2", "--out", str(out)],
        tmp_path,
    )
    assert res.exit_code == 0, res.output
    assert {"manifest.json", "sweep.csv", "runs.npy", "figures"} <= {p.name for p in out.iterdir()}
    assert np.load(out / "runs.npy").shape == (1, 2, 2)
    again = run_cli(["sweep", CSP, "--param", "inertia=0.1:0.3:2", "--out", str(out)], tmp_path)
    assert again.exit_code == 2 and "--force" in again.output  # never silently overwritten


def test_cli_parameters_lists_the_addresses(tmp_path, csp2023):
    res = run_cli(["parameters", CSP, "--set", "weight_aid=3.5"], tmp_path)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert any(ln.split()[:3] == ["weight_aid", "3.5", "0..200"] for ln in lines)
    inertia = next(ln for ln in lines if ln.startswith("inertia "))
    assert str(csp2023.parameters.inertia) in inertia and " 0..1 " in inertia  # a distribution, shown
    assert any(ln.startswith("actors.japan.budget ") for ln in lines)
    assert any(ln.startswith(f"{LATE} ") for ln in lines)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["sweep", CSP, "--param", "inertai=0.1:0.3"], "did you mean inertia"),
        (["sweep", CSP, "--param", "inertia=0.1:1.5"], "outside the valid range 0..1"),
        (["sweep", CSP, "--param", "inertia=0.3:0.1"], "expected LOW < HIGH"),
        (["sweep", CSP, "--param", "inertia=0.1-0.3"], "expected NAME=LOW:HIGH"),
        (["sweep", CSP, "--param", "inertia=0.1:0.3", "--metric", "cambodia.nope@end"], "no variable"),
        (
            ["sweep", CSP, "--param", "inertia=0.1:0.3", "--metric", "japan.influence@2040Q1"],
            "outside the horizon",
        ),
        (["sweep", CSP, "--param", "events[40].magnitude=0:1"], "no such parameter"),
        (
            ["sensitivity", CSP, "--param", "inertia=0.1:0.3", "--param", "rivalry=0:2", "--samples", "12"],
            "power of 2",
        ),
        (["sensitivity", CSP, "--param", "inertia=0.1:0.3"], "at least two parameters"),
        (["sweep", CSP, "--param", "inertia=0.1:0.3", "--against", "missing.toml"], "no such file"),
        (["sweep", CSP, "--design", "grid", "--param", "inertia=0.1:0.3:\u00b2"], "N must be a whole number"),
        (["sweep", CSP, "--design", "grid", "--param", "inertia=0.1:0.3:99999999999"], "at most 10,000,000"),
        (
            ["sweep", CSP, "--design", "grid"]
            + [
                x
                for n in ("inertia", "rivalry", "policy_rate", "aid_noise")
                for x in ("--param", f"{n}=0:1:100")
            ],
            "100,000,000 grid points",
        ),
        (["sweep", CSP, "--param", "inertia=0.1:0.3:3"], "N (levels) is for"),
        (
            ["sweep", CSP, "--param", "inertia=0.1:0.3:3", "--design", "grid", "--samples", "200"],
            "--samples: is for --design lhs or sobol",
        ),
        (
            ["sweep", CSP, "--design", "grid", "--runs", "1"]
            + [
                a
                for w in ("aid", "alignment", "presence", "engagement")
                for a in ("--param", f"influence_{w}=0:1:2")
            ],
            "design: sample 0: the four influence_* weights cannot all be 0",
        ),
        (["sweep", CSP, "--param", "inertia=0.1:0.3", "--dask", "nonsense"], "expected a scheduler address"),
        (["sweep", CSP, "--param", "inertia=0.1:0.3", "--dask", "foo://h:1"], "unknown protocol 'foo'"),
        (
            ["sweep", CSP, "--param", "inertia=0.1:0.3", "--against", str(SCENARIOS / "history_2010.toml")],
            "a paired difference needs the same dates",
        ),
        (
            [
                "sweep",
                CSP,
                "--param",
                "inertia=0.1:0.3",
                "--metric",
                "japan.aid@end",
                "--metric",
                "japan.aid@end",
            ],
            "--metric japan.aid@end: given twice",
        ),
        (["sensitivity", CSP, "--param", "inertia=0:1:3", "--param", "rivalry=0:2"], "N (levels) is for"),
    ],
)
def test_bad_research_input_gives_one_line_and_exit_2(tmp_path, args, fragment):
    res = run_cli([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.output
    assert not (tmp_path / "out").exists() and res.leftovers == []


def test_api_exports():
    assert sim.sweep is sweep and sim.sensitivity is sensitivity


@pytest.mark.slow
def test_xarray_pandas_netcdf_and_parquet_hold_the_same_numbers(csp2023, tmp_path):
    import pandas as pd
    import xarray as xr

    ens = sim.run(csp2023, runs=3, seed=2)
    da = ens.to_xarray()
    assert da.dims == ("variable", "run", "date") and da.attrs["seed"] == 2
    np.testing.assert_array_equal(da.sel(variable="japan.influence").values, ens.values("japan.influence"))
    long = ens.to_pandas()
    assert list(long.columns) == ["run", "date", "step", "variable", "value"] and len(long) == da.size
    for fmt, name in (("netcdf", "trajectories.nc"), ("parquet", "trajectories.parquet")):
        out = tmp_path / fmt
        res = run_cli(
            ["run", CSP, "--runs", "3", "--seed", "2", "--format", fmt, "--no-figures", "--out", str(out)],
            tmp_path,
        )
        assert res.exit_code == 0, res.output
        if fmt == "netcdf":
            back = xr.open_dataarray(out / name, engine="scipy")
            np.testing.assert_array_equal(back.values, da.values)
            assert list(back["variable"].values) == ens.variables
        else:
            back = pd.read_parquet(out / name)
            np.testing.assert_array_equal(back["value"].to_numpy(), long["value"].to_numpy())


def test_the_screen_finds_the_parameters_that_move_an_outcome(csp2023):
    from sim.dashboard.drivers import what_drives

    pytest.importorskip("solara")
    result = what_drives(csp2023, "cambodia.hedging_index@end")
    t = result["table"].set_index("parameter")
    assert result["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "events[10].magnitude" not in t.index and "rivalry" in t.index
    # by construction: ranked by mu*, and mu* (the mean of |effects|) >= |mu| (|mean of effects|)
    assert (t["mu_star"].diff().dropna() <= 0).all()
    assert (t["mu_star"] >= t["mu"].abs() - 1e-12).all()
