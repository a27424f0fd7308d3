"""Running a scenario: :func:`run` steps the model over all runs and returns an :class:`Ensemble`.

The seed of every run is fixed before any run starts (it is the scenario's seed; the run's index
keys its streams), so a run's trajectory never depends on how runs are batched (Axelrod-Python's
rule; see :mod:`sim.noise`).
"""

from __future__ import annotations

import os
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError
from sim.noise import new_seed
from sim.resources import empty
from sim.scenario import Scenario, load_scenario
from sim.statistics import QUANTILES  # noqa: F401 (re-exported: the quantiles of summaries)
from sim.store import IN_MEMORY_LIMIT, TrajectoryFile, nbytes

if TYPE_CHECKING:
    import pandas as pd


class Ensemble:
    """The outcome of a scenario's runs: every variable of every run at every date.

    ``data`` has shape (variables, steps + 1, runs): an array in memory for a small ensemble, a
    read-only memory map of the trajectory file for a large one (:mod:`sim.store`). Use
    :meth:`values` for one variable as (runs, steps + 1), :meth:`summary` for tidy statistics and
    :meth:`trajectories` for tidy runs.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        seed_origin: str,
        variables: list[str],
        data: np.ndarray | None,
        run_ids: np.ndarray,
        wall_time: float = 0.0,
        *,
        file: TrajectoryFile | None = None,
        stats: np.ndarray | None = None,
        runs: int | None = None,
    ):
        self.scenario, self.seed, self.seed_origin = scenario, seed, seed_origin
        self.variables, self._data, self.run_ids = list(variables), data, run_ids
        self.file, self._stats = file, stats
        self.wall_time = wall_time
        self._index = {v: i for i, v in enumerate(self.variables)}
        if data is not None:
            self._runs = data.shape[2]
        elif file is not None:
            self._runs = file.shape[1]
        else:
            self._runs = int(runs or 0)
        self._remove: Any = None

    def _remove_file_when_done(self) -> None:
        """Delete the trajectory file (a temporary one) when this ensemble is garbage-collected."""
        import os
        import weakref

        self._remove = weakref.finalize(self, _unlink, os.fspath(self.file.path))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_remove"] = None  # a copy (in a figure process) never deletes the file
        if self.file is not None:
            state["_data"] = None  # a memory map travels as its file's name, not its contents
        state.pop("dates", None)
        return state

    def __repr__(self) -> str:
        return (
            f"<Ensemble {self.scenario.name}: {self.runs} runs x {self.steps} steps, "
            f"{len(self.variables)} variables, seed {self.seed}>"
        )

    @property
    def data(self) -> np.ndarray:
        """All numbers, shape (variables, steps + 1, runs); a lazy memory map for a large ensemble."""
        if self._data is None:
            if self.file is None:
                raise HedgesimError(
                    f"{self.scenario.name}: the trajectories of these {self.runs} runs were not kept "
                    "(add --trajectories, or trajectories=True); the summary is available"
                )
            self._data = self.file.memmap().transpose(0, 2, 1)
        return self._data

    @property
    def runs(self) -> int:
        return self._runs

    @property
    def steps(self) -> int:
        return self.scenario.steps

    @cached_property
    def dates(self) -> list[str]:
        """The date of each recorded state, e.g. ["2020Q1", "2020Q2", ...]."""
        return self.scenario.dates

    @property
    def events(self) -> list[tuple[int, str, str]]:
        """(step, title, kind) of each event, in date order, for marking plots."""
        return self.scenario.marked_events()

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
        if self.file is not None:
            return self.file.variable(i)
        return np.ascontiguousarray(self.data[i].T)

    def stats(self) -> np.ndarray:
        """Statistics over runs, shape (variables, steps + 1, 7): mean, sd, p05, p25, p50, p75, p95.

        Exact, and the same however the runs were split (:mod:`sim.statistics`).
        """
        if self._stats is None:
            from sim.statistics import variable_stats

            source = self.file if self.file is not None else self.data
            self._stats = np.stack([variable_stats(source, v) for v in range(len(self.variables))])
        return self._stats

    def quantiles(self, name: str) -> np.ndarray:
        """p05, p25, p50, p75 and p95 of a variable at each date, shape (5, steps + 1)."""
        if name not in self._index:
            self.values(name)
        return self.stats()[self._index[name], :, 2:].T

    def summary(self) -> pd.DataFrame:
        """Tidy statistics over runs: date, step, variable, mean, sd, p05, p25, p50, p75, p95.

        sd is the sample standard deviation (0 for a single run); quantiles are numpy's default
        (linear interpolation between order statistics), exact at any number of runs.
        """
        import pandas as pd

        from sim.statistics import COLUMNS

        stats = self.stats()
        V, T1, _ = stats.shape  # noqa: N806
        frame = {
            "date": np.tile(np.array(self.dates), V),
            "step": np.tile(np.arange(T1), V),
            "variable": np.repeat(np.array(self.variables), T1),
        }
        for k, col in enumerate(COLUMNS):
            frame[col] = stats[:, :, k].ravel()
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

    def to_pandas(self, variables: list[str] | None = None) -> pd.DataFrame:
        """Every run in long form: run, date, step, variable, value (as :meth:`trajectories`)."""
        return self.trajectories(variables)

    def to_xarray(self, variables: list[str] | None = None) -> Any:
        """Every run as an ``xarray.DataArray`` with dimensions (variable, run, date), the scenario,
        seed and runs in its attributes (needs xarray: ``pip install 'hedgesim[data]'``)."""
        try:
            import xarray as xr
        except ImportError:
            raise HedgesimError(
                "xarray is not installed; install the extra: pip install 'hedgesim[data]'"
            ) from None
        names = variables or self.variables
        rows = [self._index[v] for v in names] if variables else slice(None)
        return xr.DataArray(
            np.asarray(self.data[rows]).transpose(0, 2, 1),
            dims=("variable", "run", "date"),
            coords={
                "variable": names,
                "run": self.run_ids,
                "date": self.dates,
                "step": ("date", np.arange(self.steps + 1)),
            },
            name="value",
            attrs={"scenario": self.scenario.name, "seed": self.seed, "source": self.scenario.source},
        )


def _unlink(path: str) -> None:
    import os

    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def run(
    scenario: Scenario | str | Path,
    runs: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    *,
    workers: int | None = None,
    dask: str | None = None,
    chunk_size: int | None = None,
    store: str | Path | None = None,
    trajectories: bool | None = None,
    **overrides: Any,
) -> Ensemble:
    """Run a scenario's ensemble.

    Args:
        scenario: a :class:`Scenario` or the path of a scenario file.
        runs: how many runs (default: the scenario's ``runs``).
        seed: the seed (default: the scenario's; if it has none, a fresh one, recorded in the result).
        progress: show a progress bar on stderr (default: when stderr is a terminal).
        workers: local processes (default: 1 for small ensembles, every core for large ones; see
            :func:`sim.chunks.auto_workers`). With ``dask``, the processes that compute statistics.
        dask: the address of a dask.distributed scheduler (``tcp://host:8786``) to run chunks on.
        chunk_size: runs per chunk (default :data:`sim.chunks.DEFAULT_CHUNK`).
        store: where to keep the trajectories of an ensemble too large for memory (over
            :data:`sim.store.IN_MEMORY_LIMIT`): a ``.npy`` file, written as the runs are made.
        trajectories: keep the trajectories of an ensemble too large for memory? Default: only in
            ``store`` when it is given. True without ``store``: in a temporary file, deleted with
            the ensemble. Either way the statistics are computed as the runs are made
            (:mod:`sim.streaming`); an ensemble that fits in memory always keeps its runs.
        **overrides: changed values, as for :meth:`Scenario.with_overrides` (``inertia=0.3``, or
            ``**{"actors.japan.budget": 200}``).

    Returns:
        the :class:`Ensemble`, with the seed actually used. The numbers are the same, bit for bit,
        at any ``workers``, ``chunk_size`` or ``dask``.
    """
    from sim.chunks import compute, default_chunk, output_names, plan, processes
    from sim.limits import MAX_RUNS
    from sim.progress import Progress

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = sc.with_overrides(overrides)
    for name, value in (("runs", runs), ("workers", workers), ("chunk_size", chunk_size)):
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be a whole number >= 1, found {value!r}")
    n = runs if runs is not None else sc.scenario.runs
    if n > MAX_RUNS:
        raise HedgesimError(f"runs: expected at most {MAX_RUNS:,}, found {n:,}")
    if seed is not None:
        origin = "given"
    elif sc.scenario.seed is not None:
        seed, origin = sc.scenario.seed, "scenario"
    else:
        seed, origin = new_seed(), "drawn"
    from sim.model import HedgingModel, choose_engine, load_engine_for  # before the clock starts

    load_engine_for(n * sc.steps)  # before the clock starts too
    engine = choose_engine(n * sc.steps)  # for the whole ensemble, whatever its chunks
    t0 = time.perf_counter()
    variables = output_names(sc, seed)
    spans = plan(n, chunk_size or default_chunk(nbytes(len(variables), sc.steps, 1)))
    if len(spans) == 1 and dask is None:
        model = HedgingModel(sc, np.arange(n), seed, engine=engine)
        variables = model.variables
        if nbytes(len(variables), sc.steps, n) <= IN_MEMORY_LIMIT:
            # one chunk that fits in memory: the model's own buffer is the result, no copy
            model.run()
            wall = time.perf_counter() - t0
            return Ensemble(sc, seed, origin, variables, model.record, model.run_ids, wall)
        del model
    V, T1 = len(variables), sc.steps + 1  # noqa: N806
    temporary = False
    file: TrajectoryFile | None = None
    on_disk = nbytes(V, sc.steps, n) > IN_MEMORY_LIMIT
    if on_disk:  # summarised as the chunks come in: each chunk holds whole blocks of runs
        from sim.statistics import BLOCK

        size = spans[0][1] - spans[0][0]
        spans = plan(n, -(-size // BLOCK) * BLOCK)
    procs = processes(workers, n, sc.steps, len(spans), dask)
    bar = Progress(sc.name, n, progress)
    keep = on_disk and (store is not None if trajectories is None else trajectories)
    try:
        if keep:
            if store is None:
                import tempfile

                fd, store = tempfile.mkstemp(prefix=f"hedgesim-{sc.name}-", suffix=".npy")
                os.close(fd)
                temporary = True
            file = TrajectoryFile.create(store, V, n, T1)
        data = None if on_disk else empty((V, T1, n))
        stats = compute(sc, seed, spans, file if on_disk else data, procs, dask, bar, engine, variables=V)
    except BaseException as err:
        if temporary:
            _unlink(str(store))
        if isinstance(err, OSError) and on_disk:  # a full disk, a folder that vanished: one line
            raise HedgesimError(f"{store}: cannot write the trajectories ({err.strerror or err})") from None
        raise
    finally:
        bar.close()
    ens = Ensemble(
        sc,
        seed,
        origin,
        variables,
        data,
        np.arange(n),
        time.perf_counter() - t0,
        file=file,
        stats=stats,
        runs=n,
    )
    if temporary:
        ens._remove_file_when_done()
    return ens
