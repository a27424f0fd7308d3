"""Calibration: fit declared parameters to the observed UN voting series, and test on held-out years.

Method: approximate Bayesian computation by rejection (Pritchard et al. 1999, "Population growth
of human Y chromosomes", *Molecular Biology and Evolution* 16: 1791-1798; Beaumont, Zhang and
Balding 2002, *Genetics* 162: 2025-2035, the rejection step without the regression adjustment),
with common random numbers across draws (every draw's ensemble uses the same seed, so that two
draws differ by their parameters, not their luck; McFadden 1989, *Econometrica* 57: 995-1026, on
simulated moments). A library such as pyabc would bring a database server and a dozen dependencies
for what here is twenty lines, so the method is written out and tested (``tests/test_calibration.py``:
parameter recovery on data the model generated).

1. Draw ``draws`` parameter vectors from independent uniform priors (``Prior``), with a generator
   keyed by (seed, "calibrate").
2. For each, run the scenario up to the last calibration year (``runs`` runs, the same seed for
   every draw) and compute the distance: the residual root-mean-square error of the UN voting
   observation model (:class:`sim.observables.UngaMap`), fitted on the calibration years, between
   the ensemble-mean predicted agreement and the observed agreement with China, Japan and the US.
   The map is refitted for each draw: the observation model's two numbers are estimated with the
   parameters, in the calibration years only.
3. Keep the ``accept`` share of draws closest to the data: their values approximate the posterior.
   The point estimate is the posterior median of each parameter.

Held-out years: with the point estimate, the scenario is run to the end of the held-out years; the
map fitted on 1999-2011 predicts 2012-2015, and its error (RMSE over the three powers and four
years) is set beside two naive forecasts: the last calibration year carried forward, and the mean
of the calibration years (each per power).

Only declared parameters (``[parameters]`` of the scenario) are fitted; no equation changes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import HedgesimError
from sim.observables import (
    CALIBRATION_YEARS,
    HELDOUT_YEARS,
    POWERS,
    UngaMap,
    diplomatic_shares,
    fit_unga_map,
    unga_observed,
)

#: The parameters fitted by default, with their uniform priors: the small state's diplomatic
#: weights (docs/ODD.md, 7.8 and 7.12), which move its diplomatic alignment and so UN voting.
DEFAULT_PRIORS = {"weight_reciprocity": (0.0, 4.0), "weight_regime": (0.0, 6.0)}
DEFAULT_DRAWS = 600
DEFAULT_RUNS = 50
DEFAULT_ACCEPT = 0.1


@dataclass(frozen=True)
class Prior:
    """A uniform prior on one parameter of ``[parameters]``."""

    name: str
    low: float
    high: float


def parse_prior(text: str) -> Prior:
    """``"weight_regime=0:3"`` -> ``Prior("weight_regime", 0, 3)``; bad text is a one-line error."""
    from sim.scenario import Parameters

    name, sep, bounds = text.partition("=")
    name = name.strip()
    if not sep:
        raise HedgesimError(f"--parameter: expected NAME=LOW:HIGH, found {text!r}")
    if name not in Parameters.model_fields:
        raise HedgesimError(f"--parameter: {name!r} is not a parameter of [parameters]")
    low, sep, high = bounds.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        raise HedgesimError(f"--parameter {name}: expected LOW:HIGH numbers, found {bounds!r}") from None
    if not sep or not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise HedgesimError(f"--parameter {name}: expected LOW:HIGH with LOW < HIGH, found {bounds!r}")
    from sim.parameters import _fields

    valid = {n: (a, b) for n, a, b, _ in _fields(Parameters)}.get(name)
    if valid is not None and (lo < valid[0] or hi > valid[1]):  # else draws fail one by one, later
        raise HedgesimError(
            f"--parameter {name}: {bounds} is outside the valid range {valid[0]:g}..{valid[1]:g}"
        )
    return Prior(name, lo, hi)


def truncated(scenario: Any, last: str) -> Any:
    """The scenario ending at date ``last``, without the events after it."""
    stop = scenario.dates.index(last)
    late = [e.title for e in scenario.events if scenario.event_step(e) > stop]
    sc = scenario.without_events(*late) if late else scenario
    return sc.with_overrides({"scenario.end": last})


def _check_years(scenario: Any, last_year: int) -> None:
    first, last = int(scenario.dates[0][:4]), int(scenario.dates[-1][:4])
    if first > CALIBRATION_YEARS[0] or last < last_year:
        raise HedgesimError(
            f"{scenario.source}: calibration needs a scenario covering {CALIBRATION_YEARS[0]}-{last_year}, "
            f"this one covers {first}-{last}"
        )


def distance(
    ens: Any, unga: pd.DataFrame, years: tuple[int, int] = CALIBRATION_YEARS
) -> tuple[float, UngaMap]:
    """The calibration distance of an ensemble: the residual RMSE of the UN map fitted on ``years``."""
    umap = fit_unga_map(ens, unga, years)
    return umap.rmse, umap


@dataclass
class Calibration:
    """The outcome of :func:`calibrate`."""

    priors: list[Prior]
    draws: np.ndarray  # (draws, parameters)
    distances: np.ndarray  # (draws,)
    accepted: np.ndarray  # indices of the accepted draws
    runs: int
    seed: int
    seconds: float
    source: str = ""
    heldout: pd.DataFrame | None = None  # error of the model and the naive forecasts
    umap: UngaMap | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def posterior(self) -> np.ndarray:
        return self.draws[self.accepted]

    def estimate(self) -> dict[str, float]:
        """The posterior median of each parameter."""
        return {p.name: float(np.median(self.posterior[:, j])) for j, p in enumerate(self.priors)}

    def ranges(self) -> pd.DataFrame:
        """Per parameter: prior bounds, posterior median and 5th-95th percentile of the accepted draws."""
        rows = []
        for j, p in enumerate(self.priors):
            v = self.posterior[:, j]
            lo, med, hi = np.percentile(v, [5, 50, 95])
            rows.append(
                {
                    "parameter": p.name,
                    "prior_low": p.low,
                    "prior_high": p.high,
                    "median": med,
                    "low": lo,
                    "high": hi,
                }
            )
        return pd.DataFrame(rows)

    def parameters_toml(self) -> str:
        """The ``[parameters]`` file a scenario includes with ``parameters_file``."""
        lines = [
            f"# Written by hedgesim calibrate from {self.source}: ABC rejection, {len(self.draws)} draws",
            f"# of {self.runs} runs each (seed {self.seed}), {len(self.accepted)} accepted, fitted to UN",
            f"# voting agreement {CALIBRATION_YEARS[0]}-{CALIBRATION_YEARS[1]} (data/unga).",
            "# Posterior medians; the 5th-95th percentiles of the accepted draws in the comments.",
            "",
            "[parameters]",
        ]
        for _, r in self.ranges().iterrows():
            lines.append(f"{r['parameter']} = {r['median']:.4g}  # {r['low']:.4g} to {r['high']:.4g}")
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        out = [
            f"ABC rejection: {len(self.draws)} draws of {self.runs} runs, {len(self.accepted)} accepted "
            f"({self.seconds:.0f} s); distance = RMSE of UN voting agreement, {CALIBRATION_YEARS[0]}-"
            f"{CALIBRATION_YEARS[1]}, after the observation model's fit",
            f"{'parameter':24} {'prior':>14} {'median':>8} {'90% of posterior':>20}",
        ]
        for _, r in self.ranges().iterrows():
            prior = f"{r['prior_low']:g}..{r['prior_high']:g}"
            out.append(
                f"{r['parameter']:24} {prior:>14} {r['median']:8.3f} {f'{r["low"]:.3f}..{r["high"]:.3f}':>20}"
            )
        d = self.distances
        out.append(
            f"fit: distance of the accepted draws {d[self.accepted].min():.4f}..{d[self.accepted].max():.4f} "
            f"(all draws {d.min():.4f}..{d.max():.4f})"
        )
        if self.umap is not None:
            out.append(
                f"observation model at the estimate: agreement = {self.umap.intercept:.3f} + "
                f"{self.umap.slope:.3f} x diplomatic share (RMSE {self.umap.rmse:.4f}, calibration years)"
            )
        if self.heldout is not None:
            h = self.heldout.set_index("forecast")["rmse"]
            out.append(f"held-out years {HELDOUT_YEARS[0]}-{HELDOUT_YEARS[1]}, RMSE of UN voting agreement:")
            for name, v in h.items():
                out.append(f"  {name:44} {v:.4f}")
            model = h["model (calibrated)"]
            naive = h.drop(["model (calibrated)", "model (defaults)"], errors="ignore")
            beaten = [n for n, v in naive.items() if model < v]
            if len(beaten) == len(naive):
                out.append("The calibrated model beats both naive forecasts on the held-out years.")
            elif beaten:
                out.append(f"The calibrated model beats only: {', '.join(beaten)}.")
            else:
                out.append("The calibrated model does not beat either naive forecast on the held-out years.")
        return "\n".join(out)


def calibrate(
    scenario: Any,
    priors: list[Prior] | None = None,
    draws: int = DEFAULT_DRAWS,
    runs: int = DEFAULT_RUNS,
    accept: float = DEFAULT_ACCEPT,
    seed: int | None = None,
    unga: pd.DataFrame | None = None,
    heldout: bool = True,
) -> Calibration:
    """Fit ``priors``' parameters of ``scenario`` to UN voting agreement in the calibration years.

    ``unga``: the observed data (default: ``data/unga``; a synthetic frame for recovery tests).
    With ``heldout``, also compute the held-out error and the naive forecasts (the scenario must
    then reach 2015).
    """
    from sim.ensemble import run
    from sim.observations import load_unga
    from sim.scenario import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    priors = priors or [Prior(k, *v) for k, v in DEFAULT_PRIORS.items()]
    names = [p.name for p in priors]
    for name in names:
        if names.count(name) > 1:  # two values of one key would make the parameters file invalid TOML
            raise HedgesimError(f"--parameter {name}: given twice")
    if not (isinstance(draws, int) and draws >= 2):
        raise HedgesimError(f"--draws: expected a whole number >= 2, found {draws!r}")
    from sim.limits import MAX_RUNS

    if isinstance(runs, int) and draws * runs > MAX_RUNS:  # the sweeps' bound: days of computing
        raise HedgesimError(
            f"--draws x --runs: expected at most {MAX_RUNS:,} runs in all, found {draws * runs:,}"
        )
    if not 0 < accept <= 1:
        raise HedgesimError(f"--accept: expected a share in (0, 1], found {accept!r}")
    _check_years(sc, HELDOUT_YEARS[1] if heldout else CALIBRATION_YEARS[1])
    unga = load_unga() if unga is None else unga
    seed = seed if seed is not None else (sc.scenario.seed if sc.scenario.seed is not None else 0)
    fit_sc = truncated(sc, f"{CALIBRATION_YEARS[1]}Q4")
    rng = np.random.default_rng([seed, int.from_bytes(b"calibrate", "little")])
    lows = np.array([p.low for p in priors])
    highs = np.array([p.high for p in priors])
    theta = lows + (highs - lows) * rng.random((draws, len(priors)))
    from sim.model import load_engine_for

    load_engine_for(draws * runs * fit_sc.steps)  # small ensembles, many of them: the whole decides
    t0 = time.perf_counter()
    dist = np.empty(draws)
    for i, row in enumerate(theta):
        ens = run(
            fit_sc,
            runs=runs,
            seed=seed,
            progress=False,
            trajectories=True,
            **{p.name: float(v) for p, v in zip(priors, row, strict=True)},
        )
        dist[i] = distance(ens, unga)[0]
    keep = max(1, int(round(accept * draws)))
    accepted = np.argsort(dist, kind="stable")[:keep]
    cal = Calibration(
        priors, theta, dist, accepted, runs, seed, time.perf_counter() - t0, source=str(sc.source)
    )
    if heldout:
        cal.heldout, cal.umap = heldout_errors(sc, cal.estimate(), unga, runs=runs, seed=seed)
    cal.seconds = time.perf_counter() - t0
    return cal


def heldout_errors(
    scenario: Any, values: dict[str, float], unga: pd.DataFrame, runs: int, seed: int
) -> tuple[pd.DataFrame, UngaMap]:
    """RMSE on the held-out years of the model at ``values`` (and at the scenario's defaults) and
    of the two naive forecasts, over the three powers' yearly agreement."""
    from sim.ensemble import run

    sc = truncated(scenario, f"{HELDOUT_YEARS[1]}Q4")
    cal_years = np.arange(CALIBRATION_YEARS[0], CALIBRATION_YEARS[1] + 1)
    out_years = np.arange(HELDOUT_YEARS[0], HELDOUT_YEARS[1] + 1)
    obs_cal, obs_out = unga_observed(unga, cal_years), unga_observed(unga, out_years)
    truth = np.concatenate([obs_out[p] for p in POWERS])

    def rmse(pred: np.ndarray) -> float:
        ok = np.isfinite(truth) & np.isfinite(pred)
        return float(np.sqrt(np.mean((pred[ok] - truth[ok]) ** 2)))

    rows, umap = [], None
    for label, over in (("model (calibrated)", values), ("model (defaults)", {})):
        ens = run(sc, runs=runs, seed=seed, progress=False, trajectories=True, **over)
        _, m = distance(ens, unga)
        shares = diplomatic_shares(ens, out_years)
        pred = np.concatenate([m.predict(np.nanmean(shares[p], axis=0)) for p in POWERS])
        rows.append((label, rmse(pred)))
        umap = umap or m
    last = np.concatenate([np.full(len(out_years), obs_cal[p][np.isfinite(obs_cal[p])][-1]) for p in POWERS])
    mean = np.concatenate([np.full(len(out_years), np.nanmean(obs_cal[p])) for p in POWERS])
    rows.append((f"naive: {CALIBRATION_YEARS[1]} carried forward", rmse(last)))
    rows.append((f"naive: mean of {CALIBRATION_YEARS[0]}-{CALIBRATION_YEARS[1]}", rmse(mean)))
    return pd.DataFrame(rows, columns=["forecast", "rmse"]), umap


def check_target(path: Path, force: bool = False) -> None:
    """Refuse a parameters file to write that is a folder, or that exists (unless ``force``)."""
    if path.is_dir():
        raise HedgesimError(f"{path}: is a folder; --out names the parameters file to write (a .toml)")
    if path.exists() and not force:
        raise HedgesimError(f"{path}: exists; choose another --out or give --force")


def write_parameters(cal: Calibration, path: Path, force: bool = False) -> None:
    """Write the parameters file, atomically; an existing file is kept unless ``force``."""
    import os
    import tempfile

    path = Path(path)
    check_target(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cal.parameters_toml())
        os.replace(tmp, path)
    except OSError as err:
        raise HedgesimError(f"{path}: cannot write the parameters file ({err.strerror or err})") from None
