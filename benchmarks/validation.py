"""Wall and processor time of `hedgesim check` and `hedgesim calibrate` (targets: 10 s and 10 min).

    .venv/bin/python benchmarks/validation.py                 # check, best of 3 (about a minute)
    .venv/bin/python benchmarks/validation.py --calibrate     # and calibrate at its default budget

Each command runs in a fresh process, as a user types it, writing into a temporary folder; the
figures include Python's start and the imports. Processor time is the child's user + system time
(``resource.getrusage(RUSAGE_CHILDREN)``), which other work on the machine does not inflate the way
it inflates wall time; both are printed, with the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEDGESIM = str(Path(sys.executable).with_name("hedgesim"))
SCENARIO = ROOT / "scenarios" / "history_1999_calibrated.toml"


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, processor seconds and exit code of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="Times to run check (best is reported).")
    ap.add_argument("--calibrate", action="store_true", help="Also time calibrate at its default budget.")
    a = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for i in range(a.repeat):
            runs.append(timed([HEDGESIM, "check", str(SCENARIO), "--out", f"{tmp}/check{i}", "--quiet"]))
        wall, cpu, code = min(runs)
        print(
            f"hedgesim check {SCENARIO.name} (its 200 runs, 3 ensembles, table and figure): "
            f"best wall {wall:.2f} s, processor {cpu:.2f} s, exit code {code}; target 10 s"
        )
        if a.calibrate:
            base = ROOT / "scenarios" / "history_1999.toml"
            wall, cpu, code = timed([HEDGESIM, "calibrate", str(base), "--out", f"{tmp}/p.toml"])
            print(
                f"hedgesim calibrate {base.name} (default: 600 draws of 50 runs): wall {wall:.0f} s, "
                f"processor {cpu:.0f} s, exit code {code}; target 600 s"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
