"""Stored numbers: a small ensemble whose summary must not change by accident.

csp2023, 20 runs, seed 4242: the mean and the median of every output at four dates, kept in
tests/data/regression_csp2023.csv. Any change to an equation, a default, the noise or the order of
the streams moves some of these numbers and fails this test; a change made on purpose rewrites the
file (``python -m tests.test_regression``) in the same commit, with the reason in its message.
No library maths function enters the numbers (the model's exp, log and sine are its own), so on
this project's machines they are the same bits; the tolerance (1e-9) allows for another numpy
build whose sums round in another order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import sim

from .conftest import SCENARIOS

STORED = Path(__file__).parent / "data" / "regression_csp2023.csv"
DATES = ("2020Q1", "2022Q4", "2024Q1", "2026Q4")


def summary() -> pd.DataFrame:
    ens = sim.run(sim.load_scenario(SCENARIOS / "csp2023.toml"), runs=20, seed=4242)
    df = ens.summary()
    return df[df["date"].isin(DATES)][["date", "variable", "mean", "p50"]].reset_index(drop=True)


def test_the_summary_matches_the_stored_numbers():
    stored = pd.read_csv(STORED)
    now = summary()
    assert list(now["variable"]) == list(stored["variable"]), (
        "the outputs changed: rewrite the file on purpose"
    )
    assert list(now["date"]) == list(stored["date"])
    for col in ("mean", "p50"):
        bad = ~np.isclose(now[col], stored[col], rtol=1e-9, atol=1e-9)
        assert not bad.any(), now[bad].assign(stored=stored[col][bad]).head().to_string()


if __name__ == "__main__":  # pragma: no cover
    summary().to_csv(STORED, index=False, float_format="%.12g")
    print(f"wrote {STORED}")
