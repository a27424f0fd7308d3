"""Every scalar of a scenario, named as ``--set`` names it, with its valid range and its value.

One list (:func:`parameters`) is the vocabulary of ``hedgesim parameters``, ``sweep`` and
``sensitivity``: ``inertia`` (a mechanism parameter; ``parameters.inertia`` also works),
``actors.japan.budget`` (an actor's value), ``tension.china-united_states`` (a dyad's baseline
tension) and ``events[3].magnitude`` (an event's magnitude, numbered as in the file's
``[[events]]``, from 0). The range of each is the one the scenario file's validation enforces
(:mod:`sim.scenario`, :mod:`sim.events`), read from the same field definitions.

Mechanism parameters and event magnitudes may already be distributions drawn once per run
(:mod:`sim.quantities`); :class:`PerRun` uses that door to give each run a value of its own from a
design (a sweep's sample), so many samples run in one model, without changing the model: the
model resolves a :class:`~sim.quantities.Dist` through its ``draw(streams, key)``, and a
:class:`PerRun` draws by run index. Actor values and tensions are fixed numbers in the model, so a
design over them runs one scenario per sample.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
from pydantic import WithJsonSchema

from sim.errors import HedgesimError
from sim.quantities import Dist

if TYPE_CHECKING:
    from sim.noise import Streams
    from sim.scenario import Scenario


@dataclass(frozen=True)
class Parameter:
    """One scalar of a scenario: its address, value in the scenario, valid range and meaning."""

    name: str  # as --set takes it: "inertia", "actors.japan.budget", "events[3].magnitude"
    value: float | Dist | None  # the scenario's value (a distribution when drawn per run)
    low: float
    high: float
    description: str
    per_run: bool  # can take a value per run (mechanism parameters, event magnitudes)

    @property
    def default(self) -> float | None:
        """One representative number: the value, or a distribution's mean."""
        if isinstance(self.value, Dist):
            return self.value.mean
        return self.value


def _bounds(annotation: Any, metadata: list[Any]) -> tuple[float, float] | None:
    """(minimum, maximum) from a field's JSON-schema metadata, looking inside Optional[...]."""
    for m in metadata:
        if isinstance(m, WithJsonSchema) and m.json_schema:
            s = m.json_schema.get("anyOf", [m.json_schema])[0]
            if s.get("type") == "number":
                return float(s.get("minimum", -math.inf)), float(s.get("maximum", math.inf))
    for arg in get_args(annotation):
        found = _bounds(arg, list(getattr(arg, "__metadata__", ())))
        if found is not None:
            return found
    return None


def _fields(model: Any) -> list[tuple[str, float, float, str]]:
    """(name, low, high, description) of every numeric field of a pydantic model class."""
    out = []
    for name, f in (
        type(model).model_fields.items() if not isinstance(model, type) else model.model_fields.items()
    ):
        b = _bounds(f.annotation, list(f.metadata))
        if b is not None:
            out.append((name, b[0], b[1], f.description or ""))
    return out


def parameters(sc: Scenario) -> list[Parameter]:
    """Every scalar of ``sc`` that a sweep can vary, in the order of ``hedgesim parameters``.

    Left out: the alignment and dependence shares (each table must sum to 1, so one share cannot
    move alone), partnership tiers (a choice of 1, 2 or 3) and the ``[scenario]`` table.
    """
    from sim.scenario import GreatPower, SmallState

    out: list[Parameter] = []
    for name, lo, hi, desc in _fields(sc.parameters):
        out.append(Parameter(name, getattr(sc.parameters, name), lo, hi, desc, True))
    for aid in sorted(sc.actors):
        actor = sc.actors[aid]
        for name, lo, hi, desc in _fields(actor):
            if isinstance(actor, SmallState) and name in ("alignment", "dependence"):
                continue
            value = getattr(actor, name)
            if isinstance(actor, GreatPower) and value is None:
                continue  # an optional value left to its default (aid: budget x interest)
            out.append(Parameter(f"actors.{aid}.{name}", value, lo, hi, desc, False))
    for key in sorted(sc.tension):
        out.append(
            Parameter(f"tension.{key}", sc.tension[key], 0.0, 1.0, "Baseline tension of the dyad.", False)
        )
    for i, ev in enumerate(sc.events):
        bounds = {n: (lo, hi, d) for n, lo, hi, d in _fields(ev)}
        for f in ev.uncertain:
            lo, hi, desc = bounds[f]
            out.append(
                Parameter(f"events[{i}].{f}", getattr(ev, f), lo, hi, f"{ev.title} ({ev.date}): {desc}", True)
            )
    return out


def canonical(name: str) -> str:
    """``parameters.inertia`` -> ``inertia``; other addresses as given."""
    return name.removeprefix("parameters.")


