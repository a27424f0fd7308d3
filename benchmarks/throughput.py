"""Throughput of the ensemble model and the wall time of a default run, side by side.

    python benchmarks/throughput.py [--repeat 3]

Prints a table (and writes benchmarks/throughput.csv), every figure measured in this invocation:
* run-steps per second for csp2023 at 1, 100 and 10,000 runs, in one process (model only: the
  build of the model and its steps, no output files), with the compiled step (``kernel``) on its
  default threads (one per 1,024 runs, at most one per core) and on one thread, and with the agents' numpy
  methods (``numpy``; the same bits), measured alternately, each size in a fresh process so that
  its peak memory is its own; the first model of the process is reported apart from the best of
  --repeat (later models reuse the first one's record buffer);
* 10^6 runs with 2 workers through ``sim.run`` (statistics included, no files), and
  ``mesa.batch_run`` over the plain Mesa copy of the model (benchmarks/plain_mesa.py) on
  --mesa-runs runs, both from benchmarks/ensembles.py, time and peak memory;
* the time the kernel takes to compile, in a fresh process with an empty cache, and to load from
  the cache in a second process;
* the wall time of `hedgesim run scenarios/csp2023.toml` with its default runs (figures and all),
  next to the time Python takes just to `import mesa, matplotlib.pyplot`, measured in the same
  invocation, alternately, best of --repeat.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSP = ROOT / "scenarios" / "csp2023.toml"


#: What is measured at each size: (label, engine, HEDGESIM_THREADS).
VARIANTS = (("kernel", "kernel", ""), ("kernel, 1 thread", "kernel", "1"), ("numpy", "numpy", ""))


def throughput(runs: int, repeat: int) -> dict[str, tuple[float, ...]]:
    """Run-steps per second of each variant: (first model, best with construction, best stepping,
    best of the compiled step alone).

    The variants are the compiled kernel on the threads it takes by default (one per core from
    2,048 runs on; :func:`sim.kernel.split`), the kernel on one thread, and the numpy engine.
    Construction allocates the record of every run (49 outputs x 28 dates x runs, float64: 110 MB
    at 10,000 runs); on this virtual machine fresh pages sometimes cost 100 ms or more to fault
    in, so the best of several repeats is reported. Each model is collected before the next is
    built (outside the clock: Mesa's agents and their model form a reference cycle, which only
    the garbage collector frees), so that later models write into the record buffer of the one
    before (:func:`sim.model.record_buffer`), as a process that builds one model after another
    does; the first model of the process faults its pages in. "The compiled step alone" is the
    time inside :meth:`sim.kernel.Kernel.step` (its threads included; no events, no Mesa): the
    most the model could reach if everything else cost nothing. The variants alternate, so all
    see the same load; the kernel is compiled (or loaded from its cache) before the clock starts.
    """
    import sim
    from sim.model import HedgingModel

    sc = sim.load_scenario(CSP)
    HedgingModel(sc, 1, seed=1, engine="kernel").run()
    best = {label: (float("inf"),) * 3 for label, _, _ in VARIANTS}
    first = {}
    for _ in range(repeat):
        for label, engine, threads in VARIANTS:
            os.environ["HEDGESIM_THREADS"] = threads
            t0 = time.perf_counter()
            m = HedgingModel(sc, runs, seed=1, engine=engine)
            t1 = time.perf_counter()
            inside = [0.0]
            if engine == "kernel":
                m.kernel.step = _timed(m.kernel.step, inside)
            m.run()
            t2 = time.perf_counter()
            first.setdefault(label, t2 - t0)
            total, steps, kernel = best[label]
            alone = min(kernel, inside[0]) if engine == "kernel" else float("nan")
            best[label] = min(total, t2 - t0), min(steps, t2 - t1), alone
            del m
            gc.collect()
    os.environ.pop("HEDGESIM_THREADS")
    rs = runs * sc.steps
    return {
        e: (rs / first[e], rs / total, rs / steps, rs / kernel) for e, (total, steps, kernel) in best.items()
    }


def _timed(step, seconds: list[float]):  # noqa: ANN001, ANN202
    """``step``, adding the wall time of each call to ``seconds[0]``."""

    def timed(t: int) -> None:
        t0 = time.perf_counter()
        step(t)
        seconds[0] += time.perf_counter() - t0

    return timed


def throughput_fresh(runs: int, repeat: int) -> tuple[dict[str, tuple[float, ...]], float]:
    """:func:`throughput` in a fresh process, and that process's peak memory (MiB)."""
    here = str(ROOT / "benchmarks")
    code = f"import json, resource, sys; sys.path.insert(0, {here!r}); import throughput as t; "
    code += f"r = t.throughput({runs}, {repeat}); "
    code += "print(json.dumps([r, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    rates, peak = json.loads(res.stdout.strip().splitlines()[-1])
    return {e: tuple(v) for e, v in rates.items()}, peak


COMPILE = """
import time
t0 = time.perf_counter()
import sim, sim.kernel
from sim.model import HedgingModel
sc = sim.load_scenario({csp!r})
t1 = time.perf_counter()
HedgingModel(sc, 1, seed=1, engine="kernel").run()
print(time.perf_counter() - t1, t1 - t0)
"""


