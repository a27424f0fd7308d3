"""Large ensembles: chunks, worker processes, Dask, on-disk trajectories, Ctrl-C.

The promise under all of them: a run's numbers, and every statistic, are the same bit for bit
however the runs are split (sim.noise keys every draw by run index; sim.statistics reduces each
row of runs in index order).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim.cli import main
from tests.conftest import SCENARIOS

CSP = str(SCENARIOS / "csp2023.toml")


def files_of(folder):
    """The bytes of a results folder's data files (the manifest holds the time and command)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".csv", ".npy")}


@pytest.fixture
def tiny_memory(monkeypatch):
    """Treat every ensemble as too large for memory, so the on-disk path runs on a few runs."""
    import sim.ensemble
    import sim.store

    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 0)
    monkeypatch.setattr(sim.store, "IN_MEMORY_LIMIT", 0)


@pytest.fixture(scope="module")
def reference(csp2023):
    return sim.run(csp2023, runs=300, seed=11)


@pytest.mark.slow
def test_chunk_sizes_and_workers_give_identical_bytes(csp2023, reference):
    want = reference.data.tobytes()
    for kw in ({"chunk_size": 1}, {"chunk_size": 7}, {"chunk_size": 64, "workers": 2}):
        ens = sim.run(csp2023, runs=300, seed=11, **kw)
        assert ens.data.tobytes() == want, kw
        assert ens.stats().tobytes() == reference.stats().tobytes(), kw


@pytest.mark.slow
def test_on_disk_ensemble_matches_in_memory(csp2023, reference, tiny_memory, tmp_path, monkeypatch):
    import sim.statistics

    monkeypatch.setattr(sim.statistics, "BLOCK_VALUES", 300 * 5)  # read back 5 dates at a time
    ens = sim.run(csp2023, runs=300, seed=11, chunk_size=50, store=tmp_path / "t.npy")
    assert ens.file is not None and ens.file.path == tmp_path / "t.npy"
    assert ens.stats().tobytes() == reference.stats().tobytes()  # from disk, in blocks
    pooled = sim.run(csp2023, runs=300, seed=11, chunk_size=64, workers=2, store=tmp_path / "t2.npy")
    assert pooled.stats().tobytes() == reference.stats().tobytes()  # in the worker processes
    assert (tmp_path / "t2.npy").read_bytes() == (tmp_path / "t.npy").read_bytes()
    assert np.array_equal(ens.values("japan.influence"), reference.values("japan.influence"))
    # the file is what np.save writes for the same array: a notebook opens it lazily
    lazy = np.load(tmp_path / "t.npy", mmap_mode="r")
    assert isinstance(lazy, np.memmap) and lazy.shape == (len(reference.variables), 300, reference.steps + 1)
    saved = tmp_path / "saved.npy"
    np.save(saved, np.ascontiguousarray(reference.data.transpose(0, 2, 1)))
    assert (tmp_path / "t.npy").read_bytes() == saved.read_bytes()


def test_unwritable_store_is_one_line(csp2023, tiny_memory, tmp_path):
    with pytest.raises(sim.HedgesimError, match="cannot write the trajectories"):
        sim.run(csp2023, runs=20, seed=1, store=tmp_path / "missing" / "t.npy")


def test_temporary_store_is_removed_with_the_ensemble(csp2023, tiny_memory):
    import gc

    ens = sim.run(csp2023, runs=20, seed=1, trajectories=True)
    path = ens.file.path
    assert path.exists()
    del ens
    gc.collect()
    assert not path.exists()


@pytest.mark.slow
def test_cli_workers_and_chunks_write_identical_files(tmp_path):
    runner = CliRunner()
    outs = []
    for k, extra in enumerate((["--workers", "1"], ["--workers", "2", "--chunk-size", "33"])):
        out = tmp_path / f"r{k}"
        args = ["run", CSP, "--runs", "120", "--seed", "5", "--out", str(out), "--no-figures", "-q", *extra]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        outs.append(files_of(out))
    assert set(outs[0]) == {"summary.csv", "trajectories.npy"}
    assert outs[0] == outs[1]


