"""Named patterns a credible model of the Cambodian case reproduces, checked over an ensemble.

Pattern-oriented modelling (Grimm et al. 2005, "Pattern-oriented modeling of agent-based complex
systems", *Science* 310: 987-991) tests a model against several patterns at once, at different
scales, none used for tuning; Axelrod and Bennett (1993, "A landscape theory of aggregation",
*British Journal of Political Science* 23: 211-233) checked their alignment model against the
alignments observed in 1936. Each pattern here states what history shows, cites its source (the
case file, ``docs/case.md``, or a data file under ``data/``), and computes one number per run:
the pattern *holds* when the mean over runs meets the expectation; the table gives that mean with
the 5th-95th percentile of the runs (the interval within which 90% of runs fall).

A pattern applies to a scenario when the scenario covers its years and has its powers; others are
reported as not applicable. Patterns that compare two scenarios (what an event changed) run the
same scenario without the named events, with the same seed and runs (common random numbers), and
apply only when the scenario has those events.

Patterns marked ``known_failure`` are ones the model is known not to reproduce (the case file's
numbers disagree with it); they stay in the table so the gap stays visible.

The UN voting patterns compare the observed agreement (``data/unga``) with the agreement predicted
by the observation model of :mod:`sim.observables`, whose line is fitted on 1999-2011 only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.observables import (
    CALIBRATION_YEARS,
    POWERS,
    aid_shares,
    elite_choice_share,
    fit_unga_map,
    unga_observed,
    unga_predicted,
    yearly,
    years_of,
)

CASE = "docs/case.md"
UNGA_SOURCE = "data/unga (Voeten, Strezhnev and Bailey, hdl:1902.1/12379)"


@dataclass
class Evidence:
    """What a pattern's statistic reads: the ensemble, the observed UN votes, the fitted UN map, and
    a counterfactual ensemble when the pattern compares."""

    ens: Any
    unga: Any = None
    umap: Any = None
    without: Any = None

    def values(self, name: str) -> np.ndarray:
        return self.ens.values(name)

    def window(self, name: str, first: str, last: str, ens: Any = None) -> np.ndarray:
        """Values of each run between two dates (inclusive), ``(runs, dates)``."""
        ens = ens or self.ens
        i, j = ens.dates.index(first), ens.dates.index(last)
        return ens.values(name)[:, i : j + 1]

    def year_mean(self, name: str, year: int, ens: Any = None) -> np.ndarray:
        ens = ens or self.ens
        return yearly(ens.values(name), ens.dates, [year])[:, 0]


@dataclass(frozen=True)
class Pattern:
    """One pattern: ``statistic`` gives a number per run; it holds when their mean is on the
    expected side of ``threshold`` (``above`` or below)."""

    name: str
    description: str
    source: str
    statistic: Callable[[Evidence], np.ndarray]
    threshold: float
    above: bool = True
    years: tuple[int, int] = (2020, 2020)
    drop: tuple[str, ...] = ()  # events removed in the counterfactual; empty: no comparison
    unga: bool = False  # needs the observed UN votes and the fitted map
    known_failure: bool = False

    @property
    def expected(self) -> str:
        return f"{'>' if self.above else '<'} {self.threshold:.3g}"


@dataclass
class Result:
    pattern: Pattern
    applies: bool
    mean: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    holds: bool | None = None
    reason: str = ""
    values: np.ndarray = field(default_factory=lambda: np.empty(0))

    def row(self) -> dict[str, Any]:
        p = self.pattern
        return {
            "pattern": p.name,
            "expected": p.expected,
            "measured": self.mean,
            "low": self.low,
            "high": self.high,
            "holds": self.holds,
            "known_failure": p.known_failure,
            "source": p.source,
            "note": self.reason,
        }


# ---- statistics ---------------------------------------------------------------------------------


def _lead(ev: Evidence, var: str, first: str, last: str) -> np.ndarray:
    """Per run, the smallest margin over the dates by which China leads the larger of the others."""
    china = ev.window(var.format("china"), first, last)
    others = np.maximum(ev.window(var.format("japan"), first, last), ev.window(var.format("us"), first, last))
    return (china - others).min(axis=1)


def _aid_share(ev: Evidence, power: str, first: str, last: str) -> np.ndarray:
    aid = {p: ev.window(f"{p}.aid", first, last) for p in POWERS}
    return aid_shares(aid)[power].mean(axis=1)


def _cv_yearly_aid(ev: Evidence, power: str, first: int, last: int) -> np.ndarray:
    """Coefficient of variation of a power's yearly aid, per run."""
    y = yearly(ev.values(f"{power}.aid"), ev.ens.dates, list(range(first, last + 1)))
    return y.std(axis=1) / np.maximum(y.mean(axis=1), 1e-9)


