"""Results are never lost: unique default folders, atomic publication that replaces another run's
folder only with --force, staging folders of killed runs cleaned, SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim.ensemble
from sim.cli import main

from .conftest import SCENARIOS

CSP = str(SCENARIOS / "csp2023.toml")
QUICK = ["--runs", "3", "-q", "--no-figures"]


def during_the_run(monkeypatch, action):
    """Call ``action()`` once, while the next run computes (after its checks, before it publishes)."""
    real, done = sim.ensemble.run, []

    def run(*args, **kwargs):
        if not done:
            done.append(True)
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.ensemble, "run", run)


def seed_in(folder: Path) -> int:
    return json.loads((folder / "manifest.json").read_text())["seed"]


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    import sim.folders

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    monkeypatch.setattr(sim.folders, "datetime", Frozen)
    monkeypatch.chdir(tmp_path)
    inner = []
    during_the_run(
        monkeypatch, lambda: inner.append(CliRunner().invoke(main, ["run", CSP, "--seed", "2", *QUICK]))
    )
    outer = CliRunner().invoke(main, ["run", CSP, "--seed", "1", *QUICK])
    assert outer.exit_code == 0 and inner[0].exit_code == 0, (outer.output, inner[0].output)
    folders = sorted((tmp_path / "results" / "csp2023").iterdir())
    assert [f.name for f in folders] == ["2026-01-02T03-04-05Z", "2026-01-02T03-04-05Z-2"]
    assert sorted(seed_in(f) for f in folders) == [1, 2]  # both runs' results are there


def test_a_second_run_into_the_same_out_fails_at_publication(tmp_path, monkeypatch):
    """Both start while --out is empty; the later to finish fails in one line and the first's
    results stay."""
    out = tmp_path / "r"
    inner = []
    during_the_run(
        monkeypatch,
        lambda: inner.append(
            CliRunner().invoke(main, ["run", CSP, "--seed", "2", "--out", str(out), *QUICK])
        ),
    )
    res = CliRunner().invoke(main, ["run", CSP, "--seed", "1", "--out", str(out), *QUICK])
    assert inner[0].exit_code == 0
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert str(out) in res.output and "another run" in res.output and "--force" in res.output
    assert seed_in(out) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no staging folder left


def test_force_replaces_a_folder_published_meanwhile(tmp_path, monkeypatch):
    out = tmp_path / "r"
    during_the_run(
        monkeypatch, lambda: CliRunner().invoke(main, ["run", CSP, "--seed", "2", "--out", str(out), *QUICK])
    )
    res = CliRunner().invoke(main, ["run", CSP, "--seed", "1", "--out", str(out), "--force", *QUICK])
    assert res.exit_code == 0, res.output
    assert seed_in(out) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def gone_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_folders_of_killed_runs_are_cleaned_on_the_next_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parent = tmp_path / "results" / "csp2023"
    parent.mkdir(parents=True)
    dead, host = gone_pid(), os.uname().nodename
    stale = [parent / f".2026-01-01T00-00-00Z.partial-{dead}", parent / f".x.partial-{dead}@{host}"]
    reserved = parent / "2026-01-01T00-00-00Z"  # the empty folder a killed run had reserved
    reserved.mkdir()
    for p in stale:
        p.mkdir()
        (p / "trajectories.npy").write_bytes(b"\0" * 1000)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        kept = [parent / f".y.partial-{alive.pid}", parent / f".z.partial-{dead}@elsewhere"]
        for p in kept:
            p.mkdir()
        assert CliRunner().invoke(main, ["run", CSP, *QUICK]).exit_code == 0
    finally:
        alive.kill()
        alive.wait()
    assert not any(p.exists() for p in stale) and not reserved.exists()
    assert all(p.exists() for p in kept)  # a live process's, another host's


def wait_until(proc: subprocess.Popen, ready: Callable[[], bool]) -> None:
    """Wait (up to 60 s) until ``ready()``, while ``proc`` is still running."""
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)


def session_left(sid: int) -> list[str]:
    """The processes still alive in session ``sid`` after up to 5 s: workers and the resource
    tracker need a moment to go."""
    left = []
    for _ in range(50):
        left = session_processes(sid)
        if not left:
            break
        time.sleep(0.1)
    return left


def session_processes(sid: int) -> list[str]:
    """Command lines of the processes still alive in session ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find left-over processes")
