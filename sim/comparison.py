"""Comparing scenarios: paired runs with common random numbers, and the difference they make.

The question users bring is almost always a comparison ("what did the 2023 partnership change?").
Each scenario's ensemble is stochastic, so a difference between two ensembles is only meaningful
when the noise is the same on both sides. :func:`compare` runs every scenario with the **same seed
and the same number of runs**. Because every random number is a pure function of (seed, run, step,
stream name) (:mod:`sim.noise`), run k of scenario B then draws exactly the numbers that run k of
scenario A draws, for every stream both use: the same aid, alignment and tension noise, the same
per-run parameter draws ("param/inertia"), and the same magnitudes for the events they share
("event/<date>/<kind>/<title>/..."). This is the method of **common random numbers** (Law 2015,
*Simulation Modeling and Analysis*, 5th ed., section 11.2). For the paired difference
D_k = B_k - A_k,

    Var(D) = Var(A) + Var(B) - 2 Cov(A, B),

and common random numbers make Cov(A, B) large and positive, so D measures what differs between
the scenarios (an event, a parameter) and hardly the luck of the draw. Comparing a scenario with
itself gives D_k = 0 in every run. The coupling holds stream by stream, so it survives changes:

* dropping or adding an event leaves the draws of every other event, parameter and noise stream as
  they were (event streams are named by date, kind and title);
* a parameter given another range draws from the same uniform number, mapped to its own range, so
  run k sits at the same quantile of both ranges;
* once two runs have diverged, the same noise meets different states; the pairing is of the
  numbers, not of the outcomes.

Pairing needs one calendar: scenarios compared must share their start and end dates (the step
index keys the streams), and one seed and number of runs (so a seed written in a later scenario's
file is not used).

For each variable, date and scenario against the first (the baseline), :meth:`Comparison.differences`
reports the paired differences D_k over the runs:

* ``mean``: their mean, the average effect;
* ``ci_low``, ``ci_high``: a 90% confidence interval of that mean (Student's t with n - 1 degrees
  of freedom on the sd of D): how precisely this ensemble pins the average effect down;
* ``p05``, ``p95``: the 5th and 95th percentiles of D: the range within which the effect falls in
  90% of runs, i.e. how much it varies with the scenario's uncertain parameters and the noise;
* ``higher``, ``lower``: the share of runs in which the scenario's value is above (below) the
  baseline's (a difference within 1e-12 of 0, rounding, counts as a tie).
"""

from __future__ import annotations

import textwrap
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from sim.ensemble import Ensemble
    from sim.scenario import Scenario

#: Differences smaller than this (in absolute value) are rounding, and count as ties.
TIE = 1e-12
#: Columns of the difference table, in order.
COLUMNS = (
    "date",
    "variable",
    "baseline",
    "scenario",
    "runs",
    "baseline_mean",
    "scenario_mean",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "p05",
    "p95",
    "higher",
    "lower",
)