def compile_times() -> tuple[float, float, float]:
    """(compile, load from the cache, import) seconds of the kernel, each in a fresh process.

    The first process compiles into an empty cache directory (NUMBA_CACHE_DIR) and writes it; the
    second loads it. "compile" and "load" are the first run of a one-run model (a few ms of
    which are the model itself); "import" is sim (with Mesa and numba) and the scenario file.
    """
    code = COMPILE.format(csp=str(CSP))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
            )
            out.append([float(x) for x in res.stdout.split()])
    return out[0][0], out[1][0], out[1][1]


def wall(cmd: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mesa-runs", type=int, default=200, help="runs of mesa.batch_run (about 0.1 s each)")
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "throughput.csv"))
    args = ap.parse_args()
    rows = []
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import ensembles

    for runs in (10_000, 100, 1):
        rates, peak = throughput_fresh(runs, args.repeat)
        for engine, (first, with_build, stepping, kernel) in rates.items():
            for label, value in (
                (f"run-steps/s, {runs} runs, {engine}, best with construction", with_build),
                (f"  first model of the process, {runs} runs, {engine}", first),
                (f"  stepping only, {runs} runs, {engine}", stepping),
                (f"  the compiled step alone, {runs} runs, {engine}", kernel),
            ):
                if value != value:  # NaN: the numpy engine has no compiled step
                    continue
                rows.append(
                    {
                        "measure": label,
                        "value": round(value),
                        "unit": "run-steps/s",
                        "seconds": round(runs * 27 / value, 4),
                    }
                )
        rows.append(
            {
                "measure": f"  peak memory of that process ({runs} runs)",
                "value": round(peak),
                "unit": "MiB",
                "seconds": "",
            }
        )
    big = ensembles.in_fresh_process("hedgesim", 1_000_000, 2)
    rows.append(
        {
            "measure": "sim.run, 10^6 runs, 2 workers (with statistics)",
            "value": big["seconds"],
            "unit": "s",
            "seconds": big["seconds"],
        }
    )
    for label, key in (("main process", "peak_main_mib"), ("largest worker", "peak_worker_mib")):
        rows.append({"measure": f"  peak memory, {label}", "value": big[key], "unit": "MiB", "seconds": ""})
    small = ensembles.in_fresh_process("hedgesim", args.mesa_runs, 1)
    plain = ensembles.in_fresh_process("mesa.batch_run", args.mesa_runs, 1)
    for label, r in (
        (f"sim.run, {args.mesa_runs} runs, 1 process", small),
        (f"mesa.batch_run, plain Mesa copy, {args.mesa_runs} runs", plain),
    ):
        rows.append(
            {"measure": label, "value": r["run_steps_per_s"], "unit": "run-steps/s", "seconds": r["seconds"]}
        )
        rows.append({"measure": "  peak memory", "value": r["peak_main_mib"], "unit": "MiB", "seconds": ""})
    for label, _, _ in VARIANTS[:2]:
        start = f"run-steps/s, 10000 runs, {label}, "
        kernel_10k = next(r["value"] for r in rows if r["measure"].startswith(start))
        rows.append(
            {
                "measure": f"hedgesim at 10,000 runs ({label}) / mesa.batch_run",
                "value": round(kernel_10k / plain["run_steps_per_s"]),
                "unit": "x",
                "seconds": "",
            }
        )
    rows.append(
        {
            "measure": f"sim.run / mesa.batch_run, both at {args.mesa_runs} runs",
            "value": round(small["run_steps_per_s"] / plain["run_steps_per_s"]),
            "unit": "x",
            "seconds": "",
        }
    )
    compiled, loaded, imported = compile_times()
    for measure, value in (
        ("kernel: compile (empty cache)", compiled),
        ("kernel: load from the cache", loaded),
        ("import sim (Mesa, numba), load the scenario", imported),
    ):
        rows.append({"measure": measure, "value": round(value, 3), "unit": "s", "seconds": value})
    exe = Path(sys.executable).parent / "hedgesim"
    imports = run_cli = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):  # alternate, so both see the same machine load
            imports = min(imports, wall([sys.executable, "-c", "import mesa, matplotlib.pyplot"], 1))
            run_cli = min(run_cli, wall([str(exe), "run", str(CSP), "--out", f"{tmp}/r{k}", "-q"], 1))
    rows.append(
        {
            "measure": "import mesa, matplotlib.pyplot",
            "value": round(imports, 3),
            "unit": "s",
            "seconds": imports,
        }
    )
    rows.append(
        {
            "measure": "hedgesim run csp2023 (default runs)",
            "value": round(run_cli, 3),
            "unit": "s",
            "seconds": run_cli,
        }
    )
    rows.append({"measure": "run / import", "value": round(run_cli / imports, 2), "unit": "x", "seconds": ""})
    machine = platform.processor() or platform.machine()
    load = os.getloadavg()
    print(
        f"{machine}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at the end {load[0]:.2f}"
    )
    width = max(len(r["measure"]) for r in rows)
    for r in rows:
        value = f"{r['value']:,}" if isinstance(r["value"], int) else f"{r['value']}"
        print(f"{r['measure']:<{width}}  {value:>14} {r['unit']}")
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["measure", "value", "unit", "seconds"])
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
