"""Sweeps: a design of parameter values, replicated runs at each, and outcome metrics per run.

A sweep is the engine under ``hedgesim sweep`` and ``hedgesim sensitivity`` (BehaviorSpace in
NetLogo's terms; an "experiment" in the EMA Workbench's). Its parts:

- a **design**: S samples of D parameters (:mod:`sim.parameters` names them), from a full grid,
  a Latin hypercube (McKay, Beckman & Conover 1979) or a scrambled Sobol' sequence (Owen 1998),
  or given as a matrix (what SALib's samplers produce, :mod:`sim.global_sensitivity`);
- **replicates**: R runs per sample; replicate r of every sample is run r of the scenario, so the
  samples share their random numbers (common random numbers across the design: two samples differ
  only by their parameters, and a parameter that does not enter an outcome changes no bit of it).
  Every random number is still a function of (seed, run, step, stream) (:mod:`sim.noise`), and
  nothing depends on how the S x R runs are split;
- **metrics**: numbers per run, written ``VAR@DATE``, ``VAR@end`` or ``mean(VAR, FROM..TO)``;
  with ``against``, each is the paired difference with another scenario run with the same seed,
  run indices and parameter values (common random numbers; Law 2015, *Simulation Modeling and
  Analysis*, 11.2).

The S x R runs of a design over mechanism parameters and event magnitudes are stepped in chunks of
thousands, each chunk one model whose runs take their samples' values through
:class:`sim.parameters.PerRun`, so 368,640 runs cost about as much as one ensemble of that size.
Chunks go to local processes or a Dask cluster; each returns only its metrics (M numbers per run),
so no trajectory is kept.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError
from sim.parameters import PerRun, Range, with_values
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd

DESIGNS = ("grid", "lhs", "sobol")

#: Levels of a parameter on a grid when its range gives none.
GRID_LEVELS = 5

#: Runs per chunk of a sweep: one model steps this many runs at once.
SWEEP_CHUNK = 4096

#: Runs of a sweep below which one process is faster than starting a pool.
PARALLEL_RUNS = 20_000


# ---- metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A number per run: a variable at one date, or its mean over a span of dates (inclusive)."""

    text: str
    variable: str
    first: int  # index of the first date
    last: int  # index of the last date

    def of(self, record: np.ndarray, variables: list[str]) -> np.ndarray:
        """The metric of each run of a model's record, shape (variables, dates, runs)."""
        row = record[variables.index(self.variable)]
        if self.first == self.last:
            return row[self.first].copy()
        return row[self.first : self.last + 1].mean(axis=0)


_AT = re.compile(r"^\s*(?P<var>[^@()\s]+)\s*@\s*(?P<date>\S+)\s*$")
_MEAN = re.compile(r"^\s*mean\(\s*(?P<var>[^,\s]+)\s*,\s*(?P<a>[^.\s]+)\s*\.\.\s*(?P<b>[^)\s]+)\s*\)\s*$")


def parse_metric(text: str, sc: Scenario, variables: list[str], label: str = "--metric") -> Metric:
    """``"cambodia.hedging_index@end"``, ``"japan.influence@2024Q4"`` or
    ``"mean(japan.influence, 2023Q1..2024Q4)"`` -> a :class:`Metric`, or one line of error."""
    dates = sc.dates

    def index(date: str) -> int:
        if date == "end":
            return len(dates) - 1
        if date == "start":
            return 0
        from sim.quantities import format_date, parse_date

        try:
            d = format_date(parse_date(date))
        except ValueError as err:
            raise HedgesimError(f"{label} {text}: {err}") from None
        if d not in dates:
            raise HedgesimError(f"{label} {text}: {date} is outside the horizon {dates[0]}..{dates[-1]}")
        return dates.index(d)

    if m := _MEAN.match(text):
        var, first, last = m["var"], index(m["a"]), index(m["b"])
        if first > last:
            raise HedgesimError(f"{label} {text}: FROM must not be after TO")
    elif m := _AT.match(text):
        var = m["var"]
        first = last = index(m["date"])
    else:
        raise HedgesimError(f"{label} {text}: expected VAR@DATE, VAR@end or mean(VAR, FROM..TO)")
    if var not in variables:
        import difflib

        close = difflib.get_close_matches(var, variables, n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; expected one of the {len(variables)} variables, e.g. {', '.join(variables[:3])}"
            " (all in the variable column of a run's summary.csv)"
        )
        raise HedgesimError(f"{label} {text}: no variable {var!r}{hint}")
    return Metric(text.strip(), var, first, last)


