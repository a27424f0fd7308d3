"""Running a scenario: :func:`run` steps the model over all runs and returns an :class:`Ensemble`.

The seed of every run is fixed before any run starts (it is the scenario's seed; the run's index
keys its streams), so a run's trajectory never depends on how runs are batched (Axelrod-Python's
rule; see :mod:`sim.noise`).
"""

from __future__ import annotations

import sys
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.noise import new_seed
from sim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import pandas as pd

#: Quantiles reported in summaries (the bands on plots are 50% = p25..p75 and 90% = p05..p95).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class Ensemble:
    """The outcome of a scenario's runs: every variable of every run at every date.

    ``data`` has shape (variables, steps + 1, runs). Use :meth:`values` for one variable as
    (runs, steps + 1), :meth:`summary` for tidy statistics and :meth:`trajectories` for tidy runs.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        seed_origin: str,
        variables: list[str],
        data: np.ndarray,
        run_ids: np.ndarray,
        wall_time: float = 0.0,
    ):
        self.scenario, self.seed, self.seed_origin = scenario, seed, seed_origin
        self.variables, self.data, self.run_ids = list(variables), data, run_ids
        self.wall_time = wall_time
        self._index = {v: i for i, v in enumerate(self.variables)}

    def __repr__(self) -> str:
        return (
            f"<Ensemble {self.scenario.name}: {self.runs} runs x {self.steps} steps, "
            f"{len(self.variables)} variables, seed {self.seed}>"
        )

    @property
    def runs(self) -> int:
        return self.data.shape[2]

    @property
    def steps(self) -> int:
        return self.data.shape[1] - 1

    @cached_property
    def dates(self) -> list[str]:
        """The date of each recorded state, e.g. ["2020Q1", "2020Q2", ...]."""
        return self.scenario.dates

    @property
    def events(self) -> list[tuple[int, str, str]]:
        """(step, title, kind) of each event, in date order, for marking plots."""
        sc = self.scenario
        return sorted(((sc.event_step(e), e.title, e.kind) for e in sc.events), key=lambda x: x[0])

    def values(self, name: str) -> np.ndarray:
        """One variable, shape (runs, steps + 1)."""
        try:
            i = self._index[name]
        except KeyError:
            close = [v for v in self.variables if name.split(".")[-1] in v][:4]
            hint = (
                f"; did you mean {close}?"
                if close
                else f"; see Ensemble.variables ({len(self.variables)} names)"
            )
            raise KeyError(f"no variable {name!r}{hint}") from None
        return np.ascontiguousarray(self.data[i].T)

    def summary(self) -> pd.DataFrame:
        """Tidy statistics over runs: date, step, variable, mean, sd, p05, p25, p50, p75, p95.

        sd is the sample standard deviation (0 for a single run); quantiles are numpy's default
        (linear interpolation between order statistics).
        """
        import pandas as pd

        V, T1, R = self.data.shape  # noqa: N806
        mean = self.data.mean(axis=2)
        sd = self.data.std(axis=2, ddof=1) if R > 1 else np.zeros((V, T1))
        q = np.quantile(self.data, QUANTILES, axis=2)
        frame = {
            "date": np.tile(np.array(self.dates), V),
            "step": np.tile(np.arange(T1), V),
            "variable": np.repeat(np.array(self.variables), T1),
            "mean": mean.ravel(),
            "sd": sd.ravel(),
        }
        for k, qq in zip(QUANTILES, q, strict=True):
            frame[f"p{round(k * 100):02d}"] = qq.ravel()
        return pd.DataFrame(frame)

    def trajectories(self, variables: list[str] | None = None) -> pd.DataFrame:
        """Tidy runs: run, date, step, variable, value (one row per run, date and variable)."""
        import pandas as pd

        names = variables or self.variables
        rows = np.array([self._index[v] for v in names])
        sub = self.data[rows]  # (v, t, r)
        V, T1, R = sub.shape  # noqa: N806
        return pd.DataFrame(
            {
                "run": np.tile(self.run_ids, V * T1),
                "date": np.tile(np.repeat(np.array(self.dates), R), V),
                "step": np.tile(np.repeat(np.arange(T1), R), V),
                "variable": np.repeat(np.array(names), T1 * R),
                "value": sub.ravel(),
            }
        )

    def final(self, name: str) -> np.ndarray:
        """A variable's value at the last date, one per run."""
        return self.values(name)[:, -1]


def run(
    scenario: Scenario | str | Path,
    runs: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    **overrides: Any,
) -> Ensemble:
    """Run a scenario's ensemble.

    Args:
        scenario: a :class:`Scenario` or the path of a scenario file.
        runs: how many runs (default: the scenario's ``runs``).
        seed: the seed (default: the scenario's; if it has none, a fresh one, recorded in the result).
        progress: show progress on stderr (default: when stderr is a terminal and the run is long).
        **overrides: changed values, as for :meth:`Scenario.with_overrides` (``inertia=0.3``, or
            ``**{"actors.japan.budget": 200}``).

    Returns:
        the :class:`Ensemble`, with the seed actually used.
    """
    from sim.model import HedgingModel

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = sc.with_overrides(overrides)
    if runs is not None and not (isinstance(runs, int) and runs >= 1):
        raise ValueError(f"runs must be a whole number >= 1, found {runs!r}")
    n = runs if runs is not None else sc.scenario.runs
    if seed is not None:
        origin = "given"
    elif sc.scenario.seed is not None:
        seed, origin = sc.scenario.seed, "scenario"
    else:
        seed, origin = new_seed(), "drawn"
    t0 = time.perf_counter()
    model = HedgingModel(sc, n, seed)
    show = progress if progress is not None else sys.stderr.isatty()
    model.run(progress=_Progress(sc.name, n) if show else None)
    return Ensemble(sc, seed, origin, model.variables, model.record, model.run_ids, time.perf_counter() - t0)


class _Progress:
    """A one-line progress report on stderr, shown only once a run has taken over a second."""

    def __init__(self, name: str, runs: int):
        self.name, self.runs, self.t0, self.shown = name, runs, time.perf_counter(), False

    def __call__(self, step: int, steps: int) -> None:
        elapsed = time.perf_counter() - self.t0
        if elapsed < 1.0 and step < steps:
            return
        if elapsed >= 1.0 or self.shown:
            rate = self.runs * step / max(elapsed, 1e-9)
            print(f"\r{self.name}: step {step}/{steps}, {rate:,.0f} run-steps/s", end="", file=sys.stderr)
            self.shown = True
        if step == steps and self.shown:
            print(file=sys.stderr)
