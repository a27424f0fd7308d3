"""`hedgesim run` end to end, in-process (CliRunner) and into tmp_path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from sim.cli import main

from .conftest import SCENARIOS

CSP = str(SCENARIOS / "csp2023.toml")


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.slow
def test_run_writes_the_results_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("HEDGESIM_ENGINE", raising=False)
    out = tmp_path / "r"
    res = invoke("run", CSP, "--runs", "40", "--out", str(out))
    assert res.exit_code == 0, res.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    from sim.plots import GROUPS

    figures = {f"figures/{g}.{e}" for g in GROUPS for e in ("png", "svg")}
    assert {"influence", "aid", "policy", "dimensions", "hedging", "tension"} <= set(GROUPS)
    assert names == {"manifest.json", "scenario.json", "summary.csv", "trajectories.npy"} | figures
    # the digest: end values with their spread, and where the files went
    assert "At 2026Q4: median [90% of runs]" in res.output and "hedging index" in res.output
    assert str(out) in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 40 and manifest["seed"] == 20231216 and manifest["seed_origin"] == "scenario"
    assert manifest["scenario"]["sha256"] == sim.load_scenario(CSP).sha256
    assert set(manifest["versions"]) >= {"hedgesim", "mesa", "numpy", "numba", "python"}
    assert manifest["command"].startswith("hedgesim run")
    assert manifest["dates"][0] == "2020Q1" and manifest["dates"][-1] == "2026Q4"


def test_summary_is_tidy_and_matches_the_runs(tmp_path):
    out = tmp_path / "r"
    assert invoke("run", CSP, "--runs", "30", "--out", str(out), "-q", "--no-figures").exit_code == 0
    df = pd.read_csv(out / "summary.csv")
    assert list(df.columns) == ["date", "step", "variable", "mean", "sd", "p05", "p25", "p50", "p75", "p95"]
    traj = np.load(out / "trajectories.npy")  # (variable, run, step)
    manifest = json.loads((out / "manifest.json").read_text())
    assert traj.shape == (len(manifest["variables"]), 30, 28)
    i = manifest["variables"].index("japan.influence")
    row = df[(df.variable == "japan.influence") & (df.date == "2026Q4")].iloc[0]
    assert row["mean"] == pytest.approx(traj[i, :, -1].mean(), rel=1e-9)
    assert row["p50"] == pytest.approx(np.median(traj[i, :, -1]), rel=1e-9)
    assert row["p05"] <= row["p25"] <= row["p50"] <= row["p75"] <= row["p95"]


def test_csv_trajectories_and_load_results_round_trip(tmp_path):
    for fmt in ("csv", "npy"):
        out = tmp_path / fmt
        assert (
            invoke(
                "run", CSP, "--runs", "6", "--out", str(out), "-q", "--no-figures", "--format", fmt
            ).exit_code
            == 0
        )
        back = sim.load_results(out)
        again = sim.run(sim.load_scenario(CSP), runs=6)
        assert back.variables == again.variables and back.seed == again.seed
        assert np.allclose(
            back.values("cambodia.hedging_index"), again.values("cambodia.hedging_index"), rtol=1e-9
        )
    df = pd.read_csv(tmp_path / "csv" / "trajectories.csv")
    assert list(df.columns) == ["run", "date", "step", "variable", "value"]


def test_never_overwrites_without_force(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = invoke("run", CSP, "--runs", "5", "--out", str(out), "-q", "--no-figures")
    assert res.exit_code == 2 and "not empty" in res.output and "--force" in res.output
    assert (out / "keep.txt").read_text() == "mine"
    res = invoke("run", CSP, "--runs", "5", "--out", str(out), "-q", "--no-figures", "--force")
    assert res.exit_code == 0 and not (out / "keep.txt").exists() and (out / "summary.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary folders left


def test_default_folder_is_new_each_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert invoke("run", CSP, "--runs", "3", "-q", "--no-figures").exit_code == 0
    runs = sorted((tmp_path / "results" / "csp2023").iterdir())
    assert len(runs) == 2 and all((r / "manifest.json").exists() for r in runs)


def test_set_overrides_reach_the_model(tmp_path):
    out = tmp_path / "r"
    res = invoke(
        "run",
        CSP,
        "--runs",
        "5",
        "--out",
        str(out),
        "-q",
        "--no-figures",
        "--set",
        "inertia=0",
        "--set",
        "scenario.seed=99",
    )
    assert res.exit_code == 0, res.output
    traj = np.load(out / "trajectories.npy")
    manifest = json.loads((out / "manifest.json").read_text())
    i = manifest["variables"].index("cambodia.alignment.china")
    assert np.all(traj[i] == traj[i][:, :1])  # inertia 0: alignment never moves
    assert manifest["seed"] == 99
    assert json.loads((out / "scenario.json").read_text())["parameters"]["inertia"] == 0


def test_seed_option_beats_the_scenario_seed(tmp_path):
    out = tmp_path / "r"
    assert (
        invoke("run", CSP, "--runs", "3", "--seed", "5", "--out", str(out), "-q", "--no-figures").exit_code
        == 0
    )
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 5 and m["seed_origin"] == "given"


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    """A crash half-way through writing (here: in the figures) leaves no folder behind."""
    import sim.figure_files

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim.figure_files, "save_figures", boom)
    out = tmp_path / "r"
    with pytest.raises(RuntimeError):
        sim.write_results(sim.run(sim.load_scenario(CSP), runs=3), out)
    assert list(tmp_path.iterdir()) == []


def test_help_is_quick_because_imports_are_lazy():
    """`hedgesim --help` loads neither numpy, Mesa nor matplotlib."""
    code = "import sys, sim.cli; print(sorted(m for m in ('numpy', 'mesa', 'matplotlib', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_m_sim_cli_knows_every_command():
    """`python -m sim.cli` runs main() after every command is defined, not part way down the file."""
    out = subprocess.run(
        [sys.executable, "-m", "sim.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(main.commands), sorted(set(main.commands) ^ listed)


def test_bad_options_exit_2(tmp_path):
    assert invoke("run", CSP, "--runs", "0").exit_code == 2
    assert invoke("run", CSP, "--format", "xls").exit_code == 2


def test_a_run_with_set_says_so_in_digest_folder_captions_and_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("run", CSP, "--runs", "5", "--set", "inertia=0.3", "--set", "actors.japan.budget=200")
    assert res.exit_code == 0, res.output
    assert "with --set inertia=0.3, actors.japan.budget=200" in res.output.splitlines()[1]
    [folder] = (tmp_path / "results" / "csp2023").iterdir()
    assert folder.name.endswith("_inertia=0.3_actors.japan.budget=200")
    assert "--set inertia=0.3, actors.japan.budget=200" in (folder / "figures" / "alignment.svg").read_text()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scenario"]["overrides"] == ["inertia=0.3", "actors.japan.budget=200"]


def test_compare_applies_set_to_every_scenario(tmp_path):
    out = tmp_path / "c"
    no_csp = str(SCENARIOS / "no_csp.toml")
    res = invoke("compare", no_csp, CSP, "--runs", "5", "--set", "inertia=0", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["overrides"] for s in manifest["scenarios"]] == [["inertia=0"], ["inertia=0"]]
    assert "--set inertia=0" in manifest["command"]
    df = pd.read_csv(out / "summary.csv")
    for scenario, rows in df[df.variable == "cambodia.alignment.china"].groupby("scenario"):
        assert rows["sd"].max() == 0 and rows["mean"].nunique() == 1, scenario  # inertia 0: no move
    assert "--set inertia=0" in (out / "figures" / "alignment.svg").read_text()


def test_the_last_line_says_whether_trajectories_were_written(tmp_path, monkeypatch):
    import sim.outputs
    import sim.store

    last = lambda res: res.output.strip().splitlines()[-1]  # noqa: E731
    res = invoke("run", CSP, "--runs", "5", "--no-figures", "--out", str(tmp_path / "a"))
    assert "trajectories.npy" in last(res) and "not written" not in last(res)
    res = invoke("run", CSP, "--runs", "5", "--no-figures", "--no-trajectories", "--out", str(tmp_path / "b"))
    assert last(res).endswith("trajectories not written (--no-trajectories)")
    monkeypatch.setattr(sim.store, "IN_MEMORY_LIMIT", 10_000)
    res = invoke("run", CSP, "--runs", "5", "--no-figures", "--out", str(tmp_path / "c"))
    assert (
        "trajectories not written: 53.6 KiB, over the default limit of 9.8 KiB; add --trajectories"
        in last(res)
    )
    assert not (tmp_path / "c" / "trajectories.npy").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", CSP, "--runs", "10000001"], ["hedgesim: run:", "--runs", "10000001"]),
        (["run", CSP, "--runs", "0"], ["hedgesim: run:", "--runs"]),
        (["run", CSP, "--bogus"], ["hedgesim: run:", "No such option '--bogus'"]),
        (["runn"], ["hedgesim:", "No such command 'runn'"]),
        (["compare", CSP], ["hedgesim: compare:"]),
    ],
)
def test_a_bad_command_line_gives_one_line(args, words):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "Usage" not in res.output, res.output
    for word in words:
        assert word in res.output, res.output


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("HEDGESIM_ENGINE", "fast", "HEDGESIM_ENGINE: expected kernel or numpy, found 'fast'"),
        # refused on a small run too, which does not use the kernel's threads
        ("HEDGESIM_THREADS", "²", "HEDGESIM_THREADS: expected a whole number >= 1, found '²'"),
    ],
)
def test_a_bad_setting_in_the_environment_gives_one_line(tmp_path, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    res = invoke("run", CSP, "--runs", "2", "--out", str(tmp_path / "r"), "--no-figures")
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert message in res.output
    assert not (tmp_path / "r").exists()


PROBE = """
import os, sys, threading, time
if __name__ == "__main__":  # not in the processes that multiprocessing spawns from this file
    real = os._exit
    def _exit(code):  # notes that the command took the quick exit, then takes it
        sys.stderr.write(f"quick exit {code}\\n")
        real(code)
    os._exit = _exit
    BEFORE
    from sim.cli import entry
    entry()