def default_metric(sc: Scenario) -> str:
    """The hedging index at the end: the model's headline outcome."""
    return f"{sc.small}.hedging_index@end"


# ---- designs -----------------------------------------------------------------------------------


def levels_only_on_a_grid(ranges: list[Range]) -> None:
    """Refuse a range's N (grid levels) where no grid is made: it would be silently ignored."""
    for r in ranges:
        if r.levels is not None:
            raise HedgesimError(
                f"--param {r.name}: N (levels) is for `sweep --design grid` only; "
                f"give {r.name}=LOW:HIGH, and --samples for the number of samples"
            )


def design_rng(seed: int, what: str) -> np.random.Generator:
    """The random numbers of a design: a function of the seed and the design's name only."""
    from sim.noise import stream_key

    return np.random.default_rng([seed, stream_key(f"design/{what}")])


def make_design(ranges: list[Range], design: str, samples: int | None, seed: int) -> np.ndarray:
    """The matrix of parameter values, shape (samples, parameters)."""
    if design not in DESIGNS:
        raise HedgesimError(f"--design: expected one of {', '.join(DESIGNS)}, found {design!r}")
    low = np.array([r.low for r in ranges])
    high = np.array([r.high for r in ranges])
    if design == "grid":
        from sim.limits import MAX_RUNS

        points = math.prod(r.levels or GRID_LEVELS for r in ranges)  # counted before it is built
        if points > MAX_RUNS:
            raise HedgesimError(
                f"--design grid: {' x '.join(str(r.levels or GRID_LEVELS) for r in ranges)} = {points:,} "
                f"grid points; expected at most {MAX_RUNS:,} (fewer levels N, or --design lhs)"
            )
        axes = [np.linspace(r.low, r.high, r.levels or GRID_LEVELS) for r in ranges]
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(ranges))
    if samples is None or samples < 1:
        raise HedgesimError(f"--samples: a {design} design needs a number of samples >= 1")
    from scipy.stats import qmc

    rng = design_rng(seed, design)
    if design == "lhs":
        unit = qmc.LatinHypercube(d=len(ranges), rng=rng).random(samples)
    else:
        import warnings

        with warnings.catch_warnings():  # a count that is not a power of 2 is allowed, if less balanced
            warnings.simplefilter("ignore")
            unit = qmc.Sobol(d=len(ranges), scramble=True, rng=rng).random(samples)
    return low + unit * (high - low)


# ---- the work: chunks of runs, each returning its metrics -------------------------------------


@dataclass
class Job:
    """What every chunk needs: the scenario of each group of runs, the metrics and the design.

    Runs are numbered k = s * R + r (sample s, replicate r) for the split only; run k is run r of
    the scenario. A group is a range of k that one scenario serves: the whole sweep when only
    per-run values vary (``X`` then holds them, column j for ``names[j]``), else one group per
    sample (``fixed`` then holds them, and the group's scenario is made in :func:`evaluate`).
    """

    scenarios: list[Scenario]
    against: list[Scenario | None]
    starts: list[int]  # first k of each group
    metrics: list[Metric]
    replicates: int
    names: list[str]
    X: np.ndarray | None  # noqa: N815
    titles: dict[int, str]
    #: With one scenario per sample: row g holds sample g's values of ``names``; group g's scenario
    #: is made from ``scenarios[0]`` where its runs are stepped, so that a design of a million
    #: samples is not a million scenarios (7 ms and 40 kB each) built before the first run.
    fixed: np.ndarray | None = None
    #: The engine of every model (:func:`sim.model.choose_engine`), chosen by :func:`compute` for
    #: the whole sweep: its chunks are small, the sweep often is not.
    engine: str | None = None


