"""Dates on the model's quarterly calendar, and quantities that may be uncertain.

A scenario value is either a fixed number or a distribution drawn once per run, so that an ensemble
carries the scenario's uncertainty and not only the model's noise (Marchau et al. 2019, *Decision
Making under Deep Uncertainty*, ch. 1). Three forms are accepted in TOML::

    inertia = 0.2                                    # fixed
    inertia = { low = 0.1, high = 0.3 }              # uniform on [low, high]
    inertia = { mean = 0.2, sd = 0.05 }              # normal, clipped to the valid range
    inertia = { low = 0.1, mode = 0.2, high = 0.4 }  # triangular
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

if TYPE_CHECKING:
    import numpy as np

    from sim.noise import Streams

# --------------------------------------------------------------------------------------------
# Dates: an integer count of quarters since year 0, written "2023Q3"; "2023-07" maps to its quarter.

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_date(text: object) -> int:
    """Turn "2023Q3" (or the month "2023-07") into a quarter index; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f'expected a date like "2023Q3" or "2023-07", found {found(text)}')
    return _parse_date(text)


@functools.lru_cache(maxsize=4096)
def _parse_date(text: str) -> int:
    """:func:`parse_date` of a string, remembered: every model parses its scenario's dates again."""
    s = text.strip()
    if m := _QUARTER.match(s):
        return int(m[1]) * 4 + int(m[2]) - 1
    if (m := _MONTH.match(s)) and 1 <= int(m[2]) <= 12:
        return int(m[1]) * 4 + (int(m[2]) - 1) // 3
    raise ValueError(f'expected a date like "2023Q3" or "2023-07", found {found(text)}')


def format_date(quarter: int) -> str:
    """The inverse of :func:`parse_date`: 8095 -> "2023Q4"; years before 1000 keep four digits ("0999Q1")."""
    return f"{quarter // 4:04d}Q{quarter % 4 + 1}"


def _date(value: object) -> str:
    parse_date(value)  # validate, keep the text as written
    return value.strip()  # type: ignore[union-attr]


Date = Annotated[
    str,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}(Q[1-4]|-(0[1-9]|1[0-2]))$"}),
]

# --------------------------------------------------------------------------------------------
# Uncertain quantities


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True)
class Dist:
    """A distribution drawn once per run: uniform, normal (clipped to ``bounds``) or triangular."""

    form: str  # "uniform" | "normal" | "triangular"
    a: float  # low, or mean
    b: float  # high, or sd
    c: float | None = None  # mode (triangular only; None otherwise, so equal forms compare equal)
    bounds: tuple[float, float] = (-math.inf, math.inf)

    @property
    def mean(self) -> float:
        """The distribution's mean (before clipping), used where one representative value is needed."""
        if self.form == "uniform":
            return (self.a + self.b) / 2
        if self.form == "normal":
            return self.a
        return (self.a + self.b + self.c) / 3  # type: ignore[operator]

    def draw(self, streams: Streams, key: str) -> np.ndarray:
        """One value per run from the stream named ``key`` (so run k's value never depends on the batch)."""
        import numpy as np

        if self.form == "uniform":
            return self.a + (self.b - self.a) * streams.uniform(key)
        if self.form == "normal":
            return np.clip(self.a + self.b * streams.normal(key), *self.bounds)
        lo, hi, mode = self.a, self.b, self.c  # triangular, by its inverse CDF
        u = streams.uniform(key)
        f = (mode - lo) / (hi - lo) if hi > lo else 0.5
        left = lo + np.sqrt(u * (hi - lo) * (mode - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode))
        return np.where(u < f, left, right)

    def to_toml(self) -> dict[str, float]:
        if self.form == "uniform":
            return {"low": self.a, "high": self.b}
        if self.form == "normal":
            return {"mean": self.a, "sd": self.b}
        return {"low": self.a, "mode": self.c, "high": self.b}

    def __str__(self) -> str:
        body = ", ".join(f"{k}={v:g}" for k, v in self.to_toml().items())
        return f"{self.form}({body})"


