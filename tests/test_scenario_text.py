"""Text from a scenario (titles, names, sources) reaches figures and files as written: never as
markup, never as mathtext, never stopping a run."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sim.cli import main

from .conftest import HOSTILE


@pytest.mark.slow
def test_run_and_compare_draw_hostile_text_as_written(tmp_path):
    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE)
    res = CliRunner().invoke(main, ["run", str(path), "--runs", "8", "--out", str(tmp_path / "run"), "-q"])
    assert res.exit_code == 0, res.output  # a title with "$\frac{1$" stopped the figures (mathtext)
    svg = (tmp_path / "run" / "figures" / "influence.svg").read_text()
    assert "cost $\\frac{1$ of aid" in svg  # the event's title, as written
    assert "&lt;img src=x onerror=" in svg and "<img" not in svg and "<script" not in svg
    res = CliRunner().invoke(
        main, ["compare", str(path), str(path), "--runs", "8", "--out", str(tmp_path / "cmp"), "-q"]
    )
    assert res.exit_code == 0, res.output
    svg = (tmp_path / "cmp" / "figures" / "influence.svg").read_text()
    assert "cost $\\frac{1$ of aid" in svg and "<script" not in svg
