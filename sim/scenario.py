"""Scenario files: TOML in, a validated :class:`Scenario` out, or one clear line of error.

A scenario has five tables (docs/scenarios.md walks through one)::

    [scenario]        name, title, description, start, end, step, runs, seed
    [actors.<id>]     role = "small_state" | "great_power", a name and initial values
    [tension]         initial (and baseline) tension of dyads, "<a>-<b>" = 0..1; "default" for the rest
    [parameters]      mechanism parameters: numbers, or distributions drawn per run
    [[events]]        dated events from the catalogue in :mod:`sim.events`

Every key is checked when the file is loaded; a problem raises :class:`ScenarioError` naming the
file, the line where it is known, the key path, what was expected and what was found. This layer
knows nothing of Mesa.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, ValidationError, model_validator

from sim.errors import ScenarioError
from sim.events import SHOCK_ATTRIBUTES, SHOCK_STOCKS, AnyEvent, Context
from sim.limits import MAX_FILE_BYTES, MAX_RUNS, MAX_STEPS
from sim.quantities import Date, Dist, Number, Uncertain, format_date, found, parse_date

_ID = re.compile(r"^[a-z][a-z0-9_]*$")

#: The instruments of a great power's policy, each a level chosen every quarter.
INSTRUMENTS = ("aid", "presence", "pressure", "engagement")
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class Meta(BaseModel):
    """The ``[scenario]`` table."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short id: names the results folder.")
    title: str = Field(min_length=1, description="A title for plots and listings.")
    description: str = Field("", description="What the scenario asks, in a few sentences.")
    start: Date = Field(description='First date, e.g. "2020Q1": the initial state.')
    end: Date = Field(description='Last date, e.g. "2026Q4" (inclusive).')
    step: Literal["quarter"] = Field("quarter", description="Length of a step (a quarter).")
    runs: int = Field(200, ge=1, le=MAX_RUNS, description="Stochastic runs in the ensemble.")
    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        description="Seed of the run streams; a fresh one is drawn (and recorded) if absent.",
    )
    extends: str | None = Field(
        None,
        description="Another scenario file (relative to this one) that this one changes: a counterfactual.",
    )
    drop_events: list[str] = Field(
        default_factory=list, description="Titles of the extended scenario's events to leave out."
    )
    parameters_file: str | None = Field(
        None,
        description=(
            "A file (relative to this one) holding only a [parameters] table, such as `hedgesim"
            " calibrate` writes: its values are used where this file's own [parameters] says nothing."
        ),
    )
    decisions: Literal["historical", "strategic", "both"] = Field(
        "both",
        description=(
            "Who moves the powers' policies: 'historical' (the dated events only), 'strategic' (the powers"
            " choose from decide_from on, and their policy events from then are left out) or 'both' (the"
            " events as given, and the powers' own choices besides)."
        ),
    )
    decide_from: Date | None = Field(
        None, description="First date at which the powers decide (default: the start)."
    )


#: The dimensions of alignment (Kuik 2008: economic and security pillars; UN votes observe the third).
DIMENSIONS = ("economic", "security", "diplomatic")
Dimension = Literal["economic", "security", "diplomatic"]


class GreatPower(BaseModel):
    """``[actors.<id>]`` with ``role = "great_power"``: initial values and fixed attributes."""

    model_config = _STRICT
    role: Literal["great_power"]
    name: str = Field(min_length=1, description="Display name.")
    budget: Number(0, 1e6) = Field(description="Most aid it can commit, USD million per quarter.")
    aid: Number(0, 1e6) | None = Field(
        None, description="Aid committed at the start, USD million per quarter (default: budget x interest)."
    )
    interest: Number(0, 1) = Field(0.5, description="Strategic interest in the small state (0..1).")
    conditionality: Number(0, 1) = Field(
        0.0, description="How much it values the small state's governance (0..1): drives its pressure."
    )
    presence: Number(0, 1) = Field(0.0, description="Security presence at the start (0..1).")
    pressure: Number(0, 1) = Field(
        0.0, description="Governance pressure at the start: criticism, sanctions, conditions (0..1)."
    )
    engagement: Number(0, 1) = Field(
        0.3, description="Diplomatic engagement at the start: summits, partnership offers (0..1)."
    )
    decides: list[Literal["aid", "presence", "pressure", "engagement"]] = Field(
        default_factory=lambda: list(INSTRUMENTS),
        description="The instruments it chooses itself when the powers decide (default: all four).",
    )
    influence: Number(0, 1) = Field(0.2, description="Initial influence over the small state (0..1).")
    capability: Number(0, 1) = Field(0.5, description="Aggregate power, relative to the strongest (Walt).")
    proximity: Number(0, 1) = Field(0.5, description="Geographic proximity to the small state (Walt).")
    aid_noise: Number(0, 2) | None = Field(
        None, description="Sd of the log-normal noise on its aid (volatility); default: parameters.aid_noise."
    )


Tier = Literal[1, 2, 3]


