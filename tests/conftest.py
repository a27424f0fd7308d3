"""Shared fixtures. Tests never write into the repository: outputs go to tmp_path."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip themselves without Hypothesis
    settings = None

if settings is not None:
    # Hypothesis keeps caches (unicode data, constants) in .hypothesis/ of the working folder;
    # tests never write into the repository, so they go to the temporary folder instead.
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(
        os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or Path(tempfile.gettempdir()) / "hedgesim-hypothesis"
    )
    # Property tests (tests/test_properties.py): a fixed, small budget in CI, the same examples on
    # every run (derandomize); a longer search on demand: HYPOTHESIS_PROFILE=long make test.
    _slow = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=20,
        derandomize=True,
        deadline=None,
        suppress_health_check=_slow,
        print_blob=True,
        database=None,
    )
    settings.register_profile(
        "long", max_examples=500, deadline=None, suppress_health_check=_slow, print_blob=True, database=None
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def csp2023():
    import sim

    return sim.load_scenario(SCENARIOS / "csp2023.toml")


#: A small scenario for mechanism tests: two powers ("red", "blue") and a small state ("isle"),
#: no events unless a test adds them. Numbers are round so that effects are easy to read.
TOY = """
[scenario]
name = "toy"
title = "Toy: an island between two powers"
start = "2000Q1"
end = "2005Q4"
runs = 50
seed = 7

[actors.isle]
role = "small_state"
name = "Isle"
alignment = { red = 0.5, blue = 0.5 }
dependence = { red = 0.5, blue = 0.5 }
tier = { red = 2, blue = 2 }
regime_pressure = 0.3

[actors.red]
role = "great_power"
name = "Red"
budget = 100.0
interest = 0.8
conditionality = 0.5
presence = 0.1
influence = 0.3

[actors.blue]
role = "great_power"
name = "Blue"
budget = 100.0
interest = 0.8
conditionality = 0.0
presence = 0.1
influence = 0.3

[tension]
default = 0.2
"""


@pytest.fixture
def toy(tmp_path):
    """Write the toy scenario (plus extra TOML appended) to a file and load it."""
    import sim

    def make(extra: str = "", name: str = "toy.toml"):
        path = tmp_path / name
        path.write_text(TOY + extra)
        return sim.load_scenario(path)

    return make


#: The toy scenario with script in every text a scenario can show: title, description, actor
#: names, event titles and sources. A page that runs any of it sets ``window.__xss``.
HOSTILE = (
    TOY.replace(
        'title = "Toy: an island between two powers"', "title = '<img src=x onerror=\"window.__xss=1\">'"
    )
    .replace('name = "toy"', 'name = "hostile"\ndescription = "<script>window.__xss=2</script>"')
    .replace('name = "Isle"', "name = '<svg onload=\"window.__xss=3\">Isle'")
    .replace('name = "Red"', "name = '</text><script>window.__xss=4</script>Red'")
    + """
[[events]]
kind = "aid"
power = "red"
date = "2001Q1"
title = '<img src=x onerror="window.__xss=5">'
source = "javascript:window.__xss=6"
scale = 1.5

[[events]]
kind = "criticism"
power = "blue"
date = "2001Q1"
title = "cost $\\\\frac{1$ of aid"
source = 'https://example.org/?q="><script>window.__xss=7</script>'
"""
)


# ---- what holds in every run, at every step, for any valid scenario ----------------------------


def share_groups(variables: list[str]) -> dict[str, list[str]]:
    """Share variables by group: every name with ``.alignment.`` or ``.dependence.`` in it, grouped
    by what precedes its last part (``isle.alignment.red`` -> ``isle.alignment``; with alignment by
    dimension, ``isle.alignment.security.red`` -> ``isle.alignment.security``)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for v in variables:
        if ".alignment." in v or ".dependence." in v:
            groups[v.rsplit(".", 1)[0]].append(v)
    return dict(groups)


def check_invariants(ens: Any) -> None:
    """What holds for every run, at every step, for any valid scenario."""
    data = ens.data
    assert np.all(np.isfinite(data)), [
        v for v, x in zip(ens.variables, data, strict=True) if not np.isfinite(x).all()
    ]
    groups = share_groups(ens.variables)
    assert groups, "no share variables"
    sc = ens.scenario
    for group, names in groups.items():
        assert len(names) == len(sc.powers), (group, names)
        x = np.stack([ens.values(v) for v in names])
        assert np.all((x >= 0) & (x <= 1)), group
        assert np.allclose(x.sum(axis=0), 1.0, atol=1e-9), (group, float(np.abs(x.sum(axis=0) - 1).max()))
    for v in ens.variables:
        x = ens.values(v)
        if v.endswith(".aid"):
            assert np.all(x >= 0), v
        elif v.endswith(".tier"):
            assert np.all(np.isin(x, (1.0, 2.0, 3.0))), v
        else:
            assert np.all((x >= 0) & (x <= 1)), v


@pytest.fixture
def cli():
    """``cli(*args)``: the hedgesim command run in process, its exceptions raised (not caught)."""
    from click.testing import CliRunner

    from sim.cli import main

    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *words: str) -> None:
    """The project's rule for bad input: exit code 2, one line on stderr holding ``words``, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], lines[0]
