"""Throughput of large ensembles, against mesa.batch_run, and the cost of one step by part.

    .venv/bin/python benchmarks/ensembles.py                 # the full table (about 10 minutes)
    .venv/bin/python benchmarks/ensembles.py --quick         # up to 10^4 runs
    .venv/bin/python benchmarks/ensembles.py --csv out.csv   # where the table goes as CSV

Every measurement runs in a fresh process, so its peak memory (``ru_maxrss``) is its own: the
main process and the largest worker process are reported apart. hedgesim's figure is
``sim.run`` including the exact statistics (the summary), without writing files. The Mesa figure
is ``mesa.batch_run`` over a plain Mesa copy of the same model (benchmarks/plain_mesa.py: one run
per instance, agents with Python floats, all 49 outputs collected each step by a DataCollector, as
a Mesa user would write it); same scenario, runs and steps, measured in the same invocation, so
the ratio holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

from sim.model import HedgingModel

HERE = Path(__file__).resolve().parent
CSP = HERE.parent / "scenarios" / "csp2023.toml"
SEED = 20231216


def _peak_mib() -> tuple[float, float]:
    self_ = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return self_, kids


@cache
def _spec():  # noqa: ANN202
    import sim

    return sim.load_scenario(CSP)


def measure(kind: str, runs: int, workers: int) -> dict:
    """One measurement, in this (fresh) process."""
    from mesa.batchrunner import batch_run
    from plain_mesa import PlainModel

    import sim
    import sim.chunks  # noqa: F401 (imports are not part of the measurement)

    spec = _spec()
    steps = spec.steps
    if kind == "hedgesim":  # nor is loading the compiled step from its cache (throughput.py times it)
        HedgingModel(spec, 1, SEED, engine="kernel").run()
    t0 = time.perf_counter()
    if kind == "hedgesim":
        ens = sim.run(spec, runs=runs, seed=SEED, workers=workers, progress=False)
        ens.stats()
    else:
        out = batch_run(
            PlainModel,
            parameters={"run": range(runs)},
            number_processes=workers,
            data_collection_period=1,
            max_steps=steps,
            display_progress=False,
        )
        assert len(out) == runs * (steps + 1)
    wall = time.perf_counter() - t0
    main_mib, worker_mib = _peak_mib()
    return {
        "kind": kind,
        "runs": runs,
        "workers": workers,
        "steps": spec.steps,
        "seconds": round(wall, 3),
        "run_steps_per_s": round(runs * spec.steps / wall),
        "peak_main_mib": round(main_mib),
        "peak_worker_mib": round(worker_mib),
    }


def in_fresh_process(kind: str, runs: int, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--measure", kind, str(runs), str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile_step(runs: int = 10_000) -> list[tuple[str, float]]:
    """CPU milliseconds per step spent in each part of a step at ``runs`` runs (one model, the
    kernel loaded before; the parts are called in the order of :meth:`HedgingModel.step`), and,
    apart, the step's noise drawn alone (:func:`sim.kernel.box_muller`: the step draws the same
    numbers a block of runs at a time, inside its loop)."""
    from sim.kernel import box_muller, step_keys

    spec = _spec()
    HedgingModel(spec, 1, SEED, engine="kernel").run()
    clock = time.process_time
    t0 = clock()
    m = HedgingModel(spec, np.arange(runs), SEED, engine="kernel")
    parts = {"build the model (fresh record buffer)": clock() - t0}
    names = ("events and holds (apply_events)", "the compiled step: noise, equations, record")
    parts.update(dict.fromkeys(names, 0.0))
    k = m.kernel
    for t in range(1, spec.steps + 1):
        a = clock()
        m.apply_events(t)
        m.deciding = m.decide_step is not None and t >= m.decide_step
        b = clock()
        k.advance(t, step_keys(m._noise_keys, t), 0, runs)
        c = clock()
        m.state, m._next, m._view = m._next, m.state, None
        for name, dt in zip(names, (b - a, c - b), strict=True):
            parts[name] += dt
    out = [(label, sec / spec.steps) for label, sec in parts.items()]
    out[0] = (out[0][0] + ", per step", out[0][1])
    logu = np.empty((m._noise_keys.size, runs), dtype=np.float32)
    sine = np.empty_like(logu)
    a = clock()
    for t in range(1, spec.steps + 1):
        box_muller(m.streams._base, m._noise_keys, t, logu, sine, 0, runs)
    out.append(("(of the step: its noise, drawn alone)", (clock() - a) / spec.steps))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only up to 10^4 runs")
    ap.add_argument("--csv", type=Path, default=HERE / "ensembles.csv", help="where to write the table")
    ap.add_argument("--measure", nargs=3, metavar=("KIND", "RUNS", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        kind, runs, workers = args.measure
        print(json.dumps(measure(kind, int(runs), int(workers))))
        return

    sizes = [1, 100, 10_000] if args.quick else [1, 100, 10_000, 100_000, 1_000_000]
    # batch_run builds a model per run: 10^4 runs take minutes, 10^6 would take hours. With two
    # processes it is slower still here (each run's rows are pickled back), so it stops at 10^2.
    mesa_sizes = {1: {1, 100, 10_000}, 2: {1, 100}}
    rows = []
    for n in sizes:
        for w in (1, 2):
            rows.append(in_fresh_process("hedgesim", n, w))
            if n in mesa_sizes[w]:
                rows.append(in_fresh_process("mesa.batch_run", n, w))
            print(".", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)

    speed = {(r["kind"], r["runs"], r["workers"]): r["run_steps_per_s"] for r in rows}
    for r in rows:
        base = speed.get(("mesa.batch_run", r["runs"], r["workers"]))
        r["ratio_vs_batch_run"] = (
            round(r["run_steps_per_s"] / base, 1) if r["kind"] == "hedgesim" and base else ""
        )

    cols = list(rows[0].keys())
    args.csv.write_text("")
    with args.csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    head = f"{'kind':<15}{'runs':>10}{'workers':>8}{'seconds':>10}{'run-steps/s':>14}"
    head += f"{'peak MiB':>16}{'× batch_run':>13}"
    print(
        f"hedgesim ensembles, csp2023 ({rows[0]['steps']} steps), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(head)
    for r in rows:
        peak = f"{r['peak_main_mib']}/{r['peak_worker_mib']}"
        print(
            f"{r['kind']:<15}{r['runs']:>10,}{r['workers']:>8}{r['seconds']:>10.2f}"
            f"{r['run_steps_per_s']:>14,}{peak:>16}{str(r['ratio_vs_batch_run']):>13}"
        )
    print("peak MiB: main process / largest worker process (ru_maxrss)")
    print("\nOne step at 10,000 runs, by part (CPU ms per step):")
    for label, sec in profile_step():
        print(f"  {label:<46}{sec * 1e3:8.2f}")
    print(f"\nCSV: {args.csv}")


if __name__ == "__main__":
    main()