"""


def command(tmp_path, *args, before="pass", **kw):
    """The ``hedgesim`` command (:func:`sim.cli.entry`) in a process of its own, which writes
    "quick exit N" to stderr if it ends with ``os._exit(N)``; ``before`` runs first."""
    script = tmp_path / "hedgesim_probe.py"
    script.write_text(PROBE.replace("BEFORE", before))
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, **kw
    )


def test_the_command_ends_quickly_with_its_files_whole_and_its_exit_code(tmp_path):
    """The command skips Python's teardown once the work is done: the files, the printed lines and
    the exit code are those of the command in-process."""
    out = tmp_path / "r"
    args = ["run", CSP, "--runs", "7", "--seed", "3", "--out", out]
    done = command(tmp_path, *args)
    assert done.returncode == 0 and done.stderr == "quick exit 0\n", done.stderr
    inproc = invoke(*map(str, args[:-1]), str(tmp_path / "inproc"))
    assert inproc.exit_code == 0, inproc.output

    def lines(text):  # every line, but for the seconds it took
        return re.sub(r"\d+\.\d+ s\b", "_ s", text)

    assert lines(done.stdout) == lines(inproc.output.replace(str(tmp_path / "inproc"), str(out)))
    for name in ("summary.csv", "trajectories.npy", "figures/hedging.png"):
        assert (out / name).read_bytes() == (tmp_path / "inproc" / name).read_bytes(), name
    json.loads((out / "manifest.json").read_text())  # complete
    again = command(tmp_path, *args)  # the folder exists now: one line, exit code 2
    assert again.returncode == 2 and again.stdout == ""
    [error, quick] = again.stderr.splitlines()
    assert "folder is not empty" in error and quick == "quick exit 2"
    # the kernel's threads (2 from 2,048 runs) are stopped first; stdout closed is no error
    env = {**os.environ, "HEDGESIM_ENGINE": "kernel", "HEDGESIM_THREADS": "2"}
    big = command(
        tmp_path, "run", CSP, "--runs", "2100", "--out", tmp_path / "k", "-q", "--no-figures", env=env
    )
    assert big.returncode == 0 and big.stderr == "quick exit 0\n", big.stderr
    closed = command(tmp_path, "--version", preexec_fn=lambda: os.close(1))
    assert closed.returncode == 0 and closed.stderr == "quick exit 0\n", closed.stderr


def test_the_command_exits_as_python_does_while_a_thread_runs_or_a_tracer_watches(tmp_path):
    """A thread still at work is waited for (its file is written), as under a tracer, profiler or
    debugger, which reports after the command."""
    late = tmp_path / "late.txt"
    thread = f"threading.Thread(target=lambda: (time.sleep(0.5), open({str(late)!r}, 'w').close())).start()"
    done = command(tmp_path, "--version", before=thread)
    assert done.returncode == 0 and "quick exit" not in done.stderr and late.is_file(), done.stderr
    traced = command(tmp_path, "--version", before="sys.settrace(lambda *a: None)")
    assert traced.returncode == 0 and "quick exit" not in traced.stderr, traced.stderr
    profiled = command(tmp_path, "--version", before="import cProfile; cProfile.Profile().enable()")
    assert profiled.returncode == 0 and "quick exit" not in profiled.stderr, profiled.stderr


def test_still_running_sees_threads_and_child_processes(tmp_path):
    """What makes the command exit as Python does: a live thread (not a daemon: Python does not
    wait for those either) or child process; checked in a fresh process, as the test's own may
    hold threads of other tests."""
    code = """
import multiprocessing, threading, time
from sim.cli import _still_running
if __name__ == "__main__":
    seen = [_still_running()]
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    seen.append(_still_running())
    stop.set()
    worker.join()
    seen.append(_still_running())
    threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
    seen.append(_still_running())
    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0.5,))
    child.start()
    seen.append(_still_running())
    child.join()
    seen.append(_still_running())
    print(seen)
"""
    script = tmp_path / "check.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[False, True, False, False, True, False]", out.stdout
