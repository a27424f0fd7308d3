"""The results folder: manifest, summary, trajectories and figures, written atomically.

Layout of a results folder::

    manifest.json      what was run and how to run it again (scenario hash, seed, versions, command)
    scenario.json      the scenario as run (after --set overrides), as plain data
    summary.csv        tidy statistics: date, step, variable, mean, sd, p05, p25, p50, p75, p95
    trajectories.npy   every run: float64 array (variable, run, step); names and dates in the manifest
                       (or trajectories.csv, tidy: run, date, step, variable, value)
    figures/           PNG and SVG, one per variable group

Everything is written into a hidden sibling folder first and renamed into place at the end, so an
interrupted run leaves nothing half-written. An existing non-empty folder is replaced only when
asked (``force``), and never before the new one is complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import HedgesimError

if TYPE_CHECKING:
    from sim.ensemble import Ensemble

FORMATS = ("npy", "csv")


def default_folder(name: str, root: str | Path = "results") -> Path:
    """A new folder results/<name>/<UTC timestamp>/ (with -2, -3, ... if that one exists)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    base = Path(root) / name / stamp
    out, k = base, 2
    while out.exists():
        out, k = base.with_name(f"{stamp}-{k}"), k + 1
    return out


def check_folder(out: Path, force: bool) -> None:
    """Refuse, before any work, to overwrite a non-empty folder or to write into a file."""
    if out.exists() and not out.is_dir():
        raise HedgesimError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise HedgesimError(f"{out}: folder is not empty; choose another --out, or add --force to replace it")


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        "hedgesim": version("hedgesim"),
        "mesa": version("mesa"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


@contextmanager
def staging(out: str | Path, force: bool = False) -> Iterator[Path]:
    """A hidden sibling folder to write into; renamed to ``out`` when the block ends without error.

    On any error or Ctrl-C it is removed, so ``out`` is never left half-written.
    """
    out = Path(out)
    check_folder(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        yield tmp
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def wants_trajectories(ens: Ensemble, trajectories: bool | None) -> bool:
    """Write every run's trajectories? Yes when asked; by default, when they fit in
    :data:`~sim.store.IN_MEMORY_LIMIT` (512 MiB, about 100,000 runs of csp2023)."""
    from sim.store import IN_MEMORY_LIMIT, nbytes

    if trajectories is not None:
        return trajectories
    return nbytes(len(ens.variables), ens.steps, ens.runs) <= IN_MEMORY_LIMIT


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
) -> None:
    """Write the results files into a staging folder (see :func:`staging`).

    A large ensemble's trajectory file that already sits in ``folder`` (``sim.run(...,
    store=folder / "trajectories.npy")``) is kept as it is, or removed when not wanted.
    """
    if fmt not in FORMATS:
        raise HedgesimError(f"--format: expected one of {list(FORMATS)}, found {fmt!r}")
    t0 = time.perf_counter()
    files = _write_all(ens, folder, fmt, figures, workers, wants_trajectories(ens, trajectories))
    manifest = _manifest(ens, files, command, time.perf_counter() - t0)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


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
    elif traj:
        ens.trajectories().to_csv(
            folder / "trajectories.csv", index=False, float_format="%.10g", lineterminator="\n"
        )
        files.append("trajectories.csv")
    if figures:
        from sim.plots import save_figures

        files += [str(p.relative_to(folder)) for p in save_figures(ens, folder / "figures", workers=workers)]
    if in_place and not (traj and fmt == "npy"):
        target.unlink()  # kept only to compute the statistics
    return files


def _manifest(ens: Ensemble, files: list[str], command: str | None, write_time: float) -> dict[str, Any]:
    sc = ens.scenario
    return {
        "scenario": {"name": sc.name, "title": sc.scenario.title, "file": sc.source, "sha256": sc.sha256},
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


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


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
