"""What a scenario assumes, in words: its cast, its parameters and its dated timeline.

For a student who wants to know what a scenario takes as given before reading its results: the
actors with their initial values (Walt's sources of threat among them: capability, proximity,
presence), the tension between them, every mechanism parameter with its value or distribution
(marked where the scenario departs from the default), and the events in date order with their
sources.
"""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Any

from sim.events import SHOCK_ATTRIBUTES, Event
from sim.quantities import Dist
from sim.scenario import GreatPower, Parameters, Scenario

#: The great powers' columns: field and title.
_POWER_COLUMNS = {
    "budget": "budget USD m/q",
    "aid": "aid USD m/q",
    "interest": "interest",
    "conditionality": "conditionality",
    "presence": "presence",
    "pressure": "pressure",
    "engagement": "engagement",
    "influence": "influence",
    "capability": "capability",
    "proximity": "proximity",
}
_TIERS = {1: "comprehensive strategic partnership", 2: "strategic partnership", 3: "other"}


def show_value(v: Any) -> str:
    """A number as written, a distribution in words ("uniform 0.15 to 0.25")."""
    if isinstance(v, Dist):
        if v.form == "uniform":
            return f"uniform {v.a:g} to {v.b:g}"
        if v.form == "normal":
            return f"normal, mean {v.a:g}, sd {v.b:g}"
        return f"triangular {v.a:g} to {v.b:g}, mode {v.c:g}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _lineage(path: str) -> list[str]:
    """For a counterfactual file: what it extends and which events it leaves out."""
    try:
        meta = tomllib.loads(Path(path).read_text()).get("scenario", {})
    except (OSError, ValueError):
        return []
    if not meta.get("extends"):
        return []
    out = [f"Counterfactual: changes {meta['extends']}"]
    out += [f"  without the event: {t}" for t in meta.get("drop_events", [])]
    return out


def describe(sc: Scenario) -> str:
    """A plain-text description of a scenario (see the module's docstring)."""
    m = sc.scenario
    name = {k: a.name for k, a in sc.actors.items()}
    out = [m.title, "=" * len(m.title)]
    out += [f"scenario {m.name}, file {sc.source}"]
    out += _lineage(sc.source)
    if m.description.strip():
        out += ["", *textwrap.wrap(" ".join(m.description.split()), 96)]
    seed = m.seed if m.seed is not None else "none (a fresh one each time, recorded)"
    out += ["", f"Horizon: {m.start} to {m.end}, {sc.steps} quarterly steps; {m.runs} runs; seed {seed}"]
    modes = {
        "historical": "the powers follow the dated events only",
        "strategic": "the powers choose their policies; their own dated moves are left to them",
        "both": "the dated events act, and the powers choose their policies besides",
    }
    first = f" from {m.decide_from}" if m.decide_from else ""
    out.append(f"Decisions: {m.decisions}{first} ({modes[m.decisions]})")
    off = [k for k, on in sc.mechanisms if not on]
    if off:
        out.append(f"Mechanisms switched off: {', '.join(off)}")

    small = sc.actors[sc.small]
    out += ["", f"Small state: {small.name} ({sc.small})"]
    out.append(f"  regime pressure at the start: {small.regime_pressure:g}")
    tables = small.alignment_tables()
    for p in sc.powers:
        tier = small.tier.get(p, 3)
        shares = ", ".join(f"{d} {t[p]:g}" for d, t in tables.items())
        out.append(
            f"  toward {name[p]}: alignment {shares}; dependence {small.dependence[p]:g}, "
            f"tier {tier} ({_TIERS[tier]})"
        )
    out += ["", "Great powers"]
    cols = tuple(_POWER_COLUMNS.values())
    width = max(len(name[p]) for p in sc.powers)
    out.append("  " + " " * width + "  " + "  ".join(cols))
    for p in sc.powers:
        a = sc.actors[p]
        assert isinstance(a, GreatPower)
        initial = {"aid": a.aid if a.aid is not None else a.budget * a.interest}
        vals = [f"{initial.get(f, getattr(a, f)):g}".rjust(len(c)) for f, c in _POWER_COLUMNS.items()]
        out.append(f"  {name[p]:<{width}}  " + "  ".join(vals))

    out += ["", "Tension at the start (also the level each dyad relaxes to)"]
    actors = sorted(sc.actors)
    for i, a in enumerate(actors):
        for b in actors[i + 1 :]:
            out.append(f"  {name[a]} - {name[b]}: {sc.tension_of(a, b):g}")

    out += ["", "Parameters (* = set by this scenario; the rest are defaults, see docs/ODD.md)"]
    given = set(sc.raw().get("parameters", {}))
    for key, field in Parameters.model_fields.items():
        mark = "*" if key in given else " "
        out.append(f" {mark}{key:<24} {show_value(getattr(sc.parameters, key)):<26} {field.description}")

    out += ["", f"Timeline: {len(sc.events)} events"]
    for ev in sorted(sc.events, key=lambda e: sc.event_step(e)):
        step = sc.event_step(ev)
        fields = []
        power = getattr(ev, "power", None)
        if power is not None:
            fields.append(f"power {name[power]}")
        if ev.kind == "partnership":
            fields.append(f"tier {ev.tier}")
        if ev.kind == "shock":
            fields.append(f"target {ev.target}")
        held = type(ev).hold is not Event.hold
        if ev.kind == "shock":
            held = ev.target.partition(".")[2] in SHOCK_ATTRIBUTES
        uncertain = ev.uncertain if held or ev.kind != "shock" else ("add",)
        fields += [f"{f} {show_value(getattr(ev, f))}" for f in uncertain]
        dur = ev.duration if ev.duration is not None else ev.default_duration
        if not held:
            fields.append("a one-off jump, then the stock relaxes")
        elif dur:
            fields.append(f"in force for {dur} quarter{'s' if dur > 1 else ''}")
        else:
            fields.append("in force to the end")
        out.append(f"  {sc.dates[step]}  {ev.kind:<12} {ev.title}")
        out.append(f"  {'':6}  {'':12} {'; '.join(fields)}")
        if ev.source:
            out.append(f"  {'':6}  {'':12} source: {ev.source}")
    return "\n".join(out)
