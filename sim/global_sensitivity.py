"""Global sensitivity: which parameters drive an outcome, by Sobol' indices or a Morris screen.

Three steps, each usable alone (so a function with known indices, such as Ishigami's, runs through
the same pipeline as the model; tests/test_sensitivity.py):

1. :func:`sample`: SALib's samplers. Sobol' indices use Saltelli's scheme (Saltelli 2002; Saltelli
   et al. 2010, *Comput. Phys. Commun.* 181) on a scrambled Sobol' sequence, N base samples giving
   N (2D + 2) points (N (D + 2) without second-order indices); Morris uses N trajectories of D + 1
   points (Morris 1991; Campolongo, Cariboni & Saltelli 2007 for mu*).
2. evaluation: for hedgesim, :func:`sim.sweeps.run_design`, R replicated runs per point on the
   ensemble engine (the same numbers at any split);
3. :func:`analyze`: SALib's estimators on the mean over replicates of each point, with bootstrap
   confidence intervals (seeded, so repeatable). The same estimators on the first half of the base
   samples give a convergence check (indices at N/2 beside those at N), and the replicates split
   the outcome's variance into a parametric and a stochastic part (:meth:`Sweep.variance_parts`).

Indices are computed on the mean of the replicates: they describe how the parameters move the
expected outcome; the stochastic part says how much of a single run's spread the parameters cannot
explain at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError
from sim.parameters import Range
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd

    from sim.sweeps import Sweep

METHODS = ("sobol", "morris")

#: Levels of the Morris grid (Morris 1991: an even number, p = 4 is usual).
MORRIS_LEVELS = 4

#: Bootstrap resamples for the confidence intervals.
RESAMPLES = 200


def problem(ranges: list[Range] | list[tuple[str, float, float]]) -> dict[str, Any]:
    """SALib's description of the inputs: names and bounds."""
    rows = [(r.name, r.low, r.high) if isinstance(r, Range) else r for r in ranges]
    return {
        "num_vars": len(rows),
        "names": [n for n, _, _ in rows],
        "bounds": [[lo, hi] for _, lo, hi in rows],
    }


def sample(prob: dict[str, Any], method: str, n: int, seed: int, second_order: bool = True) -> np.ndarray:
    """The points to evaluate, shape (points, parameters)."""
    if method not in METHODS:
        raise HedgesimError(f"--method: expected one of {', '.join(METHODS)}, found {method!r}")
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise HedgesimError(f"--samples: Sobol' indices need a power of 2 >= 2 base samples, found {n}")
        from SALib.sample import sobol

        return sobol.sample(prob, n, calc_second_order=second_order, scramble=True, seed=seed)
    if n < 2:
        raise HedgesimError(f"--samples: a Morris screen needs at least 2 trajectories, found {n}")
    from SALib.sample import morris

    return morris.sample(prob, n, num_levels=MORRIS_LEVELS, seed=seed)


def points_per_base(method: str, d: int, second_order: bool = True) -> int:
    """Rows of the design per base sample (Sobol') or per trajectory (Morris)."""
    if method == "sobol":
        return 2 * d + 2 if second_order else d + 2
    return d + 1


@dataclass
class Indices:
    """The indices of one outcome: ``table`` has a row per parameter; ``second`` (Sobol') a row per
    pair; ``half`` the same indices from the first half of the base samples (convergence)."""

    outcome: str
    method: str
    table: pd.DataFrame
    second: pd.DataFrame | None = None
    variance: dict[str, float] = field(default_factory=dict)