def _aid_change(ev: Evidence, power: str, year: int) -> np.ndarray:
    """Per run, the relative change of a power's aid from the year before to ``year``."""
    before, now = ev.year_mean(f"{power}.aid", year - 1), ev.year_mean(f"{power}.aid", year)
    return now / np.maximum(before, 1e-9) - 1.0


def _difference(ev: Evidence, var: str, first: str, last: str) -> np.ndarray:
    """Per run, the mean over dates of the scenario minus its counterfactual (same seed, same run)."""
    a = ev.window(var, first, last)
    b = ev.window(var, first, last, ens=ev.without)
    return (a - b).mean(axis=1)


def _unga_error(ev: Evidence, power: str, first: int, last: int) -> np.ndarray:
    """Per run, the mean absolute error of the predicted UN agreement with a power over the years."""
    ys = np.arange(first, last + 1)
    pred = unga_predicted(ev.ens, ev.umap, ys)[power]
    obs = unga_observed(ev.unga, ys)[power]
    ok = np.isfinite(obs)
    return np.abs(pred[:, ok] - obs[ok]).mean(axis=1)


def _elite(ev: Evidence, year: int) -> np.ndarray:
    china = ev.year_mean("cambodia.alignment.china", year)
    us = ev.year_mean("cambodia.alignment.us", year)
    return elite_choice_share(china, us)


# ---- the patterns -------------------------------------------------------------------------------

