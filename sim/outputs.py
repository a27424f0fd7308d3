"""The results folder: manifest, summary, trajectories and figures, written atomically.

Layout of a results folder::

    manifest.json      what was run and how to run it again (scenario hash, seed, versions, command)
    scenario.json      the scenario as run (after --set overrides), as plain data
    summary.csv        tidy statistics: date, step, variable, mean, sd, p05, p25, p50, p75, p95
    trajectories.npy   every run: float64 array (variable, run, step); names and dates in the manifest
                       (or trajectories.csv, tidy: run, date, step, variable, value)
    figures/           PNG and SVG, one per variable group

Everything is written into a hidden sibling folder first and renamed into place at the end
(:mod:`sim.folders`), so an interrupted run leaves nothing half-written. An existing non-empty
folder is replaced only when asked (``force``), and never before the new one is complete.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError
from sim.folders import staging

if TYPE_CHECKING:
    from sim.ensemble import Ensemble

FORMATS = ("npy", "csv", "netcdf", "parquet")


def versions() -> dict[str, str]:
    """What the numbers depend on besides the scenario, the seed and the runs: the versions and the
    platform. (Not the engine: both give the same bits, tests/test_kernel.py.)"""
    from importlib.metadata import version

    return {
        "hedgesim": version("hedgesim"),
        "mesa": version("mesa"),
        "numpy": np.__version__,
        "numba": version("numba"),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


def wants_trajectories(ens: Ensemble, trajectories: bool | None) -> bool:
    """Write every run's trajectories? Yes when asked; by default, when they fit in
    :data:`~sim.store.IN_MEMORY_LIMIT` (512 MiB; see :func:`trajectories_note`)."""
    from sim.store import IN_MEMORY_LIMIT, nbytes

    if trajectories is not None:
        return trajectories
    return nbytes(len(ens.variables), ens.steps, ens.runs) <= IN_MEMORY_LIMIT


def trajectories_note(ens: Ensemble, trajectories: bool | None) -> str:
    """Why the trajectories were not written, in a few words ("" when they were)."""
    from sim.resources import size_text
    from sim.store import IN_MEMORY_LIMIT, nbytes

    if wants_trajectories(ens, trajectories):
        return ""
    if trajectories is False:
        return "trajectories not written (--no-trajectories)"
    size = nbytes(len(ens.variables), ens.steps, ens.runs)
    return (
        f"trajectories not written: {size_text(size)}, over the default limit of "
        f"{size_text(IN_MEMORY_LIMIT)}; add --trajectories to write them"
    )


def write_results(
    ens: Ensemble,
    out: str | Path,
    *,
    force: bool = False,
    fmt: str = "npy",
    figures: bool = True,
    command: str | None = None,
    workers: int = 1,
    trajectories: bool | None = None,
) -> Path:
    """Write an ensemble's results into ``out`` atomically and return the folder.

    ``workers`` > 1 draws figures in that many processes in all. ``trajectories`` says whether to
    write every run (default: when they take at most 512 MiB; see :func:`wants_trajectories`).
    """
    out = Path(out)
    with staging(out, force) as tmp:
        write_into(
            ens, tmp, fmt=fmt, figures=figures, command=command, workers=workers, trajectories=trajectories
        )
    return out


def write_into(
    ens: Ensemble,
    folder: Path,
    *,
    fmt: str = "npy",
    figures: bool = True,
    command: str | None = None,
    workers: int = 1,
    trajectories: bool | None = None,
) -> list[str]:
    """Write the results files into a staging folder (see :func:`sim.folders.staging`); return
    their names.

    A large ensemble's trajectory file that already sits in ``folder`` (``sim.run(...,
    store=folder / "trajectories.npy")``) is kept as it is, or removed when not wanted.
    """
    if fmt not in FORMATS:
        raise HedgesimError(f"--format: expected one of {list(FORMATS)}, found {fmt!r}")
    t0 = time.perf_counter()
    files = _write_all(ens, folder, fmt, figures, workers, wants_trajectories(ens, trajectories))
    manifest = _manifest(ens, files, command, time.perf_counter() - t0)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return files


def _write_all(ens: Ensemble, folder: Path, fmt: str, figures: bool, workers: int, traj: bool) -> list[str]:
    files = ["manifest.json", "scenario.json", "summary.csv"]
    (folder / "scenario.json").write_text(json.dumps(ens.scenario.raw(), indent=2, sort_keys=True) + "\n")
    ens.summary().to_csv(folder / "summary.csv", index=False, float_format="%.10g", lineterminator="\n")
    target = folder / "trajectories.npy"
    in_place = ens.file is not None and ens.file.path.resolve() == target.resolve()
    if traj and fmt == "npy":
        if not in_place:
            if ens.file is not None:
                shutil.copyfile(ens.file.path, target)
            else:
                np.save(target, np.ascontiguousarray(ens.data.transpose(0, 2, 1)))
        files.append("trajectories.npy")
    elif traj and fmt == "netcdf":  # NetCDF 3 through scipy's writer: no compiled library needed
        ens.to_xarray().to_netcdf(folder / "trajectories.nc", engine="scipy")
        files.append("trajectories.nc")
    elif traj and fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise HedgesimError("--format parquet: install the extra: pip install 'hedgesim[data]'") from None
        ens.to_pandas().to_parquet(folder / "trajectories.parquet", index=False)
        files.append("trajectories.parquet")
    elif traj:
        ens.trajectories().to_csv(
            folder / "trajectories.csv", index=False, float_format="%.10g", lineterminator="\n"
        )
        files.append("trajectories.csv")
    if figures:
        from sim.figure_files import save_figures
        from sim.signals import sigterm_deferred

        with sigterm_deferred():  # the figures take a second or two, in processes started for them
            files += [
                str(p.relative_to(folder)) for p in save_figures(ens, folder / "figures", workers=workers)
            ]
    if in_place and not (traj and fmt == "npy"):
        target.unlink()  # kept only to compute the statistics
    return files


def _manifest(ens: Ensemble, files: list[str], command: str | None, write_time: float) -> dict[str, Any]:
    from sim.scenario import override_text

    sc = ens.scenario
    return {
        "scenario": {
            "name": sc.name,
            "title": sc.scenario.title,
            "file": sc.source,
            "sha256": sc.sha256,
            "overrides": [override_text(k, v) for k, v in sc.overrides.items()],
        },
        "seed": ens.seed,
        "seed_origin": ens.seed_origin,
        "runs": ens.runs,
        "steps": ens.steps,
        "start": ens.dates[0],
        "end": ens.dates[-1],
        "dates": ens.dates,
        "variables": ens.variables,
        "trajectories": {
            "file": next((f for f in files if f.startswith("trajectories")), None),
            "npy_axes": ["variable", "run", "step"],
        },
        "files": files,
        "versions": versions(),
        "command": command if command is not None else " ".join(sys.argv),
        "wall_time_s": {"run": round(ens.wall_time, 3), "write": round(write_time, 3)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def load_results(folder: str | Path) -> Ensemble:
    """Read a results folder back as an :class:`Ensemble` (trajectories memory-mapped when .npy)."""
    from sim.ensemble import Ensemble
    from sim.scenario import _build

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        raw = json.loads((folder / "scenario.json").read_text())
    except (OSError, ValueError) as err:
        raise HedgesimError(f"{folder}: not a hedgesim results folder ({err})") from None
    sc = _build(raw, manifest["scenario"]["file"], manifest["scenario"]["sha256"], text=None)
    traj = manifest["trajectories"]["file"]
    common = (sc, manifest["seed"], manifest["seed_origin"], manifest["variables"])
    ids, wall = np.arange(manifest["runs"]), manifest["wall_time_s"]["run"]
    if traj is None:  # a large ensemble written without its runs: the summary is what there is
        return Ensemble(*common, None, ids, wall, stats=_read_stats(folder, manifest), runs=manifest["runs"])
    if traj.endswith(".npy"):
        from sim.store import TrajectoryFile

        return Ensemble(*common, None, ids, wall, file=TrajectoryFile.open(folder / traj))
    import pandas as pd

    df = pd.read_csv(folder / traj)
    V, T1 = len(manifest["variables"]), manifest["steps"] + 1  # noqa: N806
    order = {v: i for i, v in enumerate(manifest["variables"])}
    data = np.empty((V, T1, manifest["runs"]))
    runs = {r: k for k, r in enumerate(sorted(df["run"].unique()))}
    data[df["variable"].map(order), df["step"], df["run"].map(runs)] = df["value"]
    return Ensemble(*common, data, ids, wall)


def _read_stats(folder: Path, manifest: dict[str, Any]) -> np.ndarray:
    """The statistics array (variables, steps + 1, columns) back from summary.csv."""
    import pandas as pd

    from sim.statistics import COLUMNS

    df = pd.read_csv(folder / "summary.csv")
    V, T1 = len(manifest["variables"]), manifest["steps"] + 1  # noqa: N806
    order = {v: i for i, v in enumerate(manifest["variables"])}
    stats = np.empty((V, T1, len(COLUMNS)))
    stats[df["variable"].map(order), df["step"]] = df[list(COLUMNS)].to_numpy()
    return stats
