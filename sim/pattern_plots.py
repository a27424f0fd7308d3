"""The figure of ``hedgesim check``: simulated bands against observed points.

Four panels: the UN voting agreement with China, Japan and the US predicted by the observation
model (:mod:`sim.observables`; yearly, median with 50% and 90% bands of the runs) with the observed
agreement of ``data/unga`` (filled in the calibration years 1999-2011, open in the held-out years),
and the elite survey's share choosing China (case file N14) against its observation model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.observables import (
    CALIBRATION_YEARS,
    POWERS,
    elite_choice_share,
    unga_observed,
    unga_predicted,
    yearly,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.patterns import Report

COLOURS = {"china": "#c0392b", "japan": "#7d3c98", "us": "#1f4e9c"}
NAMES = {"china": "China", "japan": "Japan", "us": "the US"}


def _bands(ax, years: np.ndarray, values: np.ndarray, colour: str, label: str) -> None:
    q05, q25, q50, q75, q95 = np.nanquantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(years, q05, q95, color=colour, alpha=0.12, linewidth=0)
    ax.fill_between(years, q25, q75, color=colour, alpha=0.28, linewidth=0)
    ax.plot(years, q50, color=colour, lw=2, label=label)


def check_figure(report: Report) -> Figure:
    """The four panels of a check (UN voting needs a report whose map was fitted: 1999-2011)."""
    from matplotlib.figure import Figure

    ens = report.ensemble
    ys = np.unique([int(d[:4]) for d in ens.dates])
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    fig.suptitle(
        f"{report.scenario.scenario.title}: simulated (bands, {ens.runs} runs) and observed (points)"
    )
    if report.umap is not None:
        pred = unga_predicted(ens, report.umap, ys)
        obs_years = np.array(sorted(set(report.unga["year"])))
        obs = unga_observed(report.unga, obs_years)
    for ax, p in zip(axes[:3], POWERS, strict=True):
        ax.set_title(f"UN General Assembly voting agreement with {NAMES[p]}", fontsize=10)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of votes cast alike")
        if report.umap is None:
            ax.text(0.5, 0.5, "needs a run covering 1999-2011", ha="center", transform=ax.transAxes)
            continue
        _bands(ax, ys, pred[p], COLOURS[p], "model (observation model of sim/observables.py)")
        fit = (obs_years >= CALIBRATION_YEARS[0]) & (obs_years <= CALIBRATION_YEARS[1])
        out = ~fit
        ax.plot(obs_years[fit], obs[p][fit], "o", color="black", ms=4, label="observed, calibration years")
        ax.plot(
            obs_years[out], obs[p][out], "o", mfc="white", color="black", ms=4, label="observed, other years"
        )
        ax.axvspan(CALIBRATION_YEARS[0] - 0.5, CALIBRATION_YEARS[1] + 0.5, color="grey", alpha=0.07)
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    ax = axes[3]
    ax.set_title("Elite choosing China over the US (survey, N14)", fontsize=10)
    ax.set_ylim(0, 1)
    china = yearly(ens.values("cambodia.alignment.china"), ens.dates, ys)
    us = yearly(ens.values("cambodia.alignment.us"), ens.dates, ys)
    _bands(ax, ys, elite_choice_share(china, us), COLOURS["china"], "model: China / (China + US) alignment")
    ax.plot([2020], [0.577], "o", color="black", ms=4, label="observed 2020: 57.7%")
    ax.errorbar(
        [2024], [0.45], yerr=[[0.0], [0.05]], fmt="v", color="black", ms=5, label="observed 2024: below 50%"
    )
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    for ax in axes:
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    return fig