@pytest.mark.parametrize(
    "when, whom",
    [
        ("runs", "group"),
        ("runs", "parent"),
        ("figures", "group"),
        ("figures", "parent"),
        ("figures", "start"),
    ],
)
def test_sigterm_exits_143_leaving_no_folder_no_traceback_no_process(tmp_path, when, whom):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "sim.cli", "run", CSP, "--out", str(out), "-q"]
    if when == "runs":
        cmd += ["--runs", "400000", "--workers", "2", "--chunk-size", "2048", "--no-figures"]
        ready = ".r.partial-*"  # the staging folder: the runs begin (they take about 10 s)
    else:
        cmd += ["--runs", "20"]
        ready = ".r.partial-*/figures"
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(proc, lambda: any(tmp_path.glob(ready)))
        # "start": as the figures' process starts, whose start-up data a SIGTERM must not cut
        time.sleep({"runs": 2.0, "figures": 0.1}[when] if whom != "start" else 0)
        if whom == "group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = session_left(proc.pid)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err and "leaked" not in err, err
    assert list(tmp_path.iterdir()) == []
    assert left == []


def test_a_large_comparison_keeps_its_runs_in_its_staging_folder(tmp_path, monkeypatch):
    """Not in temporary files that a killed comparison would leave behind for good."""
    import tempfile

    import sim.store

    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 0)
    monkeypatch.setattr(sim.store, "IN_MEMORY_LIMIT", 0)
    made = []
    real = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    out = tmp_path / "c"
    res = CliRunner().invoke(
        main, ["compare", str(SCENARIOS / "no_csp.toml"), CSP, "--out", str(out), *QUICK]
    )
    assert res.exit_code == 0, res.output
    assert made == []
    assert sorted(p.name for p in out.iterdir()) == [
        "differences.csv",
        "differences.md",
        "manifest.json",
        "summary.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("where", ["the scenario's folder", "the working folder", "a parent of it"])
def test_force_never_replaces_the_inputs_or_the_working_folder(tmp_path, monkeypatch, command, where):
    """--force replaces a results folder; a folder holding scenario files, or the one the command
    runs in, is refused in one line and kept as it was."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "csp2023.toml").write_text(Path(CSP).read_text())
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    out = {"the scenario's folder": work, "the working folder": Path("."), "a parent of it": tmp_path}[where]
    args = (
        ["--param", "inertia=0.1:0.3", "--samples", "2", "--runs", "1"]
        if command == "sweep"
        else ["--runs", "2"]
    )
    res = CliRunner().invoke(
        main, [command, "csp2023.toml", *args, "-q", "--no-figures", "--out", str(out), "--force"]
    )
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "--force" in res.output and str(out) in res.output, res.output
    assert sorted(p.name for p in work.iterdir()) == ["csp2023.toml", "notes.txt"]


@pytest.mark.parametrize("when", ["start", "waiting", "figures"])
def test_ctrl_c_during_a_run_with_figures_exits_130_without_a_traceback(tmp_path, when):
    """Ctrl-C at a terminal reaches the whole process group, the figures' worker included, at any
    moment: as the worker starts (the command starts it first thing), while it waits for the
    numbers (the command imports for about a second, then simulates), while the figures are drawn."""
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "sim.cli", "run", CSP, "--out", str(out), "-q", "--runs", "20"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if when == "figures":
            wait_until(proc, lambda: any(tmp_path.glob(".r.partial-*/figures")))
        else:  # the worker is there: the command has begun
            wait_until(proc, lambda: len(session_processes(proc.pid)) > 1)
        # the worker starts with Ctrl-C ignored, this process too for the moment it is forked
        time.sleep({"start": 0.3, "waiting": 1.2, "figures": 0}[when])
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = session_left(proc.pid)
    # 130; or, now and then when Ctrl-C comes as the command imports, ended by SIGINT after its
    # message (a shell shows both as 130)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "interrupted" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []
    assert left == []
