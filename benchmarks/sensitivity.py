"""Sobol' indices of csp2023: 8 parameters, N = 1024, 20 runs per point (368,640 runs), on the
ensemble engine, beside the same analysis driven through the EMA Workbench's own evaluator with one
model run per call (measured on a subsample of calls and extrapolated, as said in the output).

    .venv/bin/python benchmarks/sensitivity.py [--workers 2] [--samples 1024] [--runs 20] [--calls 200]

Prints the load of the machine (others may share its cores), the times, and the indices of the
hedging index at the end of csp2023 and of the partnership's effect on it (against no_csp).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSP = ROOT / "scenarios" / "csp2023.toml"
NO_CSP = ROOT / "scenarios" / "no_csp.toml"

#: 8 parameters of the small state's decision and of the partnership's channels, +-50% around
#: csp2023's values (inertia and alignment_noise around the means of their distributions).
PARAMS = [
    "weight_aid=1.25:3.75",
    "weight_dependence=0.6:1.8",
    "weight_protection=25:75",
    "weight_threat=1.15:3.45",
    "weight_regime=0.35:1.05",
    "inertia=0.1:0.3",
    "tier_credibility=0.15:0.45",
    "tier_trust=0.25:0.75",
]
METRIC = "cambodia.hedging_index@end"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def ema_rate(calls: int, seed: int) -> float:
    """Seconds per call of the Workbench's SequentialEvaluator, one run per call."""
    from ema_workbench import SequentialEvaluator, perform_experiments

    from sim.ema import ema_model

    model = ema_model(CSP, [METRIC], uncertainties=PARAMS, runs=1, seed=seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SequentialEvaluator(model) as evaluator:
            perform_experiments(model, scenarios=calls, evaluator=evaluator)
    return (time.perf_counter() - t0) / calls


def main() -> None:
    import sim

    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--against", action="store_true", help="also the effect against no_csp")
    a = ap.parse_args()
    print(f"before: {load()}")
    t0 = time.perf_counter()
    sa = sim.sensitivity(
        CSP, PARAMS, [METRIC], method="sobol", samples=a.samples, runs=a.runs, seed=a.seed, workers=a.workers
    )
    engine = time.perf_counter() - t0
    runs = sa.sweep.runs
    print(
        f"engine: {runs:,} runs (N = {a.samples}, 8 parameters, {a.runs} runs per point) in {engine:.1f} s "
        f"on {a.workers} processes, analysis included; after: {load()}"
    )
    print(sa.text())
    if a.against:
        t0 = time.perf_counter()
        vs = sim.sensitivity(
            CSP,
            PARAMS,
            [METRIC],
            method="sobol",
            samples=a.samples,
            runs=a.runs,
            seed=a.seed,
            workers=a.workers,
            against=NO_CSP,
        )
        print(f"against no_csp: {2 * runs:,} runs in {time.perf_counter() - t0:.1f} s; {load()}")
        print(vs.text())
        effect = vs.sweep.means(0)
        print(
            f"the partnership's effect on the hedging index, over the {len(effect):,} points: mean "
            f"{effect.mean():+.4f}, negative at {(effect < 0).mean():.1%} of them"
        )
    per_call = ema_rate(a.calls, a.seed)
    print(
        f"EMA Workbench, SequentialEvaluator, one run per call: {per_call * 1e3:.1f} ms per call "
        f"(measured on {a.calls} calls); {runs:,} calls would take about {per_call * runs / 3600:.1f} h "
        f"(extrapolated), {per_call * runs / engine:.0f} times the engine's time; {load()}"
    )


if __name__ == "__main__":
    main()
