"""Observed data on Cambodia's hedging, read into tidy, checked DataFrames.

The files live in the repository's ``data/`` folder, each with a README of its source, licence and
derivation:

- ``data/unga/cambodia_unga_agreement.csv``: Cambodia's yearly UN General Assembly voting
  agreement with China, Japan and the US (Voeten, Strezhnev and Bailey's data, CC0), read by
  :func:`load_unga`.
- ``data/<dataset>/observations.csv``: dated observations in one shared layout (below), read by
  :func:`load_observations`; ``data/case/observations.csv`` holds every number of the case file
  and is read by :func:`load_case_observations`.

The data folder is found next to the ``sim`` package (the repository root, where the package is
installed from, editable or not), or wherever the environment variable ``HEDGESIM_DATA`` points.

Observation layout, one row per number:

=================  =====================================================================
column             meaning
=================  =====================================================================
indicator          what is measured, snake_case (``fdi_approved_share``)
partner            ``china``, ``japan``, ``us``, ``all``, or a ``+``-joined group
start, end         the period covered: ``2018``, ``2023-07`` or ``2023Q3``; start <= end
value              the number as the source states it (NaN when only a bound is given)
value_low          lower bound, for ``over`` and ``range``
value_high         upper bound, for ``under`` and ``range``
qualifier          ``equal``, ``about``, ``over``, ``under`` or ``range``
unit               ``percent``, ``usd_bn``, ``usd_m``, ... (``percent`` values lie in 0..100)
confidence         ``high``, ``medium`` or ``low`` (each README gives its rule)
source             the citation, a URL where there is one
=================  =====================================================================

Other columns of a file (``case_row``, ``reporter``, ``as_written``, ``note``) are kept as text.
The loader adds ``year``, the calendar year in which the period ends. A source may report a
quantity for a period once in each unit; two sources may both report it (their figures often
differ).

A bad file stops loading with an :class:`ObservationError`, one line naming the file, its line and
the column: the project's rule for user input (``design/style.md``, point 4).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd

from sim.errors import HedgesimError

#: Environment variable naming a data folder to use instead of the repository's ``data/``.
DATA_ENV = "HEDGESIM_DATA"

UNGA_FILE = Path("unga") / "cambodia_unga_agreement.csv"
CASE_FILE = Path("case") / "observations.csv"

UNGA_COLUMNS = ("year", "partner", "issue", "votes", "agreement")
UNGA_PARTNERS = ("china", "japan", "us")
UNGA_ISSUES = ("all", "human_rights", "security", "economic", "important")

OBSERVATION_COLUMNS = (
    "indicator",
    "partner",
    "start",
    "end",
    "value",
    "value_low",
    "value_high",
    "qualifier",
    "unit",
    "confidence",
    "source",
)
QUALIFIERS = ("equal", "about", "over", "under", "range")
CONFIDENCES = ("high", "medium", "low")

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PARTNER = re.compile(r"[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*")
_PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))?")
_CASE_ROW = re.compile(r"N\d+|T\d{4}-\d{2}(/\d{2})?")


class ObservationError(HedgesimError):
    """A data file that cannot be used: ``FILE:LINE: COLUMN: PROBLEM`` on one line."""

    def __init__(self, source: Path | str, problem: str, line: int | None = None, column: str | None = None):
        self.source, self.problem, self.line, self.column = str(source), problem, line, column
        where = f"{source}:{line}" if line else str(source)
        super().__init__(f"{where}: {column}: {problem}" if column else f"{where}: {problem}")


def data_dir() -> Path:
    """The folder holding the observed data: ``$HEDGESIM_DATA`` if set, else the repository's ``data/``."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def load_unga(path: Path | str | None = None) -> pd.DataFrame:
    """Cambodia's UN General Assembly voting agreement with China, Japan and the US, by year and issue.

    Columns: ``year`` (int), ``partner`` (``china``, ``japan``, ``us``), ``issue`` (``all``,
    ``human_rights``, ``security``, ``economic``, ``important``), ``votes`` (int > 0, roll calls in
    which both voted) and ``agreement`` (float in [0, 1], the share of those cast alike). One row
    per (year, partner, issue). Source: Voeten, Strezhnev and Bailey, hdl:1902.1/12379 (CC0); see
    ``data/unga/README.md``.
    """
    path = Path(path) if path is not None else _default(UNGA_FILE)
    raw = _read(path, UNGA_COLUMNS)
    rows = []
    for i, r in raw.iterrows():
        line = _line(i)
        partner = _choice(path, line, "partner", r["partner"], UNGA_PARTNERS)
        issue = _choice(path, line, "issue", r["issue"], UNGA_ISSUES)
        year = _integer(path, line, "year", r["year"], low=1946)
        votes = _integer(path, line, "votes", r["votes"], low=1)
        agreement = _number(path, line, "agreement", r["agreement"])
        if not 0.0 <= agreement <= 1.0:
            raise ObservationError(path, f"{agreement:g} is not a share in [0, 1]", line, "agreement")
        rows.append((year, partner, issue, votes, agreement))
    df = pd.DataFrame(rows, columns=list(UNGA_COLUMNS))
    _no_duplicates(path, df, ["year", "partner", "issue"])
    return df.astype({"year": "int64", "votes": "int64", "agreement": "float64"})


