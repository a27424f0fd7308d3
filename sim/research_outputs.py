"""The results folders of ``hedgesim sweep`` and ``hedgesim sensitivity``.

A sweep's folder::

    manifest.json    what was run and how to run it again (scenario hashes, seed, design, metrics)
    sweep.csv        one row per sample: the parameters, then each metric's mean over the runs,
                     its sd and a 95% interval of the mean
    runs.npy         every run's metrics, float64 (metrics, samples, runs per sample)
    figures/         each metric against each parameter: the samples, and a band over bins

A sensitivity analysis adds ``indices.csv`` (one row per outcome and parameter), ``second_order.csv``
(Sobol') and a bar chart per outcome. Both are written into a staging folder and published with
one rename (:mod:`sim.folders`); the tables are the same bytes whatever the split of the runs.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.global_sensitivity import Sensitivity
    from sim.sweeps import Sweep

#: Bins of a parameter's range in a sweep's figures (fewer when it has fewer distinct values).
BINS = 10


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def sweep_manifest(sw: Sweep, command: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from sim.outputs import versions

    sc, vs = sw.scenario, sw.against
    return {
        "scenario": {"name": sc.name, "source": sc.source, "sha256": sc.sha256, "overrides": sc.overrides},
        "against": None if vs is None else {"name": vs.name, "source": vs.source, "sha256": vs.sha256},
        "seed": sw.seed,
        "design": sw.design,
        "parameters": [
            {"name": n, "low": float(sw.X[:, j].min()), "high": float(sw.X[:, j].max())}
            for j, n in enumerate(sw.names)
        ],
        "metrics": [m.text for m in sw.metrics],
        "samples": sw.samples,
        "runs_per_sample": sw.replicates,
        "runs": sw.runs,
        "run_index": "replicate r of every sample is run r (common random numbers across samples)",
        "wall_time_seconds": round(sw.wall_time, 3),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "versions": versions(),
        **(extra or {}),
    }


def write_sweep_into(sw: Sweep, folder: Path, figures: bool = True, command: str | None = None) -> list[str]:
    """Write a sweep's files into ``folder`` (a staging folder); return their names."""
    files = ["manifest.json", "sweep.csv", "runs.npy"]
    sw.table().to_csv(folder / "sweep.csv", index=False)
    np.save(folder / "runs.npy", sw.Y)
    if figures:
        files += sweep_figures(sw, folder / "figures")
    _json(folder / "manifest.json", sweep_manifest(sw, command))
    return files


def write_sensitivity_into(
    sa: Sensitivity, folder: Path, figures: bool = True, command: str | None = None
) -> list[str]:
    files = ["manifest.json", "indices.csv", "sweep.csv", "runs.npy"]
    sw = sa.sweep
    sa.table().to_csv(folder / "indices.csv", index=False)
    second = sa.second_order()
    if second is not None:
        second.to_csv(folder / "second_order.csv", index=False)
        files.append("second_order.csv")
    sw.table().to_csv(folder / "sweep.csv", index=False)
    np.save(folder / "runs.npy", sw.Y)
    if figures:
        files += sensitivity_figures(sa, folder / "figures")
    extra = {"method": sa.method, "base_samples": sa.base_samples}
    _json(folder / "manifest.json", sweep_manifest(sw, command, extra))
    return files


