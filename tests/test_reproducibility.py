"""Same scenario, seed and runs: identical files. Run k: the same alone or inside any batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim.cli import main
from sim.model import HedgingModel

from .conftest import SCENARIOS


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files(tmp_path):
    """Every output file but the manifest (which records the time and the command) is identical."""
    runner = CliRunner()
    for name in ("a", "b"):
        res = runner.invoke(
            main,
            ["run", str(SCENARIOS / "csp2023.toml"), "--runs", "60", "--out", str(tmp_path / name), "-q"],
        )
        assert res.exit_code == 0, res.output
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) >= 14  # manifest, scenario, summary, trajectories, 5 PNG + 5 SVG
    for name in a:
        if name.name != "manifest.json":
            assert a[name] == b[name], name
    ma, mb = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in "ab")
    for m in (ma, mb):
        m.pop("command"), m.pop("wall_time_s"), m.pop("created")
    assert ma == mb


def test_different_seed_gives_different_runs(csp2023):
    a, b = sim.run(csp2023, runs=20, seed=1), sim.run(csp2023, runs=20, seed=2)
    assert not np.array_equal(a.values("cambodia.alignment.japan"), b.values("cambodia.alignment.japan"))


def test_run_k_alone_equals_run_k_in_a_batch_of_1000(csp2023):
    """Counter-based streams: run 737's numbers depend on (seed, 737, step, stream) only. The
    flagship draws parameters and event magnitudes per run too, so this covers them."""
    batch = HedgingModel(csp2023, 1000, seed=11)
    batch.run()
    for k in (0, 737, 999):
        alone = HedgingModel(csp2023, np.array([k]), seed=11)
        alone.run()
        assert np.array_equal(alone.record[:, :, 0], batch.record[:, :, k]), k


def test_order_and_split_of_runs_do_not_matter(csp2023):
    whole = HedgingModel(csp2023, 40, seed=5)
    whole.run()
    parts = []
    for ids in (np.arange(40)[::-1][:25], np.arange(15)[::-1]):
        m = HedgingModel(csp2023, ids, seed=5)
        m.run()
        parts.append(m.record[:, :, np.argsort(ids)])
    assert np.array_equal(np.concatenate(parts[::-1], axis=2), whole.record)


def test_seed_is_recorded_when_none_is_given(tmp_path, toy):
    """A scenario without a seed gets a fresh one; it is reported, written, and repeats the run."""
    toy()
    (tmp_path / "noseed.toml").write_text((tmp_path / "toy.toml").read_text().replace("seed = 7\n", ""))
    ens = sim.run(sim.load_scenario(tmp_path / "noseed.toml"), runs=5)
    assert ens.seed_origin == "drawn" and isinstance(ens.seed, int)
    again = sim.run(sim.load_scenario(tmp_path / "noseed.toml"), runs=5, seed=ens.seed)
    assert np.array_equal(again.data, ens.data)
    out = sim.write_results(ens, tmp_path / "out", figures=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == ens.seed and manifest["seed_origin"] == "drawn"
