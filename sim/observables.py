"""Observation models: what the model's state predicts for each observed series.

The model's state is not what anyone measures. Each function here maps it to an observable, so
that a simulated run can be set beside the data of ``data/`` (read by :mod:`sim.observations`).
This is the "observation model" of a state-space view of a simulation (Hartig et al. 2011,
"Statistical inference for stochastic simulation models", *Ecology Letters* 14: 816-827, section
"Linking models to data"); pattern-oriented modelling compares such observables, several at once,
at different scales (Grimm et al. 2005, *Science* 310: 987-991).

The mappings (docs/ODD.md, section 4.11, "Observation models"):

- **UN General Assembly voting agreement** with power ``p`` in year ``y`` (``data/unga``) is a
  linear function of Cambodia's yearly mean *diplomatic* alignment share toward ``p``:
  ``agreement = intercept + slope * share``, one line for all three powers, fitted by least squares
  on the calibration years only (:data:`CALIBRATION_YEARS`), clipped to [0, 1]. One line for all
  powers means that only the ranking and spacing of the shares carry information: a power's
  agreement cannot be fitted by a term of its own. Voeten (2013, "Data and analyses of voting in
  the UN General Assembly", in Reinalda (ed.), *Routledge Handbook of International Organization*)
  reads agreement as revealed foreign-policy similarity; the case file's stylized fact 7 warns it
  is a weak signal of alignment.
- **Aid share** of power ``p``: its aid flow over the three powers' aid in the same quarter, as
  the case file's shares of development finance (N6) are shares of the flows.
- **Elite choice** ("if forced to choose", China or the US; case file N14, ISEAS surveys): the
  share choosing China is Cambodia's mean alignment toward China over its alignment toward China
  and the US together, a forced binary choice read from the state's shares (a judgement: the survey
  asks elites, the model has one state).
- **Yearly values** of a quarterly variable are the mean of the quarters of the year present in
  the run (a flow such as aid is summed by the caller if needed; shares are averaged).

Everything here is plain numpy on arrays of shape ``(runs, dates)`` with the matching list of
dates ("1999Q1", ...), so it works on any :class:`sim.Ensemble` (``ens.values(name)``,
``ens.dates``) and is tested on arrays whose answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The years the observation models and the calibration are fitted on; later years are held out.
CALIBRATION_YEARS = (1999, 2011)
#: The held-out years of the UN voting series (it ends in 2015).
HELDOUT_YEARS = (2012, 2015)
POWERS = ("china", "japan", "us")


def years_of(dates: list[str]) -> np.ndarray:
    """The calendar year of each date ("2012Q3" -> 2012)."""
    return np.array([int(d[:4]) for d in dates])


def yearly(values: np.ndarray, dates: list[str], years: list[int] | np.ndarray) -> np.ndarray:
    """Yearly means of quarterly values: ``(runs, dates)`` -> ``(runs, len(years))``.

    A year with no date in the run gives NaN.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    ys = years_of(dates)
    out = np.full((values.shape[0], len(years)), np.nan)
    for j, y in enumerate(years):
        cols = ys == y
        if cols.any():
            out[:, j] = values[:, cols].mean(axis=1)
    return out