def _span(lo: float, hi: float) -> str:
    if hi == math.inf:
        return f"a number >= {lo:g}"
    if lo == -math.inf:
        return f"a number <= {hi:g}"
    return f"a number from {lo:g} to {hi:g}"


def found(v: object) -> str:
    """How a value found in a file is shown in an error message."""
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, bool):
        return f"{str(v).lower()} (a boolean)"
    if isinstance(v, str):
        return f'"{v}" (text)' if len(v) < 40 else f'"{v[:37]}..." (text)'
    if isinstance(v, int) and abs(v) >= 10**40:
        return f"a {len(str(abs(v)))}-digit number"
    return repr(v)


def _number(v: object, lo: float, hi: float) -> float:
    if not _is_number(v):
        raise ValueError(f"expected {_span(lo, hi)}, found {found(v)}")
    try:
        x = float(v)  # type: ignore[arg-type]
    except OverflowError:  # an integer of hundreds of digits
        raise ValueError(f"expected {_span(lo, hi)}, found {found(v)}") from None
    if not math.isfinite(x):
        raise ValueError(f"expected a finite number, found {x}")
    if not lo <= x <= hi:
        raise ValueError(f"expected {_span(lo, hi)}, found {x:g}")
    return x


_FORMS = {
    frozenset({"low", "high"}): "uniform",
    frozenset({"mean", "sd"}): "normal",
    frozenset({"low", "mode", "high"}): "triangular",
}


def _uncertain(v: object, lo: float, hi: float) -> float | Dist:
    if not isinstance(v, dict):
        return _number(v, lo, hi)
    form = _FORMS.get(frozenset(v))
    if form is None:
        raise ValueError(
            "expected a number or a distribution {low, high} | {mean, sd} | {low, mode, high}, "
            f"found keys {sorted(v)}"
        )
    if form == "normal":
        mean, sd = _number(v["mean"], lo, hi), _number(v["sd"], 0, math.inf)
        return Dist("normal", mean, sd, bounds=(lo, hi))
    low, high = _number(v["low"], lo, hi), _number(v["high"], lo, hi)
    if low > high:
        raise ValueError(f"expected low <= high, found low={low:g}, high={high:g}")
    if form == "uniform":
        return Dist("uniform", low, high)
    mode = _number(v["mode"], lo, hi)
    if not low <= mode <= high:
        raise ValueError(f"expected low <= mode <= high, found {low:g}, {mode:g}, {high:g}")
    return Dist("triangular", low, high, mode)


def _schema(lo: float, hi: float) -> dict[str, Any]:
    num: dict[str, Any] = {"type": "number"}
    if lo > -math.inf:
        num["minimum"] = lo
    if hi < math.inf:
        num["maximum"] = hi

    def obj(*keys: str) -> dict[str, Any]:
        props = {k: dict(num) for k in keys}
        if "sd" in props:
            props["sd"] = {"type": "number", "minimum": 0}
        return {"type": "object", "properties": props, "required": list(keys), "additionalProperties": False}

    return {"anyOf": [num, obj("low", "high"), obj("mean", "sd"), obj("low", "mode", "high")]}


def Number(lo: float = -math.inf, hi: float = math.inf) -> Any:  # noqa: N802 (a type factory)
    """A fixed finite number in [lo, hi] (booleans and text are refused)."""
    return Annotated[
        float, BeforeValidator(lambda v: _number(v, lo, hi)), WithJsonSchema(_schema(lo, hi)["anyOf"][0])
    ]


def Uncertain(lo: float = -math.inf, hi: float = math.inf) -> Any:  # noqa: N802 (a type factory)
    """A number in [lo, hi], or a distribution over it drawn once per run."""
    return Annotated[Any, BeforeValidator(lambda v: _uncertain(v, lo, hi)), WithJsonSchema(_schema(lo, hi))]


def resolve(value: float | Dist, streams: Streams, key: str) -> float | np.ndarray:
    """A fixed value as it is; a distribution drawn per run from the stream ``key``."""
    return value.draw(streams, key) if isinstance(value, Dist) else value


def to_toml_value(value: float | Dist) -> float | dict[str, float]:
    return value.to_toml() if isinstance(value, Dist) else value
