"""Shared fixtures. Tests never write into the repository: outputs go to tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def csp2023():
    import sim

    return sim.load_scenario(SCENARIOS / "csp2023.toml")
