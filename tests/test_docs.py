"""The documents' tables of outputs are generated from the one declaration of outputs.

``sim.reporters.REPORTERS`` declares every output once (name pattern, rows, meaning). README.md and
docs/ODD.md each carry that table between two marker comments; this test fails when a reporter is
added, renamed or reworded and the documents were not regenerated. To regenerate them:

    .venv/bin/python tests/test_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/ODD.md")
BEGIN = "<!-- begin outputs: generated from sim.reporters.REPORTERS by tests/test_docs.py, do not edit -->"
END = "<!-- end outputs -->"
ROWS = {
    "power": "one per great power",
    "dimension": "one per dimension and great power",
    "small": "one",
    "dyad": "one per pair of actors",
}


def outputs_table() -> str:
    """The Markdown table of every output family, in the order of the record."""
    from sim.reporters import REPORTERS

    lines = ["| Output | Rows | Meaning |", "|---|---|---|"]
    for r in REPORTERS:
        name = re.sub(r"\{(\w+)\}", r"<\1>", r.pattern)
        lines.append(f"| `{name}` | {ROWS[r.family]} | {r.meaning} |")
    return "\n".join(lines)


def _section(text: str) -> str | None:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN) : end].strip("\n")


@pytest.mark.parametrize("doc", DOCS)
def test_outputs_table_matches_reporters(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    found = _section(text)
    assert found is not None, f"{doc}: no generated outputs table (markers missing)"
    assert found == outputs_table(), f"{doc}: outputs table differs from REPORTERS; run tests/test_docs.py"


def test_every_reporter_family_is_described():
    from sim.reporters import REPORTERS

    assert {r.family for r in REPORTERS} <= set(ROWS)


def rewrite() -> None:
    """Write the generated table between the markers of each document."""
    for doc in DOCS:
        path = ROOT / doc
        text = path.read_text(encoding="utf-8")
        start, end = text.find(BEGIN), text.find(END)
        if start < 0 or end < start:
            sys.exit(f"{doc}: markers not found")
        text = text[: start + len(BEGIN)] + "\n" + outputs_table() + "\n" + text[end:]
        path.write_text(text, encoding="utf-8")
        print(f"{doc}: outputs table written")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    rewrite()
