"""The tutorials in notebooks/ run from top to bottom, within a minute each, and are stored clean.

They are executed in a temporary folder (the working directory of the kernel), so they find their
scenarios through the API (sim.bundled_scenarios) and write nothing into the repository.
"""

from __future__ import annotations

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_tutorials_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_what_did_the_partnership_change.ipynb",
        "02_build_your_own_scenario.ipynb",
        "03_uncertainty_and_seeds.ipynb",
        "04_is_the_model_right.ipynb",
        "05_what_drives_the_result.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temporary files land in tmp_path too
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was shown"
    assert not [o for o in outputs if o.get("name") == "stderr"], "a warning reached the reader"
    assert list(ROOT.glob("notebooks/*.png")) == []