def analyze(
    prob: dict[str, Any],
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    method: str,
    seed: int,
    outcome: str = "y",
    second_order: bool = True,
    convergence: bool = True,
) -> Indices:
    """Indices of ``y`` (one value per row of ``X``, or (rows, replicates): their mean is used).

    Sobol': S1, ST (and S2) with their 95% bootstrap half-widths (``S1_conf``...); Morris: mu*,
    its half-width, mu and sigma. With ``convergence``, the columns ``S1_half``, ``ST_half`` (or
    ``mu_star_half``) hold the same indices from the first half of the base samples.
    """
    import pandas as pd

    y = np.asarray(y, dtype=float)
    variance: dict[str, float] = {}
    if y.ndim == 2:
        if y.shape[1] > 1:
            from sim.sweeps import variance_parts

            variance = variance_parts(y)
        y = y.mean(axis=1)
    if not np.isfinite(y).all():
        raise HedgesimError(f"{outcome}: the outcome is not finite in every run; no indices")
    d = prob["num_vars"]
    per = points_per_base(method, d, second_order)
    n = len(y) // per

    def indices(rows: int) -> dict[str, Any]:
        if method == "sobol":
            from SALib.analyze import sobol

            return sobol.analyze(
                prob,
                y[:rows],
                calc_second_order=second_order,
                num_resamples=RESAMPLES,
                conf_level=0.95,
                seed=seed,
            )
        from SALib.analyze import morris

        return morris.analyze(
            prob,
            X[:rows],
            y[:rows],
            num_resamples=RESAMPLES,
            conf_level=0.95,
            num_levels=MORRIS_LEVELS,
            seed=seed,
        )

    if np.ptp(y) == 0:
        raise HedgesimError(f"{outcome}: the outcome does not vary over the design; no indices")
    full = indices(n * per)
    keys = (
        ("S1", "S1_conf", "ST", "ST_conf")
        if method == "sobol"
        else ("mu_star", "mu_star_conf", "mu", "sigma")
    )
    table = pd.DataFrame({"parameter": prob["names"], **{k: np.asarray(full[k], dtype=float) for k in keys}})
    if convergence and n >= 4 and (method == "morris" or (n // 2) & (n // 2 - 1) == 0):
        half = indices((n // 2) * per)
        for k in keys[::2]:
            table[f"{k}_half"] = np.asarray(half[k], dtype=float)
    second = None
    if method == "sobol" and second_order:
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        second = pd.DataFrame(
            {
                "parameter": [prob["names"][i] for i, _ in pairs],
                "other": [prob["names"][j] for _, j in pairs],
                "S2": [float(full["S2"][i, j]) for i, j in pairs],
                "S2_conf": [float(full["S2_conf"][i, j]) for i, j in pairs],
            }
        )
    main = "ST" if method == "sobol" else "mu_star"
    table = table.sort_values(main, ascending=False, kind="stable").reset_index(drop=True)
    return Indices(outcome, method, table, second, variance)


@dataclass
class Sensitivity:
    """A sensitivity analysis of a scenario: the sweep it ran and the indices of each outcome."""

    sweep: Sweep
    method: str
    base_samples: int
    results: list[Indices]

    def table(self) -> pd.DataFrame:
        """Tidy: one row per outcome and parameter, the parametric share of the outcome's variance."""
        import pandas as pd

        frames = []
        for r in self.results:
            t = r.table.copy()
            t.insert(0, "outcome", r.outcome)
            t["parametric_share"] = r.variance.get("parametric_share", math.nan)
            frames.append(t)
        return pd.concat(frames, ignore_index=True)

    def second_order(self) -> pd.DataFrame | None:
        import pandas as pd

        frames = []
        for r in self.results:
            if r.second is not None:
                t = r.second.copy()
                t.insert(0, "outcome", r.outcome)
                frames.append(t)
        return pd.concat(frames, ignore_index=True) if frames else None

    def text(self) -> str:
        """The indices as aligned text, outcome by outcome."""
        lines = []
        for r in self.results:
            runs = self.sweep.replicates
            head = f"{r.outcome}  ({self.method}, N = {self.base_samples}, {runs} runs per point"
            if r.variance:
                share = r.variance["parametric_share"]
                head += f"; variance {share:.0%} parametric, {1 - share:.0%} stochastic"
            lines.append(head + ")")
            cols = [c for c in r.table.columns if c != "parameter"]
            width = max(len(p) for p in r.table["parameter"])
            lines.append(f"  {'parameter':<{width}}  " + "  ".join(f"{c:>12}" for c in cols))
            for _, row in r.table.iterrows():
                lines.append(f"  {row['parameter']:<{width}}  " + "  ".join(f"{row[c]:>12.3f}" for c in cols))
        return "\n".join(lines)


def sensitivity(
    scenario: Scenario | str | Path,
    params: list[str] | dict[str, tuple[float, float]],
    metrics: list[str] | None = None,
    *,
    method: str = "sobol",
    samples: int = 64,
    runs: int = 1,
    seed: int | None = None,
    against: Scenario | str | Path | None = None,
    second_order: bool = True,
    workers: int | None = None,
    dask: str | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Sensitivity:
    """Sobol' indices or a Morris screen of a scenario's outcomes over parameter ranges.

    ``params`` as for :func:`sim.sweeps.sweep` (``"inertia=0.1:0.4"``); ``samples`` is N, the base
    samples (Sobol', a power of 2) or trajectories (Morris); ``runs`` the replicates per point.
    """
    from sim.limits import MAX_RUNS
    from sim.parameters import checked_range, lookup, parse_range
    from sim.sweeps import levels_only_on_a_grid, run_design

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(params, dict):
        ranges = [checked_range(sc, lookup(sc, k), lo, hi, None, "--param") for k, (lo, hi) in params.items()]
    else:
        ranges = [parse_range(sc, t) for t in params]
    if len(ranges) < 2:
        raise HedgesimError("--param: a sensitivity analysis needs at least two parameters")
    names = [r.name for r in ranges]
    dup = [n for n in names if names.count(n) > 1]
    if dup:
        raise HedgesimError(f"--param {dup[0]}: given twice")
    levels_only_on_a_grid(ranges)
    d = len(ranges)
    points = samples * ((2 * d + 2 if second_order else d + 2) if method == "sobol" else d + 1)
    if isinstance(runs, int) and points * runs > MAX_RUNS:  # refused before the design is built
        raise HedgesimError(f"runs: expected at most {MAX_RUNS:,} in all, found {points * runs:,}")
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 1)
    prob = problem(ranges)
    X = sample(prob, method, samples, seed, second_order)  # noqa: N806
    sw = run_design(
        sc,
        names,
        X,
        metrics,
        replicates=runs,
        seed=seed,
        against=against,
        design=method,
        workers=workers,
        dask=dask,
        chunk_size=chunk_size,
        progress=progress,
    )
    results = [
        analyze(prob, X, sw.Y[k], method, seed, m.text, second_order) for k, m in enumerate(sw.metrics)
    ]
    return Sensitivity(sw, method, samples, results)


def screen(
    scenario: Scenario | str | Path,
    metric: str | None = None,
    *,
    spread: float = 0.5,
    trajectories: int = 4,
    runs: int = 4,
    seed: int | None = None,
) -> Indices:
    """A cheap Morris screen of every mechanism parameter at +-``spread`` of its value (a
    distribution's mean; within its valid range): the dashboard's "what drives this?".

    With 36 parameters, 4 trajectories and 4 runs per point it is 592 runs, about a second.
    Parameters at 0 are left out (a relative range around 0 is empty).
    """
    from sim.parameters import Range, parameters
    from sim.sweeps import default_metric, run_design

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ranges = []
    for p in parameters(sc):
        if not p.per_run or p.name.startswith("events[") or not p.default:
            continue
        lo, hi = sorted((p.default * (1 - spread), p.default * (1 + spread)))
        lo, hi = max(lo, p.low), min(hi, p.high)
        if hi > lo:
            ranges.append(Range(p, lo, hi))
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 1)
    prob = problem(ranges)
    X = sample(prob, "morris", trajectories, seed)  # noqa: N806
    text = metric or default_metric(sc)
    sw = run_design(sc, [r.name for r in ranges], X, [text], replicates=runs, seed=seed, workers=1)
    return analyze(prob, X, sw.Y[0], "morris", seed, text, convergence=False)