def load_observations(path: Path | str | None = None) -> pd.DataFrame:
    """Dated observations in the shared layout (module docstring), checked row by row.

    With ``path``, that one file. Without, every ``data/<dataset>/observations.csv``, stacked, with
    a ``dataset`` column naming the folder each row came from.
    """
    if path is not None:
        return _load_observation_file(Path(path))
    root = data_dir()
    files = sorted(root.glob("*/observations.csv"))
    if not files:
        raise ObservationError(root, f"no */observations.csv here (set {DATA_ENV} to the data folder)")
    frames = [_load_observation_file(f).assign(dataset=f.parent.name) for f in files]
    return pd.concat(frames, ignore_index=True)


def load_case_observations(path: Path | str | None = None) -> pd.DataFrame:
    """Every number of the case file (``shared/case/cambodia.md``) as a dated observation.

    The shared layout plus ``case_row`` (``N2``..``N14`` for the table "Numbers", ``T`` and the
    date for a timeline row), ``as_written`` (the case file's words) and ``note``. See
    ``data/case/README.md``.
    """
    path = Path(path) if path is not None else _default(CASE_FILE)
    df = _load_observation_file(path, extra=("case_row",))
    for i, row in df.iterrows():
        if not _CASE_ROW.fullmatch(row["case_row"]):
            raise ObservationError(
                path, f"{row['case_row']!r} is not a case row (N12, T2016-07)", _line(i), "case_row"
            )
    return df


