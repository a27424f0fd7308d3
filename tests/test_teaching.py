"""The answer keys of docs/teaching.md still hold: each exercise's ``<!-- check: ... -->`` comments
are evaluated against the model, run as the exercise says (the scenarios' own seeds and runs).

A check is a Python expression over the helpers below, e.g.
``d("no_csp", "csp2023", "japan.influence")["mean"]``: a row of the difference table of
``hedgesim compare scenarios/no_csp.toml scenarios/csp2023.toml``; or
``explained("no_csp", "csp2023", "japan.influence", "trust")``: a cell of the table of
``sim.explain`` for the same pair.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest

import sim

from .conftest import ROOT, SCENARIOS

pytestmark = (
    pytest.mark.slow
)  # every exercise's ensembles: the whole suite runs them, the fast part on other Pythons does not

TEXT = (ROOT / "docs" / "teaching.md").read_text()
EXERCISES = re.split(r"^### (?=Exercise \d+)", TEXT, flags=re.M)[1:]


@cache
def scenario(name: str, **overrides):
    return sim.load_scenario(SCENARIOS / f"{name}.toml").with_overrides(overrides)


@cache
def _compare(
    a: str, b: str, runs: int | None, seed: int | None, overrides: tuple, decisions: str | None = None
) -> sim.Comparison:
    both = {"scenario.decisions": decisions} if decisions else {}
    return sim.compare([scenario(a, **both), scenario(b, **dict(overrides), **both)], runs=runs, seed=seed)


def d(a, b, variable, at=None, runs=None, seed=None, decisions=None, **overrides) -> dict:
    """The difference table's row for ``variable``: scenario b (with overrides) against a.

    ``decisions`` ("historical", "strategic", "both") is set in both scenarios."""
    comp = _compare(a, b, runs, seed, tuple(sorted(overrides.items())), decisions)
    table = comp.differences(at=[at] if at else None)
    return table.set_index("variable").loc[variable].to_dict()


@cache
def _explain(a: str, b: str):
    return sim.explain(scenario(a), scenario(b)).table


def explained(a, b, variable, part) -> float:
    """One cell of the table of ``explain(a, b)``: ``part`` is "total", a channel ("trust", ...),
    "interaction" or "not carried"."""
    return float(_explain(a, b).loc[variable, part])


@cache
def ensemble(name: str):
    return sim.run(scenario(name))


def dates(name) -> list[str]:
    return ensemble(name).dates


def median_path(name, variable) -> np.ndarray:
    return np.median(ensemble(name).values(variable), axis=0)


def median(name, variable, date=None) -> float:
    ens = ensemble(name)
    return float(median_path(name, variable)[ens.dates.index(date) if date else -1])


def leads_throughout(name, prefix, power, suffix="") -> bool:
    """The power's median is the largest of all powers' at every date."""
    sc = scenario(name)
    paths = {p: median_path(name, f"{prefix}{p}{suffix}") for p in sc.powers}
    others = np.max([v for p, v in paths.items() if p != power], axis=0)
    return bool((paths[power] > others).all())


def share_leading_every_date(name, power) -> float:
    """Share of runs in which the power has the largest alignment share at every date."""
    sc, ens = scenario(name), ensemble(name)
    own = ens.values(f"{sc.small}.alignment.{power}")
    rest = np.max([ens.values(f"{sc.small}.alignment.{p}") for p in sc.powers if p != power], axis=0)
    return float(np.mean((own > rest).all(axis=1)))


# exercise 7 follows notebook 03: 300 runs, seed 1 (paired) against seeds 1 and 2 (independent)
def paired_sd(a, b, variable) -> float:
    return float(_compare(a, b, 300, 1, ()).paired(variable).std(ddof=1))


@cache
def _independent(a, b, variable) -> np.ndarray:
    return sim.run(scenario(b), runs=300, seed=2).final(variable) - sim.run(
        scenario(a), runs=300, seed=1
    ).final(variable)


def independent_sd(a, b, variable) -> float:
    return float(_independent(a, b, variable).std(ddof=1))


def independent_share_lower(a, b, variable) -> float:
    return float(np.mean(_independent(a, b, variable) < 0))


@cache
def _checked(name: str):
    from sim.patterns import evaluate

    return evaluate(scenario(name))


def pattern(name, which):
    """A row of ``hedgesim check scenarios/<name>.toml`` (sim.patterns): .holds, .mean, .low, .high."""
    return _checked(name).result(which)


HELPERS = {k: v for k, v in globals().items() if callable(v) and not k.startswith("_")}


def test_the_guide_has_at_least_five_complete_exercises():
    assert len(EXERCISES) >= 9
    for ex in EXERCISES:
        title = ex.splitlines()[0]
        for part in ("**Question.**", "**Run.**", "**Look for.**", "**Answer key.**"):
            assert part in ex, f"{title}: no {part}"
        assert re.search(r"<!-- check: .+ -->", ex), f"{title}: its answer key has no check"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda ex: ex.split(":")[0].replace(" ", "_"))
def test_answer_key_holds(exercise):
    checks = re.findall(r"<!-- check: (.+?) -->", exercise)
    failed = [c for c in checks if not eval(c, {"np": np, **HELPERS})]  # noqa: S307 (the repository's own text)
    assert not failed, f"{exercise.splitlines()[0]}: these stated answers no longer hold: {failed}"


def test_a_false_answer_is_caught():
    """The helpers give numbers, not always-true values: the opposite of exercise 1's key fails."""
    env = {"np": np, **HELPERS}
    assert not eval('d("no_csp", "csp2023", "japan.influence")["higher"] == 0', env)  # noqa: S307
    assert not eval('leads_throughout("history_2010", "cambodia.alignment.", "us")', env)  # noqa: S307
    assert not eval('abs(explained("no_csp", "csp2023", "japan.influence", "aid_credibility")) < 0.001', env)  # noqa: S307
    assert not eval('d("no_csp", "csp2023", "china.aid")["mean"] == 0', env)  # noqa: S307