def paired_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Statistics of the paired differences b - a (one value per run in each array).

    Returns mean, sd, the 90% confidence interval of the mean (ci_low, ci_high; Student's t), the
    5th and 95th percentiles of the differences (p05, p95) and the shares of runs where b is
    higher and lower than a. With one run the sd and the interval are undefined (NaN).
    """
    from scipy.stats import t as student_t

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"expected two arrays of the same length >= 1, found shapes {a.shape}, {b.shape}")
    d = b - a
    n = d.size
    mean = float(d.mean())
    if n > 1:
        sd = float(d.std(ddof=1))
        half = float(student_t.ppf(0.95, n - 1)) * sd / np.sqrt(n)
    else:
        sd = half = float("nan")
    p05, p95 = np.quantile(d, [0.05, 0.95])
    return {
        "mean": mean,
        "sd": sd,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "p05": float(p05),
        "p95": float(p95),
        "higher": float(np.mean(d > TIE)),
        "lower": float(np.mean(d < -TIE)),
    }


def parse_at(texts: list[str] | tuple[str, ...] | None, dates: list[str], label: str = "at") -> list[str]:
    """Dates for the difference table, as "2023Q4" ("2023-10" is read as its quarter); default the last."""
    from sim.quantities import format_date, parse_date

    if not texts:
        return [dates[-1]]
    out = []
    for text in texts:
        try:
            date = format_date(parse_date(text))
        except ValueError as err:
            raise HedgesimError(f"{label} {text}: {err}") from None
        if date not in dates:
            raise HedgesimError(f"{label} {text}: outside the scenarios' dates {dates[0]}..{dates[-1]}")
        if date not in out:
            out.append(date)
    return sorted(out, key=dates.index)


class Comparison:
    """Ensembles of several scenarios run with common random numbers, and their paired differences.

    The first scenario is the baseline; every other one is compared with it, run by run.
    """

    def __init__(self, ensembles: list[Ensemble], at: list[str] | None = None):
        if len(ensembles) < 2:
            raise HedgesimError("compare needs at least two scenarios")
        self.ensembles = list(ensembles)
        first = self.ensembles[0]
        for ens in self.ensembles[1:]:
            if ens.seed != first.seed or ens.runs != first.runs:
                raise HedgesimError("compared ensembles must share their seed and number of runs")
        self.seed, self.runs, self.seed_origin = first.seed, first.runs, first.seed_origin
        self.dates = first.dates
        self.at = parse_at(at, self.dates)
        if not self.variables:
            raise HedgesimError(
                f"{first.scenario.name} and the other scenarios share no output variable (different casts);"
                " nothing to compare"
            )

    def __repr__(self) -> str:
        return f"<Comparison {' vs '.join(self.labels)}: {self.runs} paired runs, seed {self.seed}>"

    @cached_property
    def labels(self) -> list[str]:
        """Scenario names, with #2, #3 added where a name repeats (a scenario compared with itself)."""
        out: list[str] = []
        for ens in self.ensembles:
            name, k = ens.scenario.name, 2
            label = name
            while label in out:
                label, k = f"{name}#{k}", k + 1
            out.append(label)
        return out

    @cached_property
    def variables(self) -> list[str]:
        """Output variables that every scenario has, in the first scenario's order."""
        common = set.intersection(*(set(e.variables) for e in self.ensembles))
        return [v for v in self.ensembles[0].variables if v in common]

    def ensemble(self, scenario: int | str) -> Ensemble:
        """One scenario's ensemble, by position or label."""
        if isinstance(scenario, str):
            if scenario not in self.labels:
                raise KeyError(f"no scenario {scenario!r}; expected one of {self.labels}")
            scenario = self.labels.index(scenario)
        return self.ensembles[scenario]

    def paired(self, variable: str, scenario: int | str = 1, date: str | None = None) -> np.ndarray:
        """Run-by-run differences, scenario minus baseline, of a variable at a date (default: last)."""
        i = self.dates.index(date) if date is not None else -1
        base = self.ensembles[0].values(variable)[:, i]
        return self.ensemble(scenario).values(variable)[:, i] - base

    def differences(self, at: list[str] | None = None) -> pd.DataFrame:
        """The difference table: one row per date, scenario (against the baseline) and variable.

        Columns are :data:`COLUMNS`; see the module's docstring for what each one means.
        """
        import pandas as pd

        dates = parse_at(at, self.dates) if at is not None else self.at
        base = self.ensembles[0]
        rows = []
        for date in dates:
            i = self.dates.index(date)
            for label, ens in zip(self.labels[1:], self.ensembles[1:], strict=True):
                for var in self.variables:
                    a, b = base.values(var)[:, i], ens.values(var)[:, i]
                    rows.append(
                        {
                            "date": date,
                            "variable": var,
                            "baseline": self.labels[0],
                            "scenario": label,
                            "runs": a.size,
                            "baseline_mean": float(a.mean()),
                            "scenario_mean": float(b.mean()),
                            **paired_stats(a, b),
                        }
                    )
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def summary(self) -> pd.DataFrame:
        """Each scenario's tidy summary (Ensemble.summary) with a first column ``scenario``."""
        import pandas as pd

        frames = []
        for label, ens in zip(self.labels, self.ensembles, strict=True):
            s = ens.summary()
            s.insert(0, "scenario", label)
            frames.append(s)
        return pd.concat(frames, ignore_index=True)

    def figure(self, group: str) -> Figure:
        """The overlay figure of a variable group (see :mod:`sim.overlays`)."""
        from sim.overlays import overlay_figure

        return overlay_figure(self, group)

    # ---- tables for people -----------------------------------------------------------------------
    def text(self, at: list[str] | None = None, changed_only: bool = True) -> str:
        """A table for the terminal. With ``changed_only``, variables whose difference is 0 in every
        run are listed in one line after the table instead of as rows."""
        df = self.differences(at)
        out = [self._heading()]
        for (date, label), block in df.groupby(["date", "scenario"], sort=False):
            out.append("")
            out.append(f"{label} - {self.labels[0]} at {date} ({self.runs} paired runs)")
            same = block[(block["higher"] == 0) & (block["lower"] == 0)]
            rows = block.drop(same.index) if changed_only else block
            header = (
                "variable",
                self.labels[0],
                label,
                "difference",
                "90% CI of mean",
                "90% of runs",
                "higher",
                "lower",
            )
            cells = [header] + [_cells(r) for r in rows.itertuples()]
            widths = [max(len(c[k]) for c in cells) for k in range(len(header))]
            for c in cells:
                line = c[0].ljust(widths[0]) + "".join(
                    "  " + s.rjust(w) for s, w in zip(c[1:], widths[1:], strict=True)
                )
                out.append("  " + line)
            if changed_only and len(same):
                out += textwrap.wrap(
                    f"the same in every run: {', '.join(same['variable'])}",
                    100,
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
        out.append("")
        out += textwrap.wrap(_LEGEND, 100)
        return "\n".join(out)

    def markdown(self, at: list[str] | None = None) -> str:
        """The difference table as Markdown: one table per date and scenario, every variable."""
        df = self.differences(at)
        out = [f"# {self._heading()}", "", _LEGEND, ""]
        for (date, label), block in df.groupby(["date", "scenario"], sort=False):
            out += [f"## {label} - {self.labels[0]} at {date}", ""]
            header = ("variable", f"{self.labels[0]} mean", f"{label} mean", "mean difference")
            header += ("90% CI of mean", "90% of runs", "higher in", "lower in")
            out.append("| " + " | ".join(header) + " |")
            out.append("|---|" + "---:|" * (len(header) - 1))
            out += ["| " + " | ".join(_cells(r)) + " |" for r in block.itertuples()]
            out.append("")
        return "\n".join(out)

    def _heading(self) -> str:
        return (
            f"Comparison of {', '.join(self.labels)} against {self.labels[0]}: "
            f"{self.runs} paired runs each, seed {self.seed} (common random numbers)"
        )


_LEGEND = (
    "difference: mean over runs of (scenario - baseline), run by run; 90% CI of mean: Student t "
    "interval of that mean; 90% of runs: 5th-95th percentile of the run-by-run differences; "
    "higher, lower: share of runs where the scenario's value is higher, lower (the rest are ties)."
)


def _fmt(var: str, x: float, sign: bool = False) -> str:
    if not np.isfinite(x):
        return "n/a"
    digits = 2 if var.endswith(".aid") else 3
    if sign and abs(x) <= TIE:
        x = 0.0  # rounding noise: no "-0.000" where nothing changed
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _cells(r: Any) -> tuple[str, ...]:
    v = r.variable
    return (
        v,
        _fmt(v, r.baseline_mean),
        _fmt(v, r.scenario_mean),
        _fmt(v, r.mean, sign=True),
        f"[{_fmt(v, r.ci_low, True)}, {_fmt(v, r.ci_high, True)}]",
        f"[{_fmt(v, r.p05, True)}, {_fmt(v, r.p95, True)}]",
        f"{r.higher:.0%}",
        f"{r.lower:.0%}",
    )


def compare(
    scenarios: list[Scenario | str | Path],
    runs: int | None = None,
    seed: int | None = None,
    at: list[str] | None = None,
    progress: bool | None = None,
    *,
    stores: str | Path | None = None,
    **run_options: Any,
) -> Comparison:
    """Run several scenarios with common random numbers and pair their runs.

    Args:
        scenarios: two or more :class:`~sim.scenario.Scenario` objects or file paths; the first is
            the baseline that the others are compared with.
        runs: runs per scenario (default: the first scenario's ``runs``).
        seed: one seed for all (default: the first scenario's seed, else a fresh one, recorded).
            A seed in another scenario's file is not used: pairing needs one seed for all.
        at: dates of the difference table (default: the last date).
        progress: show progress on stderr (default: when stderr is a terminal and a run is long).
        stores: a folder for the trajectory files of ensembles too large for memory
            (``trajectories-<k>.npy``, kept; default: temporary files, deleted with the comparison).
        **run_options: passed to :func:`sim.run` for every scenario: ``workers``, ``dask``,
            ``chunk_size`` (they change no number).

    Each scenario is run with :func:`sim.run` (so options added there reach comparisons too).
    """
    from sim.ensemble import run
    from sim.noise import new_seed
    from sim.scenario import Scenario, load_scenario

    scs = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    if len(scs) < 2:
        raise HedgesimError(f"compare needs at least two scenarios, found {len(scs)}")
    first = scs[0]
    for sc in scs[1:]:
        if sc.dates[0] != first.dates[0] or sc.dates[-1] != first.dates[-1]:
            raise HedgesimError(
                f"{sc.source}: runs {sc.dates[0]}..{sc.dates[-1]}, but {first.source} runs "
                f"{first.dates[0]}..{first.dates[-1]}; paired runs need the same horizon"
            )
    dates = parse_at(at, first.dates)  # checked before any work
    n = runs if runs is not None else first.scenario.runs
    origin = "given"
    if seed is None:
        seed, origin = (
            (first.scenario.seed, "scenario") if first.scenario.seed is not None else (new_seed(), "drawn")
        )
    options = run_options
    ensembles = [
        # paired differences read every run: a large ensemble keeps its runs (a file)
        run(sc, runs=n, seed=seed, progress=progress, store=_store(stores, k), trajectories=True, **options)
        for k, sc in enumerate(scs)
    ]
    for ens in ensembles:
        ens.seed_origin = origin
    return Comparison(ensembles, dates)


def _store(folder: str | Path | None, k: int) -> Path | None:
    return None if folder is None else Path(folder) / f"trajectories-{k}.npy"


def write_comparison(
    comp: Comparison,
    out: str | Path,
    *,
    force: bool = False,
    figures: bool = True,
    command: str | None = None,
) -> Path:
    """Write a comparison's results folder atomically (never over a non-empty folder without ``force``).

    Files: ``manifest.json``, ``differences.csv`` (tidy, :data:`COLUMNS`), ``differences.md``,
    ``summary.csv`` (every scenario's summary with a ``scenario`` column) and ``figures/`` (one
    overlay per variable group, PNG and SVG).
    """
    from sim.folders import staging

    out = Path(out)
    with staging(out, force) as tmp:
        write_comparison_into(comp, tmp, figures=figures, command=command)
    return out


def write_comparison_into(
    comp: Comparison, tmp: Path, *, figures: bool = True, command: str | None = None
) -> None:
    """Write a comparison's files into a staging folder (see :func:`sim.folders.staging`)."""
    import json
    import sys
    import time
    from datetime import UTC, datetime

    from sim.outputs import versions
    from sim.scenario import override_text

    t0 = time.perf_counter()
    files = ["manifest.json", "differences.csv", "differences.md", "summary.csv"]
    comp.differences().to_csv(tmp / "differences.csv", index=False, float_format="%.10g", lineterminator="\n")
    (tmp / "differences.md").write_text(comp.markdown() + "\n")
    comp.summary().to_csv(tmp / "summary.csv", index=False, float_format="%.10g", lineterminator="\n")
    if figures:
        from sim.overlays import save_overlays

        files += [str(p.relative_to(tmp)) for p in save_overlays(comp, tmp / "figures")]
    manifest = {
        "comparison": comp.labels,
        "baseline": comp.labels[0],
        "scenarios": [
            {
                "label": label,
                "name": e.scenario.name,
                "title": e.scenario.scenario.title,
                "file": e.scenario.source,
                "sha256": e.scenario.sha256,
                "overrides": [override_text(k, v) for k, v in e.scenario.overrides.items()],
            }
            for label, e in zip(comp.labels, comp.ensembles, strict=True)
        ],
        "seed": comp.seed,
        "seed_origin": comp.seed_origin,
        "common_random_numbers": "every scenario run with this seed: run k draws the same numbers in all",
        "runs": comp.runs,
        "steps": comp.ensembles[0].steps,
        "start": comp.dates[0],
        "end": comp.dates[-1],
        "at": comp.at,
        "variables": comp.variables,
        "interval": "ci_low..ci_high: 90% Student t interval of the mean paired difference; "
        "p05..p95: 5th-95th percentile of the paired differences",
        "files": files,
        "versions": versions(),
        "command": command if command is not None else " ".join(sys.argv),
        "wall_time_s": {
            "run": round(sum(e.wall_time for e in comp.ensembles), 3),
            "write": round(time.perf_counter() - t0, 3),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