REAM = (
    "Reported Chinese access deal at Ream",
    "Chinese-funded Ream upgrade begins",
    "Chinese corvettes at Ream",
)

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "china_leads_influence",
        "China keeps the largest influence at every date, 2020-2024 (China leads minus the next)",
        f"{CASE}, stylized facts 1-4 (N2-N6, N11-N12)",
        lambda ev: _lead(ev, "{}.influence", "2020Q1", "2024Q4"),
        0.0,
        years=(2020, 2024),
    ),
    Pattern(
        "china_leads_alignment",
        "China keeps Cambodia's largest mean alignment share at every date, 2020-2024",
        f"{CASE}, stylized facts 1-4",
        lambda ev: _lead(ev, "cambodia.alignment.{}", "2020Q1", "2024Q4"),
        0.0,
        years=(2020, 2024),
    ),
    Pattern(
        "china_leads_economic_alignment",
        "China keeps Cambodia's largest economic alignment share at every date, 2020-2024",
        f"{CASE}, stylized fact 1 (dominant investor, N2-N5)",
        lambda ev: _lead(ev, "cambodia.alignment.economic.{}", "2020Q1", "2024Q4"),
        0.0,
        years=(2020, 2024),
    ),
    Pattern(
        "china_aid_over_a_third",
        "China's share of the three powers' aid, 2020-2023, is over one third",
        f"{CASE}, N6 (China over one-third of development finance, 2015-23); data/aid",
        lambda ev: _aid_share(ev, "china", "2020Q1", "2023Q4"),
        1 / 3,
        years=(2020, 2023),
    ),
    Pattern(
        "us_aid_small",
        "The US share of the three powers' aid, 2020-2023, is small (under 0.15)",
        f"{CASE}, N7 (about $62m a year against about $2.5bn of development finance)",
        lambda ev: _aid_share(ev, "us", "2020Q1", "2023Q4"),
        0.15,
        above=False,
        years=(2020, 2023),
    ),
    Pattern(
        "china_aid_more_volatile",
        "China's yearly aid varies more than Japan's, 2020-2025 (CV of China minus CV of Japan)",
        f"{CASE}, stylized fact 4 (China's flows volatile, Japan's steady)",
        lambda ev: _cv_yearly_aid(ev, "china", 2020, 2025) - _cv_yearly_aid(ev, "japan", 2020, 2025),
        0.0,
        years=(2020, 2025),
    ),
    Pattern(
        "aid_order",
        "China gives the most aid, Japan the second, the US the least, at every date 2020-2026",
        f"{CASE}, N6-N7 and stylized fact 4",
        lambda ev: np.minimum(
            ev.window("china.aid", "2020Q1", "2026Q4") - ev.window("japan.aid", "2020Q1", "2026Q4"),
            ev.window("japan.aid", "2020Q1", "2026Q4") - ev.window("us.aid", "2020Q1", "2026Q4"),
        ).min(axis=1),
        0.0,
        years=(2020, 2026),
    ),
    Pattern(
        "china_largest_dependence",
        "China is the source of over half of Cambodia's economic dependence, 2020-2026 (lowest share)",
        f"{CASE}, N3-N4 (investment), N8-N9 (imports), N11-N12 (debt)",
        lambda ev: ev.window("cambodia.dependence.china", "2020Q1", "2026Q4").min(axis=1),
        0.5,
        years=(2020, 2026),
    ),
    Pattern(
        "china_finance_falls_2022",
        "Chinese aid falls by more than 10% from 2021 to 2022 (relative change)",
        f"{CASE}, N6 (development finance fell 30% in 2022); data/aid (China's flows fell by over $1bn)",
        lambda ev: _aid_change(ev, "china", 2022),
        -0.10,
        above=False,
        years=(2021, 2022),
        known_failure=True,
    ),
    Pattern(
        "shields_china_2012",
        "Cambodia, ASEAN chair, leans to China diplomatically in 2012 (diplomatic share of China)",
        f"{CASE}, timeline 2012-07 and stylized fact 5",
        lambda ev: ev.year_mean("cambodia.alignment.diplomatic.china", 2012),
        0.5,
        years=(2012, 2012),
    ),
    Pattern(
        "shields_china_2016",
        "Cambodia blocks mention of the South China Sea ruling in 2016 (diplomatic share of China)",
        f"{CASE}, timeline 2016-07 and stylized fact 5",
        lambda ev: ev.year_mean("cambodia.alignment.diplomatic.china", 2016),
        0.5,
        years=(2016, 2016),
    ),
    Pattern(
        "elite_split_2024",
        "Fewer than half of Cambodia's surveyed elite choose China over the US in 2024",
        f"{CASE}, N14 (57.7% in 2020; below 50% in 2024; ISEAS survey)",
        lambda ev: _elite(ev, 2024),
        0.5,
        above=False,
        years=(2024, 2024),
        known_failure=True,
    ),
    Pattern(
        "japan_partnership_raises_influence",
        "The 2022 Japan-Cambodia CSP raises Japan's influence, 2023-2026 (scenario minus without it)",
        f"{CASE}, timeline 2022-11; Cheunboran 2019 (Japan the key hedge)",
        lambda ev: _difference(ev, "japan.influence", "2023Q1", "2026Q4"),
        0.01,
        years=(2023, 2026),
        drop=("Japan-Cambodia CSP",),
    ),
    Pattern(
        "japan_partnership_raises_hedging",
        "The 2022 Japan-Cambodia CSP raises Cambodia's hedging index, 2023-2026 (scenario minus without)",
        f"{CASE}, timeline 2022-11; Cheunboran 2019; Luo and Kheang Un 2021 (Japan fits diversification)",
        lambda ev: _difference(ev, "cambodia.hedging_index", "2023Q1", "2026Q4"),
        0.005,
        years=(2023, 2026),
        drop=("Japan-Cambodia CSP",),
    ),
    Pattern(
        "ream_raises_china_us_tension",
        "Chinese access at Ream raises China-US tension, 2024-2026 (scenario minus without it)",
        f"{CASE}, timeline 2019-07, 2022-06, 2023-12; Walt 1987",
        lambda ev: _difference(ev, "tension.china-us", "2024Q1", "2026Q4"),
        0.03,
        years=(2024, 2026),
        drop=REAM,
    ),
    Pattern(
        "ream_draws_security_alignment",
        "Chinese access at Ream draws Cambodia's security alignment to China, 2024-2026",
        f"{CASE}, timeline 2023-12 and 2025-04",
        lambda ev: _difference(ev, "cambodia.alignment.security.china", "2024Q1", "2026Q4"),
        0.02,
        years=(2024, 2026),
        drop=REAM,
    ),
    *(
        Pattern(
            f"unga_{p}",
            f"Predicted UN voting agreement with {p}, 1999-2015: mean absolute error under 0.1",
            UNGA_SOURCE,
            lambda ev, p=p: _unga_error(ev, p, 1999, 2015),
            0.1,
            above=False,
            years=(1999, 2015),
            unga=True,
        )
        for p in POWERS
    ),
)


def pattern_names() -> list[str]:
    return [p.name for p in PATTERNS]


def _why_not(p: Pattern, sc: Any, years: np.ndarray) -> str:
    if set(POWERS) - set(sc.powers):  # first: no choice of years makes Cambodia's case of another
        return "needs China, Japan and the US"
    if years.min() > p.years[0] or years.max() < p.years[1]:
        return f"needs {p.years[0]}-{p.years[1]}"
    if p.drop:
        titles = {e.title for e in sc.events}
        missing = [t for t in p.drop if t not in titles]
        if len(missing) == len(p.drop):
            return f"needs the event {p.drop[0]!r}"
    if p.unga and (years.min() > CALIBRATION_YEARS[0] or years.max() < CALIBRATION_YEARS[1]):
        return f"needs {CALIBRATION_YEARS[0]}-{CALIBRATION_YEARS[1]} to fit the UN voting map"
    return ""