class SmallState(BaseModel):
    """``[actors.<id>]`` with ``role = "small_state"``: shares over the powers, keyed by power id."""

    model_config = _STRICT
    role: Literal["small_state"]
    name: str = Field(min_length=1, description="Display name.")
    alignment: dict[str, Number(0, 1)] | dict[Dimension, dict[str, Number(0, 1)]] = Field(
        description=(
            "Initial alignment shares toward each power, summing to 1: one table for every dimension"
            " ({china = 0.5, ...}), or one per dimension ({economic = {...}, security = {...}, diplomatic"
            " = {...}})."
        )
    )
    dependence: dict[str, Number(0, 1)] = Field(
        description="Structural economic dependence on each power (trade, investment, debt); sums to 1."
    )
    tier: dict[str, Tier] = Field(
        default_factory=dict,
        description="Partnership tier with each power: 1 top, 2 strategic, 3 other (default).",
    )
    regime_pressure: Number(0, 1) = Field(0.3, description="How exposed the ruling elite feels (0..1).")

    @property
    def nested(self) -> bool:
        """Whether the alignment is given per dimension."""
        return any(isinstance(v, dict) for v in self.alignment.values())

    def alignment_tables(self) -> dict[str, dict[str, float]]:
        """The initial alignment shares of each dimension (one table given for all is repeated)."""
        if self.nested:
            return {d: dict(self.alignment[d]) for d in DIMENSIONS if d in self.alignment}  # type: ignore[arg-type]
        return {d: dict(self.alignment) for d in DIMENSIONS}  # type: ignore[arg-type]


Actor = Annotated[GreatPower | SmallState, Field(discriminator="role")]


class Parameters(BaseModel):
    """``[parameters]``: every mechanism parameter; each a number or a distribution drawn per run.

    Two scales are fixed, so that every parameter below is identifiable (docs/ODD.md, 7.11): every
    logit choice of the small state has unit temperature, and a power's policy costs are counted in
    units of the cost of committing its whole budget for a quarter. Defaults and their reasons are
    in docs/ODD.md, section 7.
    """

    model_config = _STRICT
    # The powers' decisions (process 1)
    standing_value: Uncertain(0, 100) = Field(
        9.5, description="Worth to a power of full standing with the small state, in budget-quarters."
    )
    rivalry: Uncertain(0, 10) = Field(
        1.0, description="Rise in the worth of standing per unit of a rival's lead in influence."
    )
    policy_rate: Uncertain(0, 1) = Field(
        0.5, description="Share of the marginal value of an instrument that a power moves it by per quarter."
    )
    presence_cost: Uncertain(0, 100) = Field(30.0, description="Cost of security presence (budget-quarters).")
    engagement_cost: Uncertain(0, 100) = Field(1.15, description="Cost of diplomatic engagement.")
    pressure_cost: Uncertain(0, 100) = Field(1.1, description="Cost of governance pressure.")
    pressure_backlash: Uncertain(0, 10) = Field(
        1.0, description="Cost of pressure per unit of interest and of a rival's alignment share."
    )
    upgrade_engagement: Uncertain(0, 1) = Field(
        0.6, description="Engagement at which a power offers a partnership upgrade (strategic decisions)."
    )
    aid_noise: Uncertain(0, 2) = Field(0.1, description="Sd of the log-normal noise on each aid flow.")
    # What a partnership tier changes (the only places a tier enters the model)
    tier_credibility: Uncertain(0, 1) = Field(
        0.3, description="Aid discounted as less credible outside the top tier (tier 3: 1-x, tier 2: 1-x/2)."
    )
    tier_security: Uncertain(0, 1) = Field(
        0.2, description="Security cooperation a top-tier partnership opens (reach without presence)."
    )
    tier_trust: Uncertain(0, 1) = Field(
        0.5, description="Share of a top-tier partner's hostility discounted when reading its intentions."
    )
    # Influence (process 2)
    influence_rate: Uncertain(0, 1) = Field(
        0.15, description="Share of the gap to its target that influence closes per step."
    )
    influence_aid: Uncertain(0, 10) = Field(0.4, description="Weight of aid share in the influence target.")
    influence_alignment: Uncertain(0, 10) = Field(
        0.3, description="Weight of the small state's alignment in it."
    )
    influence_presence: Uncertain(0, 10) = Field(0.15, description="Weight of presence share in it.")
    influence_engagement: Uncertain(0, 10) = Field(0.15, description="Weight of engagement share in it.")
    # Tension (process 3)
    tension_relax: Uncertain(0, 1) = Field(
        0.1, description="Share of the gap to its level that tension closes per step."
    )
    tension_rivalry: Uncertain(0, 1) = Field(
        0.03, description="Rise in power-power tension per unit of competition over the small state."
    )
    tension_pressure: Uncertain(0, 1) = Field(
        0.3, description="Rise in a power's tension level with the small state per unit of pressure."
    )
    tension_engagement: Uncertain(0, 1) = Field(
        0.1, description="Fall in a power's tension level with the small state per unit of engagement."
    )
    tension_noise: Uncertain(0, 0.5) = Field(
        0.02, description="Sd of the noise on each dyad's tension per step."
    )
    # Regime pressure
    regime_relax: Uncertain(0, 1) = Field(
        0.1, description="Share of the gap to its initial value that regime pressure closes per step."
    )
    # The small state's decision (process 4): utility weights at unit temperature
    weight_aid: Uncertain(0, 200) = Field(2.5, description="Economic: weight of the credible aid share.")
    weight_dependence: Uncertain(0, 200) = Field(
        1.2, description="Economic: weight of existing ties (trade, investment, debt)."
    )
    weight_overdependence: Uncertain(0, 200) = Field(
        1.5, description="Economic: penalty on a dominant partner (dominance denial)."
    )
    weight_protection: Uncertain(0, 200) = Field(
        50.0, description="Security: weight of protection a power offers against the others' threat."
    )
    weight_threat: Uncertain(0, 200) = Field(2.3, description="Security: weight of the threat a power poses.")
    weight_entrapment: Uncertain(0, 200) = Field(
        0.4, description="Security: weight of the risk of entrapment in a power's rivalries."
    )
    weight_regime: Uncertain(0, 200) = Field(
        0.7, description="Security and diplomatic: weight of regime security (non-interference valued)."
    )
    weight_reciprocity: Uncertain(0, 200) = Field(
        1.3, description="Diplomatic: weight of the credible aid share (votes as reciprocity)."
    )
    inertia: Uncertain(0, 1) = Field(
        0.2, description="Share of the way to the preferred alignment moved per step."
    )
    alignment_noise: Uncertain(0, 5) = Field(
        0.1, description="Sd of the noise on each value (random utility)."
    )
    # Dependence
    dependence_rate: Uncertain(0, 1) = Field(
        0.02, description="Share of the gap to its target that dependence closes per step."
    )
    dependence_aid: Uncertain(0, 1) = Field(
        0.3, description="Weight of aid share (vs structural ties) in the dependence target."
    )

    @model_validator(mode="after")
    def _weights(self) -> Parameters:
        if all(_highest(getattr(self, n)) == 0 for n in INFLUENCE_WEIGHTS):
            raise ValueError("the four influence_* weights cannot all be 0 (influence would have no target)")
        return self


