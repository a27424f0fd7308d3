"""Bounded resources: documented limits on runs and steps, and an estimate of memory, disk and time
that refuses, before any work, what cannot fit."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import sim
import sim.chunks
from sim.cli import main

from .conftest import ROOT, SCENARIOS

CSP = str(SCENARIOS / "csp2023.toml")


@pytest.fixture
def no_work(monkeypatch):
    """Fail at once if an ensemble starts computing (a refused request must never get there)."""
    import sim.chunks

    def compute(*args, **kwargs):
        raise AssertionError("the work started")

    monkeypatch.setattr(sim.chunks, "compute", compute)


def test_runs_share_the_scenario_files_limit(tmp_path, csp2023, no_work):
    res = CliRunner().invoke(main, ["run", CSP, "--runs", "10000001", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "10000001" in res.output and not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, ["compare", CSP, CSP, "--runs", "10000001", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "10000001" in res.output
    with pytest.raises(sim.HedgesimError, match="at most 10,000,000"):
        sim.run(csp2023, runs=10_000_001)


def test_steps_have_a_documented_limit(tmp_path):
    from sim.limits import MAX_STEPS

    text = (SCENARIOS / "csp2023.toml").read_text()
    path = tmp_path / "long.toml"
    path.write_text(
        text.replace('start = "2020Q1"', 'start = "0001Q1"').replace('end = "2026Q4"', 'end = "9999Q4"')
    )
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert f"scenario.end: expected at most {MAX_STEPS:,} quarters" in res.output
    assert f"at most {MAX_STEPS:,} quarters" in (ROOT / "docs" / "scenarios.md").read_text()


def test_years_before_1000_run_with_figures(tmp_path):
    text = (SCENARIOS / "csp2023.toml").read_text()
    text = text.replace('start = "2020Q1"', 'start = "0990Q1"').replace('end = "2026Q4"', 'end = "0996Q4"')
    text = re.sub(r'date = "(\d{4})', lambda m: f'date = "{int(m[1]) - 1030:04d}', text)
    path = tmp_path / "old.toml"
    path.write_text(text)
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["run", str(path), "--runs", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "0990Q1 to 0996Q4" in res.output and (out / "figures" / "alignment.png").exists()


def test_processes_never_exceed_chunks_or_cores_unless_asked():
    from sim.chunks import cores, processes

    assert processes(None, 10**6, 27, chunks=1, dask=None) == 1
    assert processes(None, 10**6, 27, chunks=10**3, dask=None) == cores()
    assert processes(None, 100, 27, chunks=5, dask=None) == 1  # small: no start-up to pay
    assert processes(64, 10**6, 27, chunks=3, dask=None) == 3
    assert processes(64, 10**6, 27, chunks=10**3, dask=None) == 64  # asked for


def test_a_long_horizon_gets_smaller_chunks():
    from sim.chunks import DEFAULT_CHUNK, default_chunk
    from sim.store import nbytes

    assert default_chunk(nbytes(27, 27, 1)) == DEFAULT_CHUNK  # csp2023 as before
    assert default_chunk(nbytes(27, 1000, 1)) * nbytes(27, 1000, 1) <= sim.chunks.CHUNK_BYTES


def test_estimate_follows_the_models_outputs(csp2023, monkeypatch):
    """The number of outputs comes from the model, not from a constant."""
    from sim.resources import estimate
    from sim.store import nbytes

    outputs = len(sim.chunks.output_names(csp2023, 0))
    est = estimate(csp2023, 10**6, trajectories=True, figures=False)
    assert est.disk >= nbytes(outputs, csp2023.steps, 10**6)
    real = sim.chunks.output_names
    monkeypatch.setattr(sim.chunks, "output_names", lambda sc, seed: real(sc, seed) * 2)
    assert estimate(csp2023, 10**6, trajectories=True, figures=False).disk >= 2 * est.disk - 10**7


@pytest.mark.parametrize(
    "args, memory, disk, expected",
    [
        (["--runs", "1000000", "--trajectories"], None, 2**30, ["of disk", "trajectories.npy", "fewer runs"]),
        (
            ["--runs", "40000", "--format", "csv"],
            2**30,
            None,
            ["of memory", "--format npy", "--no-trajectories"],
        ),
        (["--runs", "1000000", "--workers", "64"], 2**30, None, ["of memory", "fewer --workers"]),
    ],
)
def test_a_request_that_cannot_fit_is_refused_before_any_work(
    tmp_path, monkeypatch, no_work, args, memory, disk, expected
):
    import sim.resources

    monkeypatch.setattr(sim.resources, "available_memory", lambda: memory)
    monkeypatch.setattr(sim.resources, "free_disk", lambda path: disk)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["run", CSP, *args, "--no-figures"])
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert res.output.startswith("hedgesim: csp2023: needs about ")
    for word in expected:
        assert word in res.output, res.output
    assert list(tmp_path.iterdir()) == []  # no folder made


def test_compare_is_checked_for_all_its_ensembles(tmp_path, monkeypatch, no_work):
    import sim.resources

    monkeypatch.setattr(sim.resources, "available_memory", lambda: 400 * 2**20)
    res = CliRunner().invoke(
        main, ["compare", CSP, CSP, CSP, "--runs", "80000", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "of memory" in res.output and not (tmp_path / "o").exists(), res.output


def test_check_is_checked_before_its_ensemble(tmp_path, monkeypatch, no_work):
    import sim.resources

    monkeypatch.setattr(sim.resources, "available_memory", lambda: 400 * 2**20)
    res = CliRunner().invoke(main, ["check", CSP, "--runs", "9000000", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "of memory" in res.output and not (tmp_path / "o").exists(), res.output


def test_long_jobs_say_how_long_they_will_take(tmp_path, monkeypatch, no_work):
    import sim.resources

    monkeypatch.setattr(sim.resources, "available_memory", lambda: None)
    monkeypatch.setattr(sim.resources, "free_disk", lambda path: None)
    res = CliRunner().invoke(
        main, ["run", CSP, "--runs", "2000000", "--workers", "1", "--out", str(tmp_path / "o")]
    )
    assert "this will take about" in res.output, res.output


def test_readme_states_the_trajectory_cut_off_and_sizes_the_code_gives(csp2023):
    """The default limit of written trajectories, in runs of csp2023, and the size of 10^6 runs."""
    from sim.resources import size_text
    from sim.store import IN_MEMORY_LIMIT, nbytes

    per_run = nbytes(len(sim.chunks.output_names(csp2023, 0)), csp2023.steps, 1)
    cut_off = f"{IN_MEMORY_LIMIT // per_run:,} runs of csp2023"
    million = size_text(10**6 * per_run)
    for doc in (ROOT / "README.md", ROOT / "results" / "README.md"):
        text = doc.read_text()
        assert cut_off in text, (doc, cut_off)
        assert "about 100,000 runs" not in text
    assert f"keep every run ({million})" in (ROOT / "README.md").read_text()
