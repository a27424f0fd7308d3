"""Scenario discovery: under which parameter values does an outcome meet a condition?

PRIM, the Patient Rule Induction Method (Friedman & Fisher 1999), as scenario discovery uses it
(Bryant & Lempert 2010, *Technol. Forecast. Soc. Change* 77): it peels a box of parameter ranges
in which the cases of interest are dense. Each box is reported with its **coverage** (the share of
all cases of interest that fall in it), its **density** (the share of the box's samples that are
cases) and its **mass** (the share of all samples in it). The Workbench's PRIM is used
(:mod:`ema_workbench.analysis.prim`, the optional extra ``hedgesim[ema]``), on the table of a sweep
(one row per sample, its metrics averaged over the sample's runs).

Of each box's peeling trajectory, the box chosen is the densest whose coverage is still at least
``min_coverage`` (Bryant & Lempert's trade-off between the two), then pasted back as PRIM does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.ema import OPERATORS, _workbench, parse_condition
from sim.errors import HedgesimError

if TYPE_CHECKING:
    import pandas as pd

    from sim.sweeps import Sweep


@dataclass
class Box:
    """One PRIM box: the restricted ranges (``limits``: parameter, low, high) and its statistics."""

    limits: pd.DataFrame
    coverage: float
    density: float
    mass: float
    samples: int

    def text(self) -> str:
        lines = [
            f"coverage {self.coverage:.0%}, density {self.density:.0%}, mass {self.mass:.0%} "
            f"({self.samples} samples)"
        ]
        for _, row in self.limits.iterrows():
            lines.append(f"  {row['low']:<10.4g} <= {row['parameter']} <= {row['high']:.4g}")
        return "\n".join(lines)


@dataclass
class Discovery:
    condition: str
    cases: int
    samples: int
    boxes: list[Box]

    def text(self) -> str:
        head = f"{self.condition}: {self.cases} of {self.samples} samples ({self.cases / self.samples:.0%})"
        if not self.boxes:
            return head + "\nno box found"
        body = [f"box {i + 1}: {b.text()}" for i, b in enumerate(self.boxes)]
        return "\n".join([head, *body])


def sweep_table(source: Sweep | str | Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The per-sample table of a sweep (a :class:`Sweep` or its results folder), its parameters and
    its metrics."""
    import pandas as pd

    if not isinstance(source, str | Path):
        return source.table(), list(source.names), [m.text for m in source.metrics]
    folder = Path(source)
    if not folder.exists():
        raise HedgesimError(f"{folder}: no such folder; expected the results folder of hedgesim sweep")
    if not folder.is_dir():
        raise HedgesimError(f"{folder}: is not a folder; expected the results folder of hedgesim sweep")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        table = pd.read_csv(folder / "sweep.csv")
        names = [p["name"] for p in manifest["parameters"]]
        metrics = list(manifest["metrics"])
    except FileNotFoundError as err:
        raise HedgesimError(
            f"{folder}: not a sweep's results folder (no {Path(err.filename).name})"
        ) from None
    except OSError as err:  # a folder where a file should be, a file that cannot be read
        name = Path(err.filename).name if err.filename else "its files"
        raise HedgesimError(f"{folder}: {name} cannot be read ({err.strerror or err})") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise HedgesimError(f"{folder}: the sweep's files cannot be read ({err})") from None
    for column in [*names, *metrics]:  # a file edited by hand or cut short
        if not isinstance(column, str) or column not in table.columns:
            raise HedgesimError(f"{folder / 'sweep.csv'}: no column {column!r}, which manifest.json names")
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise HedgesimError(f"{folder / 'sweep.csv'}: column {column!r}: a value is not a number")
    return table, names, metrics


def discover(
    source: Sweep | str | Path,
    condition: str,
    boxes: int = 1,
    min_coverage: float = 0.5,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> Discovery:
    """PRIM boxes for ``condition`` (``"cambodia.alignment.china@end > 0.6"``) on a sweep's table.

    Up to ``boxes`` boxes are found in turn, each after removing the samples of the ones before
    (PRIM's covering).
    """
    import warnings

    table, names, metrics = sweep_table(source)
    metric, op, x = parse_condition(condition)
    if metric not in metrics:
        raise HedgesimError(f"--condition {condition}: the sweep has no metric {metric!r}; it has {metrics}")
    if not 0 < min_coverage <= 1:
        raise HedgesimError(f"--min-coverage: expected a share in (0, 1], found {min_coverage}")
    y = OPERATORS[op](table[metric].to_numpy(), x)
    found = Discovery(condition, int(y.sum()), len(y), [])
    if not y.any() or y.all():
        return found
    _workbench()
    from ema_workbench.analysis import prim

    X = table[names].reset_index(drop=True)  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(X, y, peel_alpha=peel_alpha, mass_min=mass_min)
        for _ in range(boxes):
            box = p.find_box()
            if box is None:
                break
            stats = box.peeling_trajectory
            ok = stats[stats["coverage"] >= min_coverage]
            i = int(ok["density"].idxmax()) if len(ok) else 0
            box.select(i)
            b = _box(box, X, y, names)
            if b.limits.empty:  # the whole space: nothing left to find
                break
            found.boxes.append(b)
    return found


def _box(box: Any, X: pd.DataFrame, y: np.ndarray, names: list[str]) -> Box:  # noqa: N803
    import pandas as pd

    limits = box.box_lims[box._cur_box] if hasattr(box, "_cur_box") else box.box_lim
    inside = np.ones(len(X), dtype=bool)
    rows = []
    for n in names:
        lo, hi = float(limits[n].iloc[0]), float(limits[n].iloc[1])
        inside &= (X[n].to_numpy() >= lo) & (X[n].to_numpy() <= hi)
        if lo > X[n].min() or hi < X[n].max():
            rows.append({"parameter": n, "low": lo, "high": hi})
    cases = int(y.sum())
    return Box(
        limits=pd.DataFrame(rows, columns=["parameter", "low", "high"]),
        coverage=float(y[inside].sum() / cases) if cases else float("nan"),
        density=float(y[inside].mean()) if inside.any() else float("nan"),
        mass=float(inside.mean()),
        samples=int(inside.sum()),
    )