#: The mechanisms a scenario can switch off (``[mechanisms]``), to see what carries a result.
MECHANISMS = {
    "aid_credibility": "a partnership tier makes a power's aid more credible (parameters.tier_credibility)",
    "security_cooperation": "a partnership tier opens security cooperation (parameters.tier_security)",
    "trust": "a partnership tier softens the reading of a power's intentions (parameters.tier_trust)",
    "decisions": "the powers choose their policies (off: every policy stays where the events put it)",
}


class Mechanisms(BaseModel):
    """``[mechanisms]``: switches for the model's channels, all on by default (``hedgesim explain``)."""

    model_config = _STRICT
    aid_credibility: StrictBool = Field(True, description=MECHANISMS["aid_credibility"])
    security_cooperation: StrictBool = Field(True, description=MECHANISMS["security_cooperation"])
    trust: StrictBool = Field(True, description=MECHANISMS["trust"])
    decisions: StrictBool = Field(True, description=MECHANISMS["decisions"])


#: The weights of influence's target, which cannot all be 0.
INFLUENCE_WEIGHTS = ("influence_aid", "influence_alignment", "influence_presence", "influence_engagement")


def _highest(v: float | Dist) -> float:
    """The largest value a fixed number or a distribution can take."""
    if isinstance(v, Dist):
        return v.b if v.form != "normal" else v.bounds[1]
    return v


