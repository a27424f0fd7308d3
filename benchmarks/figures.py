"""CPU and wall time of a run's seven figures (csp2023, 500 runs), per figure and format.

    .venv/bin/python benchmarks/figures.py               # best of 3 per figure
    .venv/bin/python benchmarks/figures.py --repeat 5
    .venv/bin/python benchmarks/figures.py --out /tmp/f  # also keep the files, to look at them

The ensemble is simulated once (not timed). Then, for each group of :data:`sim.plots.GROUPS`, in
one process: building the figure (:func:`sim.plots.figure`), saving it as PNG, then as SVG, as
:func:`sim.figure_files.save_figures` does. The groups take turns within each repeat, so that a load on
the machine slows them alike; each figure is the best of ``--repeat``. The first figure of the
process (font cache, backends imported) is drawn once before, untimed. Last, the wall time of
``save_figures`` itself with two processes (a worker spawned beforehand and, on Linux, a copy it
forks, as ``hedgesim run`` does), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import sim
from sim.figure_files import _save_group, save_as, save_figures, start_figure_workers
from sim.plots import GROUPS, figure

HERE = Path(__file__).resolve().parent
CSP = HERE.parent / "scenarios" / "csp2023.toml"


def timed(call):
    """(CPU seconds, wall seconds, result) of ``call()`` in this process."""
    c0, w0 = time.process_time(), time.perf_counter()
    result = call()
    return time.process_time() - c0, time.perf_counter() - w0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--out", type=Path, help="folder to keep the figures in (default: a temporary one)")
    args = ap.parse_args()
    ens = sim.run(sim.load_scenario(CSP), runs=args.runs, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        _save_group(ens, folder, GROUPS[0])  # warm-up: fonts, backends
        best: dict[tuple[str, str], tuple[float, float]] = {}
        for _ in range(args.repeat):
            for g in GROUPS:
                cpu, wall, fig = timed(lambda g=g: figure(ens, g))
                parts = {"build": (cpu, wall)}
                for ext in ("png", "svg"):
                    path = folder / f"{g}.{ext}"
                    cpu, wall, _ = timed(lambda f=fig, path=path: save_as(f, path))
                    parts[ext] = (cpu, wall)
                for part, (cpu, wall) in parts.items():
                    old = best.get((g, part), (float("inf"), float("inf")))
                    best[(g, part)] = (min(old[0], cpu), min(old[1], wall))
        load = os.getloadavg()[0]
        print(f"csp2023, {args.runs} runs; CPU / wall seconds, best of {args.repeat}; load {load:.2f}")
        print(f"{'figure':<12}{'build':>14}{'png':>14}{'svg':>14}{'total':>14}")
        total_cpu = total_wall = 0.0
        for g in GROUPS:
            row = [best[(g, p)] for p in ("build", "png", "svg")]
            cpu, wall = sum(r[0] for r in row), sum(r[1] for r in row)
            total_cpu, total_wall = total_cpu + cpu, total_wall + wall
            cells = "".join(f"{c:>7.3f}/{w:<6.3f}" for c, w in [*row, (cpu, wall)])
            print(f"{g:<12}{cells}")
        print(f"{'all seven':<12}{'':>42}{total_cpu:>7.3f}/{total_wall:<6.3f}")
        walls = []
        for k in range(args.repeat):
            start_figure_workers(2)
            time.sleep(3)  # as in a run, the workers start while the ensemble is simulated
            _, wall, _ = timed(lambda k=k: save_figures(ens, folder / f"parallel{k}", workers=2))
            walls.append(wall)
        print(f"save_figures, 2 processes: {min(walls):.3f} s wall (best of {args.repeat})")


if __name__ == "__main__":
    main()