def _json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def sweep_figures(sw: Sweep, folder: Path) -> list[str]:
    """One figure per metric: a panel per parameter with every sample's mean (dots), and over bins
    of the parameter the mean of the samples (line) and their 5-95% range (band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(exist_ok=True)
    out = []
    D = len(sw.names)  # noqa: N806
    cols = min(D, 4)
    rows = -(-D // cols)
    for k, m in enumerate(sw.metrics):
        y = sw.means(k)
        fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False, sharey=True)
        for j, name in enumerate(sw.names):
            ax = axes[j // cols][j % cols]
            x = sw.X[:, j]
            ax.scatter(x, y, s=6, alpha=0.35, color="#4c72b0", linewidths=0)
            centre, mean, lo, hi = _bands(x, y)
            ax.fill_between(centre, lo, hi, color="#4c72b0", alpha=0.2, label="5-95% of samples")
            ax.plot(centre, mean, color="#1f3b73", lw=1.8, label="mean")
            ax.set_xlabel(name, fontsize=8)
            ax.tick_params(labelsize=7)
        for j in range(D, rows * cols):
            axes[j // cols][j % cols].axis("off")
        axes[0][0].set_ylabel(
            m.text + (f" - {sw.against.name}" if sw.against is not None else ""), fontsize=8
        )
        axes[0][0].legend(fontsize=7, loc="best")
        title = f"{sw.scenario.name}: {m.text}, {sw.samples} samples x {sw.replicates} runs ({sw.design})"
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        name = f"figures/sweep-{_slug(m.text)}.png"
        fig.savefig(folder.parent / name, dpi=110)
        plt.close(fig)
        out.append(name)
    return out


def _bands(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    levels = np.unique(x)
    if len(levels) <= BINS:
        groups = [y[x == v] for v in levels]
        centre = levels
    else:
        edges = np.quantile(x, np.linspace(0, 1, BINS + 1))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, BINS - 1)
        groups = [y[which == b] for b in range(BINS)]
        centre = np.array([x[which == b].mean() if (which == b).any() else np.nan for b in range(BINS)])
    keep = [len(g) > 0 for g in groups]
    groups = [g for g, ok in zip(groups, keep, strict=True) if ok]
    centre = centre[np.array(keep)]
    mean = np.array([g.mean() for g in groups])
    lo = np.array([np.quantile(g, 0.05) for g in groups])
    hi = np.array([np.quantile(g, 0.95) for g in groups])
    return centre, mean, lo, hi


def sensitivity_figures(sa: Sensitivity, folder: Path) -> list[str]:
    """A bar chart per outcome: first-order and total indices (or mu*) with their 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(exist_ok=True)
    out = []
    for r in sa.results:
        t = r.table.iloc[::-1]
        y = np.arange(len(t))
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(t) + 1.4))
        if sa.method == "sobol":
            ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], color="#c44e52", label="total (ST)")
            ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], color="#4c72b0", label="first order (S1)")
            ax.set_xlabel("Sobol' index, with 95% bootstrap interval")
        else:
            ax.barh(y, t["mu_star"], 0.6, xerr=t["mu_star_conf"], color="#4c72b0", label="mu*")
            ax.set_xlabel("Morris mu* (mean absolute elementary effect), with 95% interval")
        ax.set_yticks(y, t["parameter"], fontsize=8)
        ax.axvline(0, color="black", lw=0.6)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"{sa.sweep.scenario.name}: what drives {r.outcome}?", fontsize=9)
        fig.tight_layout()
        name = f"figures/{sa.method}-{_slug(r.outcome)}.png"
        fig.savefig(folder.parent / name, dpi=110)
        plt.close(fig)
        out.append(name)
    return out


def tornado(indices: Any, top: int = 10) -> Any:
    """A tornado chart of a Morris screen: the ``top`` parameters by mu*, each bar the signed mean
    effect mu of moving it across its range (right: the outcome rises), whiskers mu* +- its interval.
    Returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    t = indices.table.head(top).iloc[::-1]
    y = np.arange(len(t))
    fig = Figure(figsize=(5.6, 0.32 * len(t) + 1.2))
    ax = fig.add_subplot()
    colours = ["#c44e52" if m < 0 else "#4c72b0" for m in t["mu"]]
    ax.barh(y, t["mu"], 0.7, color=colours)
    ax.set_yticks(y, t["parameter"], fontsize=8)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"mean effect on {indices.outcome} across the range (Morris mu)", fontsize=8)
    ax.set_title(f"What drives {indices.outcome}?", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