def lookup(sc: Scenario, name: str, label: str = "--param") -> Parameter:
    """The parameter named ``name``, or a one-line error with the closest names."""
    table = {p.name: p for p in parameters(sc)}
    key = canonical(name.strip())
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see: hedgesim parameters SCENARIO"
    raise HedgesimError(f"{sc.source}: {label} {name}: no such parameter{hint}")


@dataclass(frozen=True)
class Range:
    """A parameter's range in a design: LOW..HIGH, with ``levels`` points on a grid."""

    parameter: Parameter
    low: float
    high: float
    levels: int | None = None

    @property
    def name(self) -> str:
        return self.parameter.name


_RANGE = re.compile(r"^(?P<name>[^=]+)=(?P<low>[^:]+):(?P<high>[^:]+)(?::(?P<n>[^:]+))?$")


def parse_range(sc: Scenario, text: str, label: str = "--param") -> Range:
    """``"inertia=0.1:0.4[:5]"`` -> a checked :class:`Range` (one line of error if it is not one)."""
    m = _RANGE.match(text.strip())
    if not m:
        raise HedgesimError(f"{label} {text}: expected NAME=LOW:HIGH or NAME=LOW:HIGH:N")
    p = lookup(sc, m["name"], label)
    try:
        low, high = float(m["low"]), float(m["high"])
    except ValueError:
        raise HedgesimError(f"{label} {text}: LOW and HIGH must be numbers") from None
    n = None
    if m["n"] is not None:
        if not re.fullmatch(r"[0-9]+", m["n"].strip()) or int(m["n"]) < 2:  # ASCII: "²".isdigit()
            raise HedgesimError(f"{label} {text}: N must be a whole number >= 2, found {m['n']!r}")
        n = int(m["n"])
    return checked_range(sc, p, low, high, n, label)


def checked_range(sc: Scenario, p: Parameter, low: float, high: float, n: int | None, label: str) -> Range:
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise HedgesimError(f"{label} {p.name}: expected LOW < HIGH, found {low:g}:{high:g}")
    if low < p.low or high > p.high:
        raise HedgesimError(
            f"{label} {p.name}: {low:g}:{high:g} is outside the valid range {p.low:g}..{p.high:g}"
        )
    return Range(p, low, high, n)


# ---- values per run -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PerRun(Dist):
    """A value for each run of one model, in the order of its runs (a sweep's samples, repeated
    for their replicates).

    Passes as a distribution drawn once per run (:class:`~sim.quantities.Dist`), which is how the
    model already takes values that differ between runs; the draw hands out the values as given
    instead of reading a random stream. A sweep builds one for each chunk of runs it steps.
    """

    form: str = "per-run"
    a: float = 0.0
    b: float = 0.0
    values: np.ndarray = field(default_factory=lambda: np.zeros(1))

    def __eq__(self, other: object) -> bool:  # two designs are the same only when they are one
        return self is other

    __hash__ = object.__hash__

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    def draw(self, streams: Streams, key: str) -> np.ndarray:
        if self.values.shape != streams.runs.shape:
            raise ValueError(f"{key}: {self.values.size} values for {streams.runs.size} runs")
        return self.values

    def to_toml(self) -> dict[str, float]:
        return {"low": float(np.min(self.values)), "high": float(np.max(self.values))}


_EVENT = re.compile(r"^events\[(\d+)\]\.(\w+)$")


def with_values(
    sc: Scenario, values: dict[str, float | PerRun], titles: dict[int, str] | None = None
) -> Scenario:
    """A copy of ``sc`` with parameters set: numbers through :meth:`Scenario.with_overrides`
    (validated like a file), :class:`PerRun` values put in place as they are.

    ``titles`` maps an event number to its title in the scenario the addresses were made for: in
    another scenario (a counterfactual that drops events), the event is found by title, and left
    alone when it is not there.
    """
    fixed = {k: float(v) for k, v in values.items() if not isinstance(v, PerRun)}
    per_run = {k: v for k, v in values.items() if isinstance(v, PerRun)}
    out = sc.with_overrides(_mapped(sc, fixed, titles)) if fixed else sc
    if not per_run:
        return out
    params, events = {}, list(out.events)
    for k, v in _mapped(out, per_run, titles).items():
        m = _EVENT.match(k)
        if m:
            i = int(m[1])
            events[i] = events[i].model_copy(update={m[2]: v})
        else:
            params[canonical(k)] = v
    return out.model_copy(update={"parameters": out.parameters.model_copy(update=params), "events": events})


def _mapped(sc: Scenario, values: dict[str, Any], titles: dict[int, str] | None) -> dict[str, Any]:
    """Event addresses renumbered to ``sc``'s own events (by title); those it lacks dropped."""
    if not titles:
        return values
    index = {e.title: i for i, e in enumerate(sc.events)}
    out = {}
    for k, v in values.items():
        m = _EVENT.match(k)
        if m is None:
            out[k] = v
        elif titles.get(int(m[1])) in index:
            out[f"events[{index[titles[int(m[1])]]}].{m[2]}"] = v
    return out
