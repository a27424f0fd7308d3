"""Throughput of the ensemble model and the wall time of a default run, side by side.

    python benchmarks/throughput.py [--repeat 3]

Prints a table (and writes benchmarks/throughput.csv):
* run-steps per second for csp2023 at 1, 100 and 10,000 runs, in one process (model only: the
  build of the model and its steps, no output files);
* the wall time of `hedgesim run scenarios/csp2023.toml` with its default runs (figures and all),
  next to the time Python takes just to `import mesa, matplotlib.pyplot`, measured in the same
  invocation, alternately, best of --repeat.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSP = ROOT / "scenarios" / "csp2023.toml"


def throughput(runs: int, repeat: int) -> tuple[float, float]:
    """Best run-steps per second for the model alone: (with its construction, stepping only).

    Construction allocates the record of every run (27 variables x 28 dates x runs, float64);
    on this virtual machine fresh pages sometimes cost 100 ms or more to fault in, so the best of
    several repeats is reported.
    """
    import sim
    from sim.model import HedgingModel

    sc = sim.load_scenario(CSP)
    total = steps = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        m = HedgingModel(sc, runs, seed=1)
        t1 = time.perf_counter()
        m.run()
        t2 = time.perf_counter()
        total, steps = min(total, t2 - t0), min(steps, t2 - t1)
    return runs * sc.steps / total, runs * sc.steps / steps


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
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "throughput.csv"))
    args = ap.parse_args()
    rows = []
    for runs in (1, 100, 10_000):
        with_build, stepping = throughput(runs, args.repeat)
        rows.append(
            {
                "measure": f"run-steps/s, {runs} runs",
                "value": round(with_build),
                "unit": "run-steps/s",
                "seconds": round(runs * 27 / with_build, 4),
            }
        )
        rows.append(
            {
                "measure": f"  stepping only, {runs} runs",
                "value": round(stepping),
                "unit": "run-steps/s",
                "seconds": round(runs * 27 / stepping, 4),
            }
        )
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
    print(f"{machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
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