class Scenario(BaseModel):
    """A validated scenario. Build one with :func:`load_scenario`; change one with :meth:`with_overrides`."""

    model_config = _STRICT
    scenario: Meta
    actors: dict[str, Actor] = Field(description="The cast: one small state and two or more great powers.")
    tension: dict[str, Number(0, 1)] = Field(
        default_factory=dict,
        description='Initial and baseline tension per dyad "<a>-<b>" (0..1); "default" for the rest (0.1).',
    )
    parameters: Parameters = Field(default_factory=Parameters)
    mechanisms: Mechanisms = Field(default_factory=Mechanisms)
    events: list[AnyEvent] = Field(default_factory=list)

    _source: str = PrivateAttr("<memory>")
    _sha256: str = PrivateAttr("")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    # ---- derived views -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def source(self) -> str:
        """The file it was loaded from (or "<memory>")."""
        return self._source

    @property
    def sha256(self) -> str:
        """sha256 of the file's bytes ("" for a scenario made in memory)."""
        return self._sha256

    @property
    def powers(self) -> list[str]:
        """Great power ids, in alphabetical order: the order of the tables in a file is spelling, not
        meaning, so it changes neither the outputs' order nor any sum over the powers."""
        return sorted(k for k, a in self.actors.items() if isinstance(a, GreatPower))

    @property
    def small(self) -> str:
        """The small state's id."""
        return next(k for k, a in self.actors.items() if isinstance(a, SmallState))

    @property
    def start(self) -> int:
        return parse_date(self.scenario.start)

    @property
    def steps(self) -> int:
        return parse_date(self.scenario.end) - self.start

    @property
    def dates(self) -> list[str]:
        """The date of every recorded state: the start, then one per step."""
        return [format_date(self.start + t) for t in range(self.steps + 1)]

    def event_step(self, event: Any) -> int:
        """The step before which an event applies (events dated at the start apply before step 1)."""
        return max(1, parse_date(event.date) - self.start)

    def marked_events(self) -> list[tuple[int, str, str]]:
        """(step, title, kind) of each event, in date order (file order within a date), for plots."""
        return sorted(((self.event_step(e), e.title, e.kind) for e in self.events), key=lambda x: x[0])

    @property
    def decide_step(self) -> int | None:
        """The first step at which the powers decide, or None when they never do."""
        if self.scenario.decisions == "historical" or not self.mechanisms.decisions:
            return None
        first = self.scenario.decide_from
        return 1 if first is None else max(1, parse_date(first) - self.start)

    def events_in_play(self) -> list[Any]:
        """The events that act: with strategic decisions, the powers' own policy moves dated from the
        first decision on are left to the powers (docs/ODD.md, 3.3)."""
        first = self.decide_step
        if self.scenario.decisions != "strategic" or first is None:
            return list(self.events)
        return [e for e in self.events if not (e.policy and self.event_step(e) >= first)]

    def context(self) -> Context:
        return Context(self.powers, self.small)

    def tension_of(self, a: str, b: str) -> float:
        """Initial (and baseline) tension of a dyad, written "a-b" or "b-a" in the file."""
        for key in (f"{a}-{b}", f"{b}-{a}"):
            if key in self.tension:
                return self.tension[key]
        return self.tension.get("default", 0.1)

    @property
    def overrides(self) -> dict[str, Any]:
        """The values changed by :meth:`with_overrides` (``--set``), in the order given."""
        return dict(self._overrides)

    def raw(self) -> dict[str, Any]:
        """A deep copy of the scenario as plain TOML data (what the file said, plus overrides)."""
        return copy.deepcopy(self._raw)

    # ---- changes -------------------------------------------------------------------------------
    def with_overrides(self, overrides: dict[str, Any] | None = None, /, **kwargs: Any) -> Scenario:
        """A copy with values changed, validated like a file.

        Keys are dotted paths (``"actors.japan.budget"``, ``"scenario.runs"``, an event's
        ``"events[3].magnitude"``); a bare name is a parameter (``inertia`` means
        ``parameters.inertia``); :mod:`sim.parameters` lists them all. Values are TOML values: numbers,
        strings, or tables such as ``{"low": 0.1, "high": 0.3}``.
        """
        changes = {**(overrides or {}), **kwargs}
        if not changes:
            return self
        raw = self.raw()
        for key, value in changes.items():
            if key in _READ_ONLY_KEYS:
                # these are read with the file (what it includes), so a later change would be ignored
                raise ScenarioError(
                    self._source, f"--set {key}", "is read with the file and cannot be set; edit the file"
                )
            path = key.split(".") if "." in key else ["parameters", key]
            node = raw
            for part in path[:-1]:
                if m := re.fullmatch(r"(\w+)\[(\d+)\]", part):  # an item of a list: events[3]
                    items = node.get(m[1])
                    if not isinstance(items, list) or int(m[2]) >= len(items):
                        raise ScenarioError(self._source, f"--set {key}", f"no item {part}")
                    nxt = items[int(m[2])]
                else:
                    nxt = node.setdefault(part, {})
                if not isinstance(nxt, dict):
                    raise ScenarioError(self._source, f"--set {key}", f"{part!r} is not a table")
                node = nxt
            node[path[-1]] = value
        labels = {(k if "." in k else f"parameters.{k}"): k for k in changes}
        try:
            sc = _build(raw, self._source, self._sha256, text=None)
        except RecursionError:
            raise ScenarioError(
                self._source, f"--set {next(iter(changes))}", "a value nested too deeply"
            ) from None
        except ScenarioError as err:
            if err.key in labels:
                raise ScenarioError(self._source, f"--set {labels[err.key]}", err.problem) from None
            raise
        sc._overrides = {**self._overrides, **changes}
        return sc

    def with_events(self, *events: dict[str, Any]) -> Scenario:
        """A copy with events added, each a table as in a file's ``[[events]]``, validated like a file."""
        raw = self.raw()
        raw["events"] = [*raw.get("events", []), *(dict(e) for e in events)]
        return _build(raw, self._source, self._sha256, text=None)

    def without_events(self, *titles: str) -> Scenario:
        """A copy without the events whose titles are given (a counterfactual in one line)."""
        raw = self.raw()
        unknown = set(titles) - {e.get("title") for e in raw.get("events", [])}
        if unknown:
            raise ScenarioError(self._source, "events", f"no event titled {sorted(unknown)[0]!r}")
        raw["events"] = [e for e in raw.get("events", []) if e.get("title") not in titles]
        return _build(raw, self._source, self._sha256, text=None)

    def to_toml(self, header: str = "") -> str:
        """The scenario as a self-contained TOML file that :func:`load_scenario` reads back equal.

        What a file extends is merged in and overrides are applied, so the text stands alone.
        ``header`` is written first as ``#`` comment lines (say where the file came from).
        """
        return _toml_text(self.raw(), header)