def shares(parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each array over the sum of all (elementwise); where all are zero, an even split."""
    total = sum(np.asarray(v, dtype=float) for v in parts.values())
    n = len(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {k: np.where(total > 0, np.asarray(v, dtype=float) / total, 1.0 / n) for k, v in parts.items()}


def aid_shares(aid: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each power's share of the powers' aid in the same quarter (case file N6 reads shares of flows)."""
    return shares(aid)


def elite_choice_share(china: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Share of elites choosing China when forced to choose between China and the US (N14):
    ``china / (china + us)`` of the mean alignment shares."""
    return shares({"china": china, "us": us})["china"]


@dataclass(frozen=True)
class UngaMap:
    """UN voting agreement as a line in the diplomatic alignment share, clipped to [0, 1]."""

    intercept: float
    slope: float
    rmse: float = float("nan")  # residual error on the years it was fitted on
    n: int = 0  # (year, power) points it was fitted on

    def predict(self, share: np.ndarray) -> np.ndarray:
        """Agreement predicted from diplomatic alignment shares (any shape)."""
        return np.clip(self.intercept + self.slope * np.asarray(share, dtype=float), 0.0, 1.0)

    @classmethod
    def fit(cls, share: np.ndarray, agreement: np.ndarray) -> UngaMap:
        """Least squares of agreement on share over paired points (NaNs dropped)."""
        x, y = np.asarray(share, dtype=float).ravel(), np.asarray(agreement, dtype=float).ravel()
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) < 2 or np.ptp(x) == 0:
            raise ValueError("the UN voting map needs at least two points with different shares")
        slope, intercept = np.polyfit(x, y, 1)
        rmse = float(np.sqrt(np.mean((intercept + slope * x - y) ** 2)))
        return cls(float(intercept), float(slope), rmse, len(x))


def unga_observed(
    unga: pd.DataFrame, years: list[int] | np.ndarray, issue: str = "all"
) -> dict[str, np.ndarray]:
    """The observed agreement with each power in the given years (NaN where a year is missing)."""
    rows = unga[unga["issue"] == issue]
    out = {}
    for p in POWERS:
        mine = rows[rows["partner"] == p]
        by_year = dict(zip(mine["year"], mine["agreement"], strict=True))
        out[p] = np.array([by_year.get(int(y), np.nan) for y in years], dtype=float)
    return out


def diplomatic_shares(ens, years: list[int] | np.ndarray, small: str = "cambodia") -> dict[str, np.ndarray]:
    """Yearly diplomatic alignment shares of each run, ``(runs, years)`` per power."""
    return {p: yearly(ens.values(f"{small}.alignment.diplomatic.{p}"), ens.dates, years) for p in POWERS}


def fit_unga_map(ens, unga: pd.DataFrame, years: tuple[int, int] = CALIBRATION_YEARS) -> UngaMap:
    """The UN voting map fitted on ``years`` (inclusive): the ensemble's mean yearly diplomatic
    share of each power against the observed agreement with it, pooled over the three powers."""
    ys = np.arange(years[0], years[1] + 1)
    sim_shares = diplomatic_shares(ens, ys)
    obs = unga_observed(unga, ys)
    x = np.concatenate([np.nanmean(sim_shares[p], axis=0) for p in POWERS])
    y = np.concatenate([obs[p] for p in POWERS])
    return UngaMap.fit(x, y)


def unga_predicted(ens, umap: UngaMap, years: list[int] | np.ndarray) -> dict[str, np.ndarray]:
    """Each run's predicted yearly agreement with each power, ``(runs, years)``."""
    return {p: umap.predict(s) for p, s in diplomatic_shares(ens, years).items()}


# ---- observed points on the model's own scales (the dashboard's panels) -----------------------

#: Aid figures of data/aid and data/case that are one power's flow in one year (given, disbursed
#: or indicated per year, USD million); pledges and packages spanning years are left out.
AID_FLOWS = ("aid_provided", "usaid_provided", "us_aid", "aid_disbursed", "aid_indicated_per_year")


def _mid_year(start: str, end: str) -> float:
    """The middle of a period written 2018, 2023-07 or 2023Q3, in decimal years on the axis of
    :func:`sim.plots.quarter_x` (a year's four quarters sit at y, y+.25, y+.5, y+.75)."""

    def bounds(text: str) -> tuple[float, float]:
        y = int(text[:4])
        if "Q" in text:
            q = int(text[-1])
            return y + (q - 1) / 4, y + q / 4
        if "-" in text:
            m = int(text[5:7])
            return y + (m - 1) / 12, y + m / 12
        return y, y + 1

    return (bounds(start)[0] + bounds(end)[1]) / 2 - 0.125


def observed_points(scenario, panel: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Observed values on the scale of a dashboard panel, as (power, x, y) with x in decimal years.

    - ``alignment_diplomatic``: each year's UN voting agreement with a power over the sum of the
      three agreements (``data/unga``), the reading history_2010 uses for its initial diplomatic
      alignment; a share, so it sits on the panel's scale. It is not the observation model of
      :func:`fit_unga_map`, which needs an ensemble.
    - ``aid``: the yearly aid flows of :data:`AID_FLOWS` (``data/aid``, ``data/case``), in USD
      million per quarter (a year's flow over 4; a lower bound where the source gives one).

    Only for a scenario whose powers are China, Japan and the US; only inside its dates; empty
    for other panels, or when the data cannot be read (the dashboard goes on without them).
    """
    from sim.observations import ObservationError, load_observations, load_unga

    if set(scenario.powers) != set(POWERS) or panel not in ("alignment_diplomatic", "aid"):
        return []
    lo, hi = int(scenario.dates[0][:4]), int(scenario.dates[-1][:4])
    try:
        if panel == "alignment_diplomatic":
            unga = load_unga()
            years = np.array([y for y in sorted(set(unga["year"])) if lo <= y <= hi])
            if len(years) == 0:
                return []
            agree = unga_observed(unga, years)
            share = shares(agree)
            return [(p, years + 0.375, share[p]) for p in POWERS]
        obs = load_observations()
    except ObservationError:
        return []
    rows = obs[obs["indicator"].isin(AID_FLOWS) & obs["unit"].eq("usd_m") & obs["partner"].isin(POWERS)]
    out = []
    for p in POWERS:
        mine = rows[rows["partner"] == p]
        x = np.array([_mid_year(s, e) for s, e in zip(mine["start"], mine["end"], strict=True)])
        y = np.where(mine["value"].notna(), mine["value"], mine["value_low"]).astype(float) / 4
        keep = (x >= lo) & (x < hi + 1)
        if keep.any():
            out.append((p, x[keep], y[keep]))
    return out