def evaluate(job: Job, seed: int, start: int, stop: int, threads: int | None = None) -> np.ndarray:
    """Runs k = start..stop-1 (all in one group): their metrics, shape (metrics, runs); ``threads``:
    the kernel's (1 in a pool's processes or Dask's tasks, which fill the cores already)."""
    from sim.model import HedgingModel

    g = bisect.bisect_right(job.starts, start) - 1
    k = np.arange(start, stop, dtype=np.int64)
    runs = k % job.replicates
    if job.fixed is not None:
        values = {n: float(x) for n, x in zip(job.names, job.fixed[g], strict=True)}
        spec = with_values(job.scenarios[0], values)
        vs = with_values(job.against[0], values, job.titles) if job.against[0] is not None else None
    else:
        spec, vs = job.scenarios[g], job.against[g]
    if job.X is not None:
        rows = job.X[k // job.replicates]
        values = {n: PerRun(values=rows[:, j].copy()) for j, n in enumerate(job.names)}
        spec = with_values(spec, values)
        vs = with_values(vs, values, job.titles) if vs is not None else None

    def metrics(sc: Scenario) -> np.ndarray:
        model = HedgingModel(sc, runs, seed, engine=job.engine, threads=threads)
        model.run()
        return np.stack([m.of(model.record, model.variables) for m in job.metrics])

    out = metrics(spec)
    if vs is not None:
        out -= metrics(vs)
    return out


def spans(starts: list[int], total: int, chunk: int) -> list[tuple[int, int]]:
    """Chunks of at most ``chunk`` runs, none across the boundary of a group."""
    ends = [*starts[1:], total]
    return [(a, min(a + chunk, b)) for s, b in zip(starts, ends, strict=True) for a in range(s, b, chunk)]


_job: dict[str, Any] = {}


def _init(job: Job, seed: int) -> None:
    from sim.chunks import worker_signals

    worker_signals()
    _job.update(job=job, seed=seed)


def _pool_chunk(span: tuple[int, int]) -> tuple[int, np.ndarray]:
    return span[0], evaluate(_job["job"], _job["seed"], *span, threads=1)


def compute(
    job: Job,
    seed: int,
    total: int,
    *,
    workers: int | None = None,
    dask: str | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    label: str = "sweep",
) -> np.ndarray:
    """Every run's metrics, shape (metrics, total): the same bits at any workers, chunk or Dask."""
    from sim.chunks import cores
    from sim.model import choose_engine
    from sim.progress import Progress

    models = 2 if job.against[0] is not None else 1
    job = replace(job, engine=job.engine or choose_engine(total * job.scenarios[0].steps * models))
    parts = spans(job.starts, total, chunk_size or SWEEP_CHUNK)
    out = np.empty((len(job.metrics), total))
    procs = workers if workers is not None else (cores() if total >= PARALLEL_RUNS else 1)
    procs = max(1, min(procs, len(parts)))
    bar = Progress(label, total, progress)
    try:
        if dask is not None:
            from sim.cluster import run_on_dask

            for start, y in run_on_dask(dask, partial(evaluate, threads=1), job, seed, parts):
                out[:, start : start + y.shape[1]] = y
                bar(y.shape[1])
        elif procs > 1:
            from sim.chunks import end_pool, pool_context, start_pool

            pool = start_pool(pool_context(), procs, _init, (job, seed))
            ok = False
            try:
                for start, y in pool.imap_unordered(_pool_chunk, parts):
                    out[:, start : start + y.shape[1]] = y
                    bar(y.shape[1])
                ok = True
            finally:
                end_pool(pool, ok)
        else:
            for a, b in parts:
                out[:, a:b] = evaluate(job, seed, a, b)
                bar(b - a)
    finally:
        bar.close()
    return out


# ---- a sweep -----------------------------------------------------------------------------------


class Sweep:
    """A design's samples and every run's metrics.

    ``X`` has shape (samples, parameters); ``Y`` has shape (metrics, samples, replicates).
    """

    def __init__(
        self,
        scenario: Scenario,
        against: Scenario | None,
        names: list[str],
        X: np.ndarray,  # noqa: N803
        metrics: list[Metric],
        Y: np.ndarray,  # noqa: N803
        seed: int,
        design: str,
        wall_time: float,
    ):
        self.scenario, self.against, self.names = scenario, against, list(names)
        self.X, self.metrics, self.Y = X, metrics, Y
        self.seed, self.design, self.wall_time = seed, design, wall_time

    @property
    def samples(self) -> int:
        return self.X.shape[0]

    @property
    def replicates(self) -> int:
        return self.Y.shape[2]

    @property
    def runs(self) -> int:
        return self.samples * self.replicates

    def __repr__(self) -> str:
        vs = f" against {self.against.name}" if self.against is not None else ""
        return (
            f"<Sweep {self.scenario.name}{vs}: {self.samples} samples x {self.replicates} runs, "
            f"{len(self.names)} parameters, {len(self.metrics)} metrics, seed {self.seed}>"
        )

    def means(self, metric: int | str = 0) -> np.ndarray:
        """One metric's mean over the replicates of each sample, shape (samples,)."""
        return self.Y[self._metric(metric)].mean(axis=1)

    def _metric(self, metric: int | str) -> int:
        if isinstance(metric, int):
            return metric
        texts = [m.text for m in self.metrics]
        if metric not in texts:
            raise KeyError(f"no metric {metric!r}; the sweep has {texts}")
        return texts.index(metric)

    def table(self) -> pd.DataFrame:
        """One row per sample: the parameters, then for each metric its mean over the replicates,
        the sd and a 95% Student-t interval of that mean (empty with one replicate)."""
        import pandas as pd
        from scipy import stats

        R = self.replicates  # noqa: N806
        frame: dict[str, Any] = {"sample": np.arange(self.samples)}
        for j, name in enumerate(self.names):
            frame[name] = self.X[:, j]
        t = stats.t.ppf(0.975, R - 1) if R > 1 else math.nan
        for k, m in enumerate(self.metrics):
            y = self.Y[k]
            mean = y.mean(axis=1)
            sd = y.std(axis=1, ddof=1) if R > 1 else np.full(self.samples, math.nan)
            half = t * sd / math.sqrt(R)
            frame[m.text] = mean
            frame[f"{m.text} sd"] = sd
            frame[f"{m.text} low95"] = mean - half
            frame[f"{m.text} high95"] = mean + half
        return pd.DataFrame(frame)

    def variance_parts(self, metric: int | str = 0) -> dict[str, float]:
        """How much of a metric's variance over all runs comes from the parameters and how much
        from the runs' noise: a one-way random-effects ANOVA over samples (Searle, Casella &
        McCulloch 1992, ch. 3). ``stochastic`` is the mean within-sample variance; ``parametric`` is
        the variance of the sample means less the noise left in them (within / R), floored at 0."""
        y = self.Y[self._metric(metric)]
        if y.shape[1] < 2:
            raise HedgesimError("variance parts need at least 2 runs per sample (--runs)")
        return variance_parts(y)


def variance_parts(y: np.ndarray) -> dict[str, float]:
    """:meth:`Sweep.variance_parts` of a (samples, runs) array, runs >= 2."""
    R = y.shape[1]  # noqa: N806
    within = float(y.var(axis=1, ddof=1).mean())
    between = float(y.mean(axis=1).var(ddof=1)) if y.shape[0] > 1 else 0.0
    parametric = max(0.0, between - within / R)
    total = parametric + within
    share = parametric / total if total > 0 else math.nan
    return {"parametric": parametric, "stochastic": within, "parametric_share": share}


def run_design(
    scenario: Scenario | str | Path,
    names: list[str],
    X: np.ndarray,  # noqa: N803
    metrics: list[str] | None = None,
    *,
    replicates: int = 1,
    seed: int | None = None,
    against: Scenario | str | Path | None = None,
    design: str = "given",
    workers: int | None = None,
    dask: str | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Sweep:
    """Run a design given as a matrix: row s of ``X`` sets the parameters ``names`` for runs
    0 .. replicates - 1 of the scenario (the same runs, so the same random numbers, for every
    row). The values must lie in the parameters' valid ranges.

    Returns a :class:`Sweep`; its numbers are the same, bit for bit, at any ``workers``,
    ``chunk_size`` or ``dask``.
    """
    from sim.chunks import output_names
    from sim.limits import MAX_RUNS
    from sim.parameters import lookup

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    vs = against if isinstance(against, Scenario) or against is None else load_scenario(against)
    X = np.asarray(X, dtype=float)  # noqa: N806
    if X.ndim != 2 or X.shape[1] != len(names):
        raise HedgesimError(f"design: expected a matrix of {len(names)} columns, found shape {X.shape}")
    if not isinstance(replicates, int) or replicates < 1:
        raise HedgesimError(f"--runs: expected a whole number >= 1, found {replicates!r}")
    total = X.shape[0] * replicates
    if total > MAX_RUNS:
        raise HedgesimError(f"runs: expected at most {MAX_RUNS:,} in all, found {total:,}")
    params = [lookup(sc, n) for n in names]
    for j, p in enumerate(params):
        if X.shape[0] and not (
            np.isfinite(X[:, j]).all() and p.low <= X[:, j].min() <= X[:, j].max() <= p.high
        ):
            raise HedgesimError(f"design: {p.name}: values outside the valid range {p.low:g}..{p.high:g}")
    _check_influence_weights(sc, names, X)
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 1)
    if vs is not None and vs.powers != sc.powers:
        raise HedgesimError(f"--against {vs.source}: other powers than {sc.source} ({vs.powers})")
    if vs is not None and vs.dates != sc.dates:  # else a metric's date would be another date there
        raise HedgesimError(
            f"--against {vs.source}: runs {vs.dates[0]}..{vs.dates[-1]}, {sc.source} runs "
            f"{sc.dates[0]}..{sc.dates[-1]}; a paired difference needs the same dates"
        )
    variables = output_names(sc, seed)
    parsed = [parse_metric(t, sc, variables) for t in (metrics or [default_metric(sc)])]
    texts = [m.text for m in parsed]
    for t in texts:
        if texts.count(t) > 1:
            raise HedgesimError(f"--metric {t}: given twice")
    titles = {i: e.title for i, e in enumerate(sc.events)}
    per_run = all(p.per_run for p in params)
    t0 = time.perf_counter()
    fixed = None
    if per_run:
        specs, againsts, starts, matrix = [sc], [vs], [0], X
    else:  # fixed numbers in the model: one scenario per sample, made where it runs
        specs, againsts, matrix, fixed = [sc], [vs], None, X
        starts = [s * replicates for s in range(X.shape[0])]
        if X.shape[0]:  # the first sample's scenario now: a value the file's checks refuse fails here
            first = {p.name: float(x) for p, x in zip(params, X[0], strict=True)}
            with_values(sc, first)
            if vs is not None:
                with_values(vs, first, titles)
    job = Job(specs, againsts, starts, parsed, replicates, [p.name for p in params], matrix, titles, fixed)
    y = compute(
        job, seed, total, workers=workers, dask=dask, chunk_size=chunk_size, progress=progress, label=sc.name
    )
    Y = y.reshape(len(parsed), X.shape[0], replicates)  # noqa: N806
    return Sweep(sc, vs, [p.name for p in params], X, parsed, Y, seed, design, time.perf_counter() - t0)


def sweep(
    scenario: Scenario | str | Path,
    params: list[str] | dict[str, tuple[float, float]],
    metrics: list[str] | None = None,
    *,
    design: str = "lhs",
    samples: int | None = None,
    runs: int = 10,
    seed: int | None = None,
    against: Scenario | str | Path | None = None,
    workers: int | None = None,
    dask: str | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Sweep:
    """Sweep parameters over their ranges: ``sim.sweep("scenarios/csp2023.toml", ["inertia=0.1:0.4"],
    ["cambodia.hedging_index@end"], design="lhs", samples=64, runs=10)``.

    ``params`` are ``NAME=LOW:HIGH[:N]`` texts (N: levels on a grid) or ``{name: (low, high)}``;
    ``runs`` is the replicates per sample; ``against`` a scenario to take paired differences with.
    """
    from sim.parameters import checked_range, lookup, parse_range

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(params, dict):
        ranges = [checked_range(sc, lookup(sc, k), lo, hi, None, "--param") for k, (lo, hi) in params.items()]
    else:
        ranges = [parse_range(sc, t) for t in params]
    if not ranges:
        raise HedgesimError("--param: give at least one parameter to sweep, NAME=LOW:HIGH")
    dup = [r.name for r in ranges if [x.name for x in ranges].count(r.name) > 1]
    if dup:
        raise HedgesimError(f"--param {dup[0]}: given twice")
    if design != "grid":
        levels_only_on_a_grid(ranges)
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 1)
    X = make_design(ranges, design, samples, seed)  # noqa: N806
    return run_design(
        sc,
        [r.name for r in ranges],
        X,
        metrics,
        replicates=runs,
        seed=seed,
        against=against,
        design=design,
        workers=workers,
        dask=dask,
        chunk_size=chunk_size,
        progress=progress,
    )


def _check_influence_weights(sc: Scenario, names: list[str], X: np.ndarray) -> None:  # noqa: N803
    """The rule of ``Parameters`` that the four ``influence_*`` weights are not all 0, for every
    sample: values put into the runs do not pass the scenario's own checks again."""
    from sim.scenario import INFLUENCE_WEIGHTS, _highest

    cols = {n.removeprefix("parameters."): j for j, n in enumerate(names)}
    if not any(w in cols for w in INFLUENCE_WEIGHTS):
        return
    highest = np.stack(
        [
            X[:, cols[w]] if w in cols else np.full(len(X), _highest(getattr(sc.parameters, w)))
            for w in INFLUENCE_WEIGHTS
        ]
    )
    zero = np.flatnonzero((highest == 0).all(axis=0))
    if zero.size:
        raise HedgesimError(
            f"design: sample {zero[0]}: the four influence_* weights cannot all be 0"
            " (influence would have no target)"
        )