def test_cli_large_ensemble_writes_trajectories_only_when_asked(tmp_path, tiny_memory):
    runner = CliRunner()
    base = ["run", CSP, "--runs", "90", "--seed", "5", "--no-figures", "-q", "--chunk-size", "40"]
    r = runner.invoke(main, [*base, "--out", str(tmp_path / "without")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "without").iterdir()) == [
        "manifest.json",
        "scenario.json",
        "summary.csv",
    ]
    r = runner.invoke(main, [*base, "--out", str(tmp_path / "with"), "--trajectories"])
    assert r.exit_code == 0, r.output
    with_files = files_of(tmp_path / "with")
    assert with_files["summary.csv"] == files_of(tmp_path / "without")["summary.csv"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers
    # both read back; the one without trajectories has its summary and says what is missing
    small = sim.run(sim.load_scenario(CSP), runs=90, seed=5, trajectories=True)
    loaded = sim.load_results(tmp_path / "with")
    assert np.array_equal(loaded.values("us.aid"), small.values("us.aid"))
    summary_only = sim.load_results(tmp_path / "without")
    assert np.allclose(summary_only.quantiles("us.aid"), small.quantiles("us.aid"), rtol=1e-9)
    with pytest.raises(sim.HedgesimError, match="--trajectories"):
        summary_only.values("us.aid")


def test_progress_is_silent_when_stderr_is_not_a_terminal(tmp_path):
    r = CliRunner().invoke(
        main, ["run", CSP, "--runs", "20", "--seed", "1", "--no-figures", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 0
    assert "runs/s" not in r.output and "ETA" not in r.output


def test_dask_extra_missing_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    out = tmp_path / "o"
    r = CliRunner().invoke(
        main, ["run", CSP, "--runs", "10", "--dask", "tcp://127.0.0.1:9", "--out", str(out), "-q"]
    )
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "--dask" in lines[0] and "hedgesim[dask]" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a hidden partial folder


def test_unreachable_scheduler_is_one_line_exit_2(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import sim.cluster

    monkeypatch.setattr(sim.cluster, "CONNECT_TIMEOUT", 1)
    r = CliRunner().invoke(
        main, ["run", CSP, "--runs", "10", "--dask", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o"), "-q"]
    )
    assert r.exit_code == 2 and "cannot reach a Dask scheduler" in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_bytes(csp2023, reference, dask_cluster, tmp_path):
    ens = sim.run(csp2023, runs=300, seed=11, chunk_size=64, dask=dask_cluster)
    assert ens.data.tobytes() == reference.data.tobytes()
    assert ens.stats().tobytes() == reference.stats().tobytes()
    # and through the command, into a results folder
    runner = CliRunner()
    base = ["run", CSP, "--runs", "120", "--seed", "5", "--no-figures", "-q"]
    r1 = runner.invoke(main, [*base, "--out", str(tmp_path / "local")])
    r2 = runner.invoke(
        main, [*base, "--out", str(tmp_path / "dask"), "--dask", dask_cluster, "--chunk-size", "50"]
    )
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.output
    assert files_of(tmp_path / "local") == files_of(tmp_path / "dask")


def test_ctrl_c_stops_cleanly_and_leaves_nothing(tmp_path):
    out = tmp_path / "big"
    cmd = [sys.executable, "-m", "sim.cli", "run", CSP, "--runs", "400000", "--workers", "2"]
    cmd += ["--chunk-size", "2048", "--out", str(out), "--no-figures", "-q"]
    # its own process group, which Ctrl-C at a terminal signals as a whole (workers included)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        # wait until the work has begun: the hidden staging folder is there
        while not any(tmp_path.glob(".big.partial-*")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(2.0)  # well inside the runs (they take about 10 s)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_forked_and_spawned_workers_give_the_same_runs(csp2023, reference, monkeypatch):
    """Pool workers are forked in a process without threads (a fresh one here: the test runner
    has threads of its own) and spawned otherwise; the ensemble is the same bits either way, the
    kernel loaded before the fork or in each worker."""
    import hashlib

    import sim.chunks

    code = (
        "import hashlib, os, sim, sim.chunks\n"
        "os.environ['HEDGESIM_ENGINE'] = 'kernel'\n"
        "assert sim.chunks.pool_context().get_start_method() == 'fork'\n"
        f"sc = sim.load_scenario({str(SCENARIOS / 'csp2023.toml')!r})\n"
        "ens = sim.run(sc, runs=300, seed=11, chunk_size=64, workers=2)\n"
        "print(hashlib.sha256(ens.data.tobytes()).hexdigest())\n"
    )
    forked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert forked.returncode == 0, forked.stderr
    monkeypatch.setenv("HEDGESIM_SPAWN", "1")
    monkeypatch.setenv("HEDGESIM_ENGINE", "kernel")
    assert sim.chunks.pool_context().get_start_method() == "spawn"
    spawned = sim.run(csp2023, runs=300, seed=11, chunk_size=64, workers=2)
    assert spawned.data.tobytes() == reference.data.tobytes()
    assert forked.stdout.strip() == hashlib.sha256(reference.data.tobytes()).hexdigest()


def _half_a_result(flag: str) -> None:
    """In a pool's worker: the first bytes of a result in the result pipe, and no more (what a
    worker killed while it sent a result leaves), then a file to say so, then a wait."""
    import struct

    outqueue = sys._getframe(1).f_locals["outqueue"]  # the worker loop's (multiprocessing.pool.worker)
    os.write(outqueue._writer.fileno(), struct.pack("!i", 1_000_000) + bytes(100))
    open(flag, "w").close()  # noqa: SIM115
    time.sleep(600)


def test_a_failed_pool_ends_even_with_half_a_result_in_its_pipe(tmp_path):
    """Ctrl-C during a large ensemble: the workers are killed wherever they are, perhaps in the
    middle of sending a result, and the pool's result thread then waits for the rest for ever.
    Ending the pool must not wait with it (Pool.terminate did, about one Ctrl-C in three)."""
    import multiprocessing
    import threading

    from sim.chunks import end_pool

    pool = multiprocessing.get_context("spawn").Pool(1)
    workers = list(pool._pool)
    flag = tmp_path / "half-sent"
    pool.apply_async(_half_a_result, (str(flag),))
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.05)
    ender = threading.Thread(target=end_pool, args=(pool, False), daemon=True)
    ender.start()
    ender.join(30)
    assert not ender.is_alive(), "ending the pool waits for the rest of the half-sent result"
    assert not any(w.is_alive() for w in workers)
    assert not any(w.is_alive() for w in pool._pool), "a worker was started in place of a killed one"


def test_chunks_cover_every_run_once_and_small_ensembles_stay_in_one_process():
    from sim.chunks import auto_workers, plan

    spans = plan(10_001, 4096)
    assert spans == [(0, 4096), (4096, 8192), (8192, 10_001)]
    assert auto_workers(500, 27) == 1  # the classroom default: no process start-up to pay
    assert auto_workers(1_000_000, 27) == (os.cpu_count() or 1)


def test_progress_bar_shows_runs_rate_and_eta_on_a_terminal_only(monkeypatch):
    import io

    from sim.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for show, want in ((None, True), (False, False)):
        term = Terminal()
        monkeypatch.setattr(sys, "stderr", term)
        bar = Progress("csp2023", 1000, show=show, delay=0)
        bar(400)
        bar(600)
        bar.close()
        text = term.getvalue()
        assert ("1.00k/1.00k runs" in text and "ETA" in text and "runs/s" in text) == want, text


@pytest.mark.slow
def test_figures_of_an_on_disk_ensemble_match_in_memory(tmp_path, monkeypatch):
    """Figures come from the exact statistics, so they too do not depend on where runs were kept."""
    import sim.ensemble
    import sim.store

    runner = CliRunner()
    base = ["run", CSP, "--runs", "60", "--seed", "2", "-q"]
    assert runner.invoke(main, [*base, "--out", str(tmp_path / "mem")]).exit_code == 0
    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 0)
    monkeypatch.setattr(sim.store, "IN_MEMORY_LIMIT", 0)
    r = runner.invoke(main, [*base, "--out", str(tmp_path / "disk")])
    assert r.exit_code == 0, r.output
    for name in ("influence.svg", "tension.svg"):
        assert (tmp_path / "mem/figures" / name).read_bytes() == (
            tmp_path / "disk/figures" / name
        ).read_bytes()