# Keys of [scenario] that act while the file is read (what it extends, drops or includes).
_READ_ONLY_KEYS = frozenset({"scenario.extends", "scenario.drop_events", "scenario.parameters_file"})


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` from the command line: the value is read as TOML, else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", None, f"expected key=value, found {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    except ValueError:  # an integer of more than 4,300 digits
        raise ScenarioError(
            "--set", key.strip(), "expected a number, found one with thousands of digits"
        ) from None
    except RecursionError:
        raise ScenarioError("--set", key.strip(), "a value nested too deeply") from None
    return key.strip(), parsed


def override_text(key: str, value: Any) -> str:
    """An override as it would be typed after ``--set``: ``inertia=0.3``, ``x={low = 0.1, high = 0.3}``."""
    return f"{key}={_inline(value)}"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value) if not re.fullmatch(r"[A-Za-z0-9_.:-]+", str(value)) else str(value)


# ---- loading -----------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise :class:`ScenarioError` with one clear line if it is bad.

    A file whose ``[scenario]`` table says ``extends = "other.toml"`` starts from that scenario:
    its tables are merged over the other's key by key, its events are added to the other's, and
    ``drop_events`` lists the titles of the other's events to leave out.
    """
    raw, text, digest = _read(Path(path), str(path), seen=())
    try:
        return _build(raw, str(path), digest.hexdigest(), text)
    except RecursionError:
        raise _too_deep(str(path), text) from None


def _too_deep(source: str, text: str) -> ScenarioError:
    """The error for values nested too deeply to read (thousands of [ or {), at their line."""
    line, key = _worst_line(text, lambda s: s.count("[") + s.count("{"))
    return ScenarioError(source, key, "values nested too deeply (expected a number, text or a table)", line)


def _worst_line(text: str, score: Any) -> tuple[int | None, str | None]:
    """The line of a file with the highest ``score(line)``, and the key set there (with its table)."""
    best, line, key, table = 0, None, None, ""
    for n, s in enumerate(text.splitlines(), 1):
        if m := re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*$", s):
            table = m[1]
            continue
        if score(s) > best:
            m = re.match(r'^\s*"?([A-Za-z0-9_.\-]+)"?\s*=', s)
            best, line, key = score(s), n, (f"{table}.{m[1]}" if table else m[1]) if m else table or None
    return line, key


def read_at_most(p: Path, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of a file, or None when it holds more than ``limit`` (never read whole)."""
    with p.open("rb") as f:
        data = f.read(limit + 1)
    return data if len(data) <= limit else None


def _read(p: Path, source: str, seen: tuple[Path, ...]) -> tuple[dict[str, Any], str, Any]:
    """Raw TOML of a file with what it extends merged in, its text, and a sha256 over all files read."""
    if p.is_dir():
        raise ScenarioError(source, None, "is a directory, expected a scenario .toml file")
    if not p.exists():
        raise ScenarioError(source, None, "no such file")
    try:
        data = read_at_most(p)
    except OSError as err:
        raise ScenarioError(source, None, f"cannot be read ({err.strerror})") from None
    if data is None:
        raise ScenarioError(
            source, None, f"is larger than {MAX_FILE_BYTES // 2**20} MiB; not a scenario file"
        )
    if not data.strip():
        raise ScenarioError(source, None, "is empty, expected a scenario with [scenario] and [actors] tables")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(source, None, "is not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m[1]) if m else None
        raise ScenarioError(
            source, None, f"TOML syntax error: {re.sub(r' \(at .*\)$', '', msg)}", line
        ) from None
    except ValueError:  # an integer of more than 4,300 digits, which Python will not convert
        line, key = _worst_line(text, lambda s: max(map(len, re.findall(r"\d+", s)), default=0))
        raise ScenarioError(
            source, key, "expected a number, found one with thousands of digits", line
        ) from None
    except RecursionError:
        raise _too_deep(source, text) from None
    digest = hashlib.sha256(data)
    meta = raw.get("scenario")
    if isinstance(meta, dict) and "parameters_file" in meta:
        _include_parameters(raw, p, source, text, digest)
    base_name = meta.get("extends") if isinstance(meta, dict) else None
    if base_name is None:
        return raw, text, digest
    where = _line_of(text, "scenario.extends")
    if not isinstance(base_name, str):
        raise ScenarioError(
            source, "scenario.extends", f"expected a file name, found {found(base_name)}", where
        )
    if "\0" in base_name:
        raise ScenarioError(source, "scenario.extends", "expected a file name, found a NUL character", where)
    try:
        base_path = (p.parent / base_name).resolve()
        is_file = base_path.is_file()
    except OSError as err:  # a name too long for the file system
        raise ScenarioError(
            source, "scenario.extends", f"cannot be read ({err.strerror or err})", where
        ) from None
    if base_path in seen or base_path == p.resolve():
        raise ScenarioError(source, "scenario.extends", f"{base_name} extends itself, directly or not", where)
    if not is_file:
        raise ScenarioError(source, "scenario.extends", f"no such scenario file {base_name!r}", where)
    base, _, base_digest = _read(base_path, str(p.parent / base_name), (*seen, p.resolve()))
    digest.update(base_digest.digest())
    drop = meta.get("drop_events", [])
    titles = [e.get("title") for e in base.get("events", []) if isinstance(e, dict)]
    if not isinstance(drop, list):
        raise ScenarioError(
            source,
            "scenario.drop_events",
            f'expected a list of event titles (["A", "B"]), found {found(drop)}',
            _line_of(text, "scenario.drop_events"),
        )
    for i, title in enumerate(drop):
        if not isinstance(title, str):
            raise ScenarioError(
                source,
                f"scenario.drop_events[{i}]",
                f"expected an event title (text), found {found(title)}",
                _line_of(text, "scenario.drop_events"),
            )
        if title not in titles:
            raise ScenarioError(
                source,
                f"scenario.drop_events[{i}]",
                f"{base_name} has no event titled {title!r}",
                _line_of(text, "scenario.drop_events"),
            )
    merged = _merge(base, {k: v for k, v in raw.items() if k != "events"})
    merged["scenario"].pop("extends", None)
    merged["scenario"].pop("drop_events", None)
    kept = [e for e in base.get("events", []) if not (isinstance(e, dict) and e.get("title") in drop)]
    merged["events"] = kept + list(raw.get("events", []))
    return merged, text, digest


def _include_parameters(raw: dict[str, Any], p: Path, source: str, text: str, digest: Any) -> None:
    """Merge the ``[parameters]`` of ``scenario.parameters_file`` under the file's own, in place.

    The included file holds one ``[parameters]`` table and nothing else; its values are checked
    with the scenario's, and it counts in the scenario's sha256.
    """
    key = "scenario.parameters_file"
    name = raw["scenario"].pop("parameters_file")
    where = _line_of(text, key)
    if not isinstance(name, str) or not name or "\0" in name:
        raise ScenarioError(source, key, f"expected a file name, found {found(name)}", where)
    path = p.parent / name
    try:
        data = read_at_most(path)
        if data is None:
            raise ScenarioError(
                source,
                key,
                f"{name} is larger than {MAX_FILE_BYTES // 2**20} MiB; not a parameters file",
                where,
            )
        if not data.strip():
            raise ScenarioError(source, key, f"{name} is empty, expected a [parameters] table", where)
        included_text = data.decode("utf-8")
        included = tomllib.loads(included_text)
    except IsADirectoryError:
        raise ScenarioError(
            source, key, f"{name} is a folder, expected a parameters .toml file", where
        ) from None
    except (FileNotFoundError, NotADirectoryError):
        raise ScenarioError(source, key, f"no such parameters file {name!r}", where) from None
    except OSError as err:
        raise ScenarioError(source, key, f"{name} cannot be read ({err.strerror or err})", where) from None
    except UnicodeDecodeError:
        raise ScenarioError(source, key, f"{name} is not UTF-8 text", where) from None
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as err:
        problem = " ".join(str(err).split()) or "values nested too deeply"
        raise ScenarioError(source, key, f"{name}: TOML syntax error: {problem}", where) from None
    other = sorted(set(included) - {"parameters"})
    if other:
        raise ScenarioError(
            source, key, f"{name} may hold only a [parameters] table, found [{other[0]}]", where
        )
    params = included.get("parameters", {})
    if not isinstance(params, dict):
        raise ScenarioError(source, key, f"{name}: expected a [parameters] table", where)
    try:  # checked here too, so that a bad value is found in the file that holds it
        Parameters.model_validate(params, strict=True)
    except ValidationError as err:
        e = err.errors()[0]
        bad, problem = _describe({**e, "loc": ("parameters", *e["loc"])}, {"parameters": params})
        line = _line_of(included_text, bad)
        raise ScenarioError(
            source, key, f"{name}{f':{line}' if line else ''}: {bad}: {problem}", where
        ) from None
    own = raw.get("parameters", {})
    raw["parameters"] = {**params, **own} if isinstance(own, dict) else own
    digest.update(data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = (
            _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
        )
    return out


def _build(raw: dict[str, Any], source: str, sha256: str, text: str | None) -> Scenario:
    try:
        # strict: a number written as text ("5"), a boolean for a number or a float for a whole
        # number is refused everywhere, events included, never coerced
        sc = Scenario.model_validate(raw, strict=True)
    except ValidationError as err:
        key, problem = _describe(err.errors()[0], raw)
        raise ScenarioError(source, key, problem, _line_of(text, key)) from None
    try:
        _refuse_booleans(raw, sc, "")
        _check(sc)
    except _Problem as p:
        raise ScenarioError(source, p.key, p.problem, _line_of(text, p.key)) from None
    sc._source, sc._sha256, sc._raw = source, sha256, copy.deepcopy(raw)
    return sc


class _Problem(Exception):
    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem


def _refuse_booleans(raw: Any, value: Any, key: str, expected: Any = None) -> None:
    """A boolean where a number is expected, found in ``raw`` (the file's data) beside ``value`` (what
    it validated to). Strict validation refuses them everywhere but in literal choices such as a
    tier (``Literal[1, 2, 3]``), where ``true`` would pass as 1; only the switches of
    ``[mechanisms]`` take a boolean."""
    if isinstance(raw, bool) and isinstance(value, bool) and expected is bool:
        return
    if isinstance(raw, bool):
        choices = get_args(expected) if get_origin(expected) is Literal else ()
        what = f"{', '.join(map(str, choices[:-1]))} or {choices[-1]}" if choices else "a number"
        raise _Problem(key, f"expected {what}, found {found(raw)}")
    if isinstance(raw, dict):
        fields = type(value).model_fields if isinstance(value, BaseModel) else {}
        args = get_args(expected) if isinstance(value, dict) else ()
        for k, v in raw.items():
            if isinstance(value, BaseModel):
                sub, ann = getattr(value, str(k), None), fields[k].annotation if k in fields else None
            else:
                sub, ann = (value.get(k) if isinstance(value, dict) else None), args[1] if args else None
            _refuse_booleans(v, sub, f"{key}.{k}" if key else str(k), ann)
    elif isinstance(raw, list):
        items = value if isinstance(value, list) else []
        for i, v in enumerate(raw):
            _refuse_booleans(v, items[i] if i < len(items) else None, f"{key}[{i}]")


def _check(sc: Scenario) -> None:
    """Checks across tables: ids, the cast, shares, dyads, event references and dates."""
    for aid in sc.actors:
        if not _ID.match(aid):
            raise _Problem(
                f"actors.{aid}", "expected an id of lowercase letters, digits and _, starting with a letter"
            )
    powers = sc.powers
    smalls = [k for k, a in sc.actors.items() if isinstance(a, SmallState)]
    if not smalls:
        raise _Problem("actors", 'no small state: expected one actor with role = "small_state"')
    if len(smalls) > 1:
        raise _Problem(
            f"actors.{smalls[1]}", f"a second small state ({', '.join(smalls)}); this version models one"
        )
    if len(powers) < 2:
        raise _Problem(
            "actors", f'expected at least two actors with role = "great_power", found {len(powers)}'
        )
    small = smalls[0]
    st = sc.actors[small]
    assert isinstance(st, SmallState)
    tables = {f"alignment.{d}": v for d, v in st.alignment_tables().items()} if st.nested else {}
    tables = tables or {"alignment": st.alignment}
    if st.nested:
        missing = [d for d in DIMENSIONS if d not in st.alignment]
        if missing:
            raise _Problem(f"actors.{small}.alignment", f"missing the {missing[0]!r} dimension")
    for table, shares in {**tables, "dependence": st.dependence}.items():
        for k in shares:
            if k not in powers:
                raise _Problem(
                    f"actors.{small}.{table}.{k}", f"unknown power {k!r}; expected one of {powers}"
                )
        missing = [p for p in powers if p not in shares]
        if missing:
            raise _Problem(f"actors.{small}.{table}", f"missing a share for {missing[0]!r}")
        total = sum(shares.values())
        if abs(total - 1) > 1e-3:
            raise _Problem(
                f"actors.{small}.{table}", f"expected shares that sum to 1, found a sum of {total:g}"
            )
    for k in st.tier:
        if k not in powers:
            raise _Problem(f"actors.{small}.tier.{k}", f"unknown power {k!r}; expected one of {powers}")
    actors = list(sc.actors)
    for key in sc.tension:
        if key == "default":
            continue
        a, sep, b = key.partition("-")
        for x in (a, b) if sep else (key,):
            if x not in sc.actors:
                raise _Problem(
                    f"tension.{key}", f'unknown actor {x!r} in dyad; expected "<a>-<b>" with a, b in {actors}'
                )
        if a == b:
            raise _Problem(f"tension.{key}", "a dyad needs two different actors")
        if f"{b}-{a}" in sc.tension:
            raise _Problem(f"tension.{key}", f"the dyad is given twice (also as {b}-{a})")
    start, end = sc.start, parse_date(sc.scenario.end)
    if end <= start:
        raise _Problem(
            "scenario.end", f"expected a date after start ({sc.scenario.start}), found {sc.scenario.end}"
        )
    if end - start > MAX_STEPS:
        raise _Problem(
            "scenario.end",
            f"expected at most {MAX_STEPS:,} quarters after start ({sc.scenario.start}), "
            f"found {end - start:,} ({sc.scenario.end})",
        )
    if sc.scenario.decide_from is not None and not start <= parse_date(sc.scenario.decide_from) <= end:
        raise _Problem(
            "scenario.decide_from",
            f"{sc.scenario.decide_from} is outside the horizon {sc.scenario.start}..{sc.scenario.end}",
        )
    for i, ev in enumerate(sc.events):
        where = f"events[{i}]"
        power = ev.target_power()
        if power is not None and power not in powers:
            known = "a small state, not a great power" if power in sc.actors else "unknown"
            raise _Problem(f"{where}.power", f"{power!r} is {known}; expected one of {powers}")
        if ev.kind == "shock":
            _check_shock(ev.target, f"{where}.target", sc)  # type: ignore[attr-defined]
        d = parse_date(ev.date)
        if not start <= d <= end:
            raise _Problem(
                f"{where}.date", f"{ev.date} is outside the horizon {sc.scenario.start}..{sc.scenario.end}"
            )


def _check_shock(target: str, where: str, sc: Scenario) -> None:
    head, _, attr = target.partition(".")
    if head == "tension":
        a, sep, b = attr.partition("-")
        if sep and a in sc.actors and b in sc.actors and a != b:
            return
        raise _Problem(where, f'expected "tension.<a>-<b>" with two actors, found {target!r}')
    if head in sc.powers and attr in SHOCK_ATTRIBUTES:
        return
    if head == sc.small and attr == "regime_pressure":
        return
    options = [f"<power>.{a}" for a in SHOCK_ATTRIBUTES]
    options += [f"{sc.small}.regime_pressure", "tension.<a>-<b>"]
    what = f"unknown actor {head!r}" if head not in sc.actors else f"unknown target {target!r}"
    raise _Problem(where, f"{what}; expected one of {', '.join(options)}")


assert set(SHOCK_STOCKS) == {"regime_pressure", "tension"}

# ---- error wording -----------------------------------------------------------------------------

_TAGS = {
    "great_power",
    "small_state",
    "partnership",
    "aid",
    "sanctions",
    "criticism",
    "recognition",
    "naval_access",
    "port_call",
    "cooperation",
    "shock",
}


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif (
            part in _TAGS
            and i >= 2
            and loc[0] in ("actors", "events")
            and i == (2 if loc[0] == "actors" else 2)
        ):
            continue  # the discriminator pydantic puts in the path
        elif part == "[key]" or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(e: dict[str, Any], raw: dict[str, Any]) -> tuple[str, str]:
    loc, kind, value = tuple(e["loc"]), e["type"], e.get("input")
    key = _key(loc)
    if kind == "missing":
        return key, "missing (required)"
    if kind == "extra_forbidden":
        parent, name = key.rpartition(".")[0], str(loc[-1])
        hint = ""
        model = _model_at(loc[:-1])
        if model is not None:
            close = difflib.get_close_matches(name, list(model.model_fields), n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f"; expected one of {list(model.model_fields)}"
            )
        return key, f"unknown key{hint}" if parent else f"unknown table {name!r}{hint}"
    if kind == "union_tag_invalid":
        ctx = e.get("ctx", {})
        return f"{key}.{ctx.get('discriminator', '').strip(chr(39))}", (
            f"expected one of {ctx.get('expected_tags')}, found {found(ctx.get('tag'))}"
        )
    if kind == "union_tag_not_found":
        disc = e.get("ctx", {}).get("discriminator", "").strip("'")
        return f"{key}.{disc}", "missing (required)"
    if kind == "literal_error":
        return key, f"expected {e['ctx']['expected']}, found {found(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return key, f"expected a whole number, found {found(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return key, f"expected true or false, found {found(value)}"
    if kind in ("string_type",):
        return key, f"expected text, found {found(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return key, f"expected a table, found {found(value)}"
    if kind == "list_type":
        return key, f"expected a list of tables ([[{key}]]), found {found(value)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[
            kind
        ]
        bound = next(iter(e["ctx"].values()))
        return key, f"expected a value {op} {bound}, found {found(value)}"
    if kind == "string_pattern_mismatch":
        return key, f"expected lowercase letters, digits, - and _, found {found(value)}"
    if kind == "string_too_short":
        return key, "expected non-empty text"
    if kind == "value_error":
        return key, str(e["ctx"]["error"])
    return key, f"{e['msg'][0].lower()}{e['msg'][1:]}, found {found(value)}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that a location points into (for 'did you mean' hints)."""
    from sim.events import KINDS

    if not loc:
        return Scenario
    head = loc[0]
    if head == "scenario":
        return Meta
    if head == "parameters":
        return Parameters
    if head == "mechanisms":
        return Mechanisms
    if head == "actors" and len(loc) >= 3:
        return GreatPower if loc[2] == "great_power" else SmallState if loc[2] == "small_state" else None
    if head == "events" and len(loc) >= 3:
        return KINDS.get(loc[2])
    return None


def _line_of(text: str | None, key: str | None) -> int | None:
    """Best effort: the line where a key path ("events[2].power") is set in the file's text.

    Tables, arrays of tables, plain and inline keys are indexed by their full path; the longest
    prefix of ``key`` that is found gives the line (None when nothing matches).
    """
    if not text or not key:
        return None
    index: dict[str, int] = {}
    table, counts = "", {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if m := re.match(r"^\[\[\s*([^\]]+?)\s*\]\]", s):
            counts[m[1]] = counts.get(m[1], -1) + 1
            table = f"{m[1]}[{counts[m[1]]}]"
        elif m := re.match(r"^\[\s*([^\]]+?)\s*\]", s):
            table = m[1].replace('"', "")
        elif m := re.match(r'^"?([A-Za-z0-9_.\-]+)"?\s*=(.*)$', s):
            path = f"{table}.{m[1]}" if table else m[1]
            index.setdefault(path, n)
            for inner in re.findall(r'[{,]\s*"?([A-Za-z0-9_\-]+)"?\s*=', m[2]):
                index.setdefault(f"{path}.{inner}", n)
            continue
        else:
            continue
        index.setdefault(table, n)
    while key:
        if key in index:
            return index[key]
        key = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", key) if re.search(r"(\.[^.\[\]]+|\[\d+\])$", key) else ""
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, from the same definitions that validate them."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hedgesim scenario"
    # A file that extends another may leave out what it inherits: actors, start and end are
    # required only when there is no `extends`.
    schema["required"] = [k for k in schema["required"] if k != "actors"]
    meta = schema["$defs"]["Meta"]
    meta["required"] = [k for k in meta["required"] if k not in ("start", "end")]
    schema["if"] = {"properties": {"scenario": {"not": {"required": ["extends"]}}}}
    schema["then"] = {"required": ["actors"], "properties": {"scenario": {"required": ["start", "end"]}}}
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# ---- writing -----------------------------------------------------------------------------------


def _toml_text(raw: dict[str, Any], header: str) -> str:
    import tomli_w

    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + ("\n" if comments else "") + tomli_w.dumps(raw, multiline_strings=True)


def bundled_dir() -> Path:
    """The ``scenarios/`` folder of the source tree that this package belongs to."""
    return Path(__file__).resolve().parent.parent / "scenarios"


def bundled_scenarios(folder: str | Path | None = None) -> dict[str, Path]:
    """Scenario files by stem (``"csp2023"``) in ``folder`` (default: the bundled scenarios/)."""
    from sim.errors import HedgesimError

    where = Path(folder) if folder is not None else bundled_dir()
    if not where.is_dir():
        raise HedgesimError(f"{where}: no such folder of scenarios")
    return {p.stem: p for p in sorted(where.glob("*.toml"))}