def _load_observation_file(path: Path, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    raw = _read(path, OBSERVATION_COLUMNS + extra)
    out = raw.copy()
    for col in ("value", "value_low", "value_high"):
        out[col] = float("nan")
    out["year"] = 0
    for i, r in raw.iterrows():
        line = _line(i)
        for col in ("indicator", "unit"):
            _pattern(path, line, col, r[col], _NAME, "snake_case")
        _pattern(path, line, "partner", r["partner"], _PARTNER, "snake_case names joined by +")
        if not r["source"].strip():
            raise ObservationError(path, "every observation needs its source", line, "source")
        _choice(path, line, "confidence", r["confidence"], CONFIDENCES)
        qualifier = _choice(path, line, "qualifier", r["qualifier"], QUALIFIERS)
        first, _ = _period(path, line, "start", r["start"])
        _, last = _period(path, line, "end", r["end"])
        if first > last:
            raise ObservationError(
                path, f"the period {r['start']}..{r['end']} ends before it starts", line, "end"
            )
        values = {c: _optional_number(path, line, c, r[c]) for c in ("value", "value_low", "value_high")}
        _check_values(path, line, qualifier, r["unit"], values)
        for col, v in values.items():
            out.at[i, col] = v
        out.at[i, "year"] = last[0]
    df = out.astype({"value": "float64", "value_low": "float64", "value_high": "float64", "year": "int64"})
    # Two sources may report the same quantity (Cambodia's and China's trade figures differ), and
    # one source may give it in two units (yen and dollars); not twice in the same unit.
    _no_duplicates(path, df, ["indicator", "partner", "start", "end", "unit", "source", *extra])
    return df


def _check_values(path: Path, line: int, qualifier: str, unit: str, v: dict[str, float]) -> None:
    """Which value columns a qualifier needs, and percentages within 0..100."""
    needs = {
        "equal": ("value",),
        "about": ("value",),
        "over": ("value_low",),
        "under": ("value_high",),
        "range": ("value_low", "value_high"),
    }[qualifier]
    for col in needs:
        if math.isnan(v[col]):
            raise ObservationError(path, f"empty, and qualifier {qualifier!r} needs it", line, col)
    for col in ("value_low", "value_high"):
        if col not in needs and not math.isnan(v[col]):
            raise ObservationError(path, f"set, but qualifier {qualifier!r} takes no {col}", line, col)
    if qualifier == "range" and not v["value_low"] < v["value_high"]:
        raise ObservationError(path, "value_low is not below value_high", line, "value_high")
    if unit == "percent":
        for col, x in v.items():
            if not math.isnan(x) and not 0.0 <= x <= 100.0:
                raise ObservationError(path, f"{x:g} percent is outside 0..100", line, col)


def _default(relative: Path) -> Path:
    return data_dir() / relative


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise ObservationError(path, f"no such file (set {DATA_ENV} to the data folder)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        problem = " ".join(str(e).split())
        raise ObservationError(path, f"not a readable CSV file: {problem}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ObservationError(path, f"missing column(s) {', '.join(missing)}", 1)
    return df


def _line(index: int) -> int:
    """The file line of a data row (line 1 is the header; values never span lines)."""
    return int(index) + 2


def _choice(path: Path, line: int, column: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise ObservationError(path, f"{text!r} is not one of {', '.join(allowed)}", line, column)
    return text


def _pattern(path: Path, line: int, column: str, text: str, pattern: re.Pattern, what: str) -> None:
    if not pattern.fullmatch(text):
        raise ObservationError(path, f"{text!r} is not {what}", line, column)


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ObservationError(path, f"{text!r} is not a number", line, column) from None
    if not math.isfinite(x):
        raise ObservationError(path, f"{text!r} is not a finite number", line, column)
    return x


def _optional_number(path: Path, line: int, column: str, text: str) -> float:
    return float("nan") if text.strip() == "" else _number(path, line, column, text)


def _integer(path: Path, line: int, column: str, text: str, low: int) -> int:
    if not re.fullmatch(r"\d+", text) or int(text) < low:
        raise ObservationError(path, f"{text!r} is not a whole number >= {low}", line, column)
    return int(text)


def _period(path: Path, line: int, column: str, text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """First and last (year, month) of a period written ``2018``, ``2023-07`` or ``2023Q3``."""
    m = _PERIOD.fullmatch(text)
    if not m:
        raise ObservationError(path, f"{text!r} is not a period (2018, 2023-07 or 2023Q3)", line, column)
    year = int(m["year"])
    if m["month"]:
        month = int(m["month"])
        return (year, month), (year, month)
    if m["quarter"]:
        q = int(m["quarter"])
        return (year, 3 * q - 2), (year, 3 * q)
    return (year, 1), (year, 12)


def _no_duplicates(path: Path, df: pd.DataFrame, key: list[str]) -> None:
    dup = df.duplicated(subset=key, keep="first")
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        what = ", ".join(f"{k}={df.iloc[i][k]}" for k in key)
        raise ObservationError(path, f"repeats an earlier row ({what})", _line(i))