def evaluate(
    scenario: Any, runs: int | None = None, seed: int | None = None, patterns: tuple[Pattern, ...] = PATTERNS
) -> Report:
    """Run a scenario's ensemble (and the counterfactuals its patterns need) and check each pattern.

    ``runs`` and ``seed`` default to the scenario's. Returns a :class:`Report`.
    """
    from sim.ensemble import run
    from sim.observations import load_unga
    from sim.scenario import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ens = run(sc, runs=runs, seed=seed, progress=False, trajectories=True)  # patterns read runs
    years = years_of(ens.dates)
    reasons = {p.name: _why_not(p, sc, years) for p in patterns}
    unga = umap = None
    if any(p.unga and not reasons[p.name] for p in patterns):
        unga = load_unga()
        umap = fit_unga_map(ens, unga)
    counterfactuals: dict[tuple[str, ...], Any] = {}
    results = []
    for p in patterns:
        if reasons[p.name]:
            results.append(Result(p, False, reason=reasons[p.name]))
            continue
        without = None
        if p.drop:
            present = tuple(e.title for e in sc.events if e.title in p.drop)
            if present not in counterfactuals:
                counterfactuals[present] = run(
                    sc.without_events(*present),
                    runs=ens.runs,
                    seed=ens.seed,
                    progress=False,
                    trajectories=True,
                )
            without = counterfactuals[present]
        v = np.asarray(p.statistic(Evidence(ens, unga, umap, without)), dtype=float)
        mean = float(np.mean(v))
        holds = bool(mean > p.threshold) if p.above else bool(mean < p.threshold)
        lo, hi = np.percentile(v, [5, 95])
        results.append(Result(p, True, mean, float(lo), float(hi), holds, "", v))
    return Report(sc, ens, results, unga, umap)


@dataclass
class Report:
    """The outcome of :func:`evaluate`: one :class:`Result` per pattern, and what they were read from."""

    scenario: Any
    ensemble: Any
    results: list[Result]
    unga: Any = None
    umap: Any = None

    def table(self):
        """A DataFrame: pattern, expected, measured (mean over runs), low and high (5th-95th
        percentile of runs), holds (None when not applicable), known_failure, source, note."""
        import pandas as pd

        return pd.DataFrame([r.row() for r in self.results])

    def manifest(self, command: str = "") -> str:
        """What repeats the check, as JSON: the scenario file and its sha256, the overrides, seed,
        runs, the UN voting map, the command."""
        import json
        from importlib.metadata import version

        ens, sc = self.ensemble, self.scenario
        umap = None if self.umap is None else {"intercept": self.umap.intercept, "slope": self.umap.slope}
        return json.dumps(
            {
                "scenario": sc.source,
                "sha256": sc.sha256,
                "overrides": sc.overrides,
                "seed": ens.seed,
                "runs": ens.runs,
                "dates": [ens.dates[0], ens.dates[-1]],
                "unga_map": umap,
                "hedgesim": version("hedgesim"),
                "command": command,
            },
            indent=2,
        )

    def result(self, name: str) -> Result:
        return next(r for r in self.results if r.pattern.name == name)

    @property
    def failing(self) -> list[str]:
        return [r.pattern.name for r in self.results if r.applies and not r.holds]

    def text(self) -> str:
        """The table as aligned text for the terminal."""
        lines = [f"{'pattern':42} {'expected':>9} {'measured [90% of runs]':>30}  holds"]
        for r in self.results:
            name = r.pattern.name + (" (known failure)" if r.pattern.known_failure else "")
            if not r.applies:
                lines.append(f"{name:42} {r.pattern.expected:>9} {'':>30}  n/a ({r.reason})")
                continue
            measured = f"{r.mean:.3g} [{r.low:.3g}, {r.high:.3g}]"
            lines.append(f"{name:42} {r.pattern.expected:>9} {measured:>30}  {'yes' if r.holds else 'NO'}")
        applied = [r for r in self.results if r.applies]
        held = sum(bool(r.holds) for r in applied)
        lines.append(f"{held} of {len(applied)} applicable patterns hold")
        if self.umap is not None:
            lines.append(
                f"UN voting map (fitted {CALIBRATION_YEARS[0]}-{CALIBRATION_YEARS[1]}): agreement = "
                f"{self.umap.intercept:.3f} + {self.umap.slope:.3f} x diplomatic share "
                f"(residual error {self.umap.rmse:.3f}, {self.umap.n} points)"
            )
        return "\n".join(lines)
