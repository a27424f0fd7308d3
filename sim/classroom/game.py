"""One class's game: teams, rounds, choices as dated events, the timer, undo, shocks and the export.

A game is a scenario that grows by one round of events at a time. Each round is a quarter (or a
year of four quarters). Every team (each great power and the small state) chooses from a menu
that the scenario language can say, and its choices become events dated at the round's first
quarter:

========================  ==================================================================
power's menu              events (docs/ODD.md, section 7)
========================  ==================================================================
aid x0.5 ... x1.5         ``aid`` with that ``scale``, in force from then on (cumulative)
presence reduce/expand    ``shock`` on ``<power>.presence``, add -0.1 / +0.1, from then on
presence: port call       ``port_call`` (presence +0.1 for the round; eases tension)
governance                endorse = ``recognition``, criticise = ``criticism``,
                          sanction = ``sanctions`` for four quarters; quiet = none
partnership offer         ``partnership`` one tier up, if the small state accepts
========================  ==================================================================

The small state's alignment is the model's outcome (no event sets influence or alignment,
docs/ODD.md 4.9), so its team chooses what it controls: which partnership offers it accepts, to
which power it grants naval access (``naval_access``), and with which power it signs a
cooperation framework (``cooperation``). Its alignment then follows from the model's logit rule.

A great power played by a team stops deciding by the model's rule (``decides = []``) and its
historical policy events from the first round on are left out: the team's events take their
place. Roles without a team keep the scenario's own play (the model's rule and the dated
history), and a model-played power offers an upgrade by the model's rule (engagement at least
``upgrade_engagement``), a model-played small state accepts one by it (an alignment share of at
least 1/P; sim.agents.GreatPower.offer_upgrade). A team that is late when the timer runs out has
its choice made by the model: the change that the model's rule makes to that power's instruments
in this quarter, in a run of the game so far in which the model plays it from the start,
translated to the nearest item of the menu.

After a round closes, the ensemble is re-run from the start to the round's last quarter with the
game's seed and runs: every random number is a function of (seed, run, step, stream), so the same
choices give the same numbers, and the class's path differs from the model's own play only by
what the class decided (common random numbers; Law 2015, section 11.2).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.errors import HedgesimError
from sim.quantities import format_date, parse_date
from sim.scenario import INSTRUMENTS, GreatPower, Scenario

#: The menu of a power's aid: the flow is multiplied by one of these (1 keeps it).
AID_STEPS = (0.5, 0.75, 1.0, 1.25, 1.5)
#: A power's presence moves, and what each adds to its presence (the model's rule moves an
#: instrument at most 0.1 a quarter: sim.agents.MAX_MOVE).
PRESENCE_MOVES = {"reduce": -0.1, "hold": 0.0, "port_call": 0.0, "expand": 0.1}
#: A power's governance moves.
GOVERNANCE = ("endorse", "quiet", "criticise", "sanction")
#: Magnitudes of the events a choice makes (the event catalogue's defaults).
MAGNITUDE = {"recognition": 0.1, "criticism": 0.15, "sanctions": 0.2, "port_call": 0.1, "cooperation": 0.05}
#: Quarters that sanctions chosen in the game stay in force.
SANCTIONS_QUARTERS = 4
#: Quarters between two partnership upgrades with one power (sim.agents.UPGRADE_INTERVAL).
UPGRADE_INTERVAL = 4
#: Event kinds the teacher can inject as shocks, with the power they concern.
SHOCK_KINDS = ("criticism", "recognition", "sanctions", "port_call", "naval_access", "cooperation", "aid")
#: The teacher's "aid" shock without a size: the power's aid is halved from then on.
AID_SHOCK = 0.5
#: Runs of the game's ensemble (small: a round closes in a fraction of a second).
RUNS = 100


class GameError(HedgesimError):
    """A request the game refuses: a bad choice, a wrong token, an action out of turn. One line."""


@dataclass(frozen=True)
class PowerChoice:
    """A great power's choice for one round."""

    aid: float = 1.0
    presence: str = "hold"
    governance: str = "quiet"
    offer: bool = False


@dataclass(frozen=True)
class SmallChoice:
    """The small state's choice for one round (powers by id)."""

    accept: tuple[str, ...] = ()
    access: str | None = None
    framework: str | None = None


Choice = PowerChoice | SmallChoice


@dataclass
class Round:
    """A closed round: its first and last quarter, who chose what, and the events it added."""

    number: int
    first: str
    last: str
    choices: dict[str, Choice]
    by: dict[str, str]  # role -> "team", "model" (late team), "scenario" (no team)
    shocks: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    bands: dict[str, tuple[float, float, float]] = field(default_factory=dict)


class Game:
    """The game of one class, shared by every page of the server (thread-safe).

    Args:
        scenario: the scenario the class plays from its start.
        runs, seed: the ensemble re-run after each round (seed: the scenario's, else 1).
        quarters: quarters per round (1, or 4 for a year).
        timer: seconds a round stays open once the teacher starts it (0: no timer). Every round
            waits, paused, for the teacher to start it (time to talk over the last outcome).
        clock: a monotonic clock in seconds (tests pass their own).
    """

    def __init__(
        self,
        scenario: Scenario,
        runs: int = RUNS,
        seed: int | None = None,
        quarters: int = 1,
        timer: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if quarters not in (1, 4):
            raise GameError(f"--round: expected quarter or year, found {quarters} quarters")
        if not 1 <= runs <= 10_000:
            raise GameError(f"--runs: expected 1 to 10000, found {runs}")
        if not 0 <= timer <= 86_400:
            raise GameError(f"--timer: expected 0 to 86400 seconds, found {timer:g}")
        self.base, self.runs, self.quarters, self.timer = scenario, runs, quarters, float(timer)
        self.seed = seed if seed is not None else (scenario.scenario.seed or 1)
        self.clock = clock
        self.powers, self.small = scenario.powers, scenario.small
        self.roles = [*self.powers, self.small]
        self.names = {k: a.name for k, a in scenario.actors.items()}
        self.total_rounds = scenario.steps // quarters
        if self.total_rounds < 1:
            raise GameError(
                f"{scenario.source}: the horizon is shorter than one round of {quarters} quarters"
            )
        self.join_code = _code()
        self.teacher_token = secrets.token_urlsafe(12)
        self.tokens: dict[str, str] = {}  # token -> role
        self.seats: dict[str, str] = {}  # role -> token
        self.played: frozenset[str] | None = None  # roles played by teams, fixed by the first round
        self.rounds: list[Round] = []
        self.submissions: dict[str, Choice] = {}
        self.shocks: list[dict[str, Any]] = []
        self.paused = True
        self.remaining = self.timer
        self.running_since: float | None = None
        self._histories: dict[tuple[int, frozenset[str]], list[dict[str, Any]]] = {}
        self.version = 0  # counts every change (the teacher's page follows it)
        self.public = 0  # counts the changes every team sees: rounds, undo, the timer
        self.ensemble: Any = None
        self.address = "http://127.0.0.1:8765/"  # where students reach the server (set by it)
        self._lock = self.lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

    # ---- who is who --------------------------------------------------------------------------
    def join(self, code: str, role: str) -> str:
        """A team's token for ``role``, given the class's join code. The code admits one student to
        each team: a team already joined is refused, so that nobody can read or change another
        team's choice by joining it too. Teammates at other machines open their team's own link
        (shown on its page), and a student whose laptop closed opens it again."""
        with self._lock:
            if not secrets.compare_digest(str(code).strip().upper(), self.join_code):
                raise GameError("join code: not this class's code; ask the teacher for it")
            if role not in self.roles:
                raise GameError(f"team: unknown team {role!r}; expected one of {', '.join(self.roles)}")
            if self.played is not None and role not in self.played:
                raise GameError(f"team: the game has started and {self.names[role]} is played by the model")
            if role in self.seats:
                raise GameError(
                    f"team: {self.names[role]} has joined already; open your team's link"
                    " from its page on a teammate's machine"
                )
            token = secrets.token_urlsafe(12)
            self.seats[role], self.tokens[token] = token, role
            self._touch(public=False)
            return token

    def role_of(self, token: str | None) -> str:
        """The team a token belongs to."""
        role = self.tokens.get(token or "")
        if role is None:
            raise GameError("team token: unknown; open the join link again")
        return role

    def is_teacher(self, token: str | None) -> bool:
        return token is not None and secrets.compare_digest(str(token), self.teacher_token)

    def _teacher(self, token: str | None) -> None:
        if not self.is_teacher(token):
            raise GameError("only the teacher's page can do this")

    # ---- the round ---------------------------------------------------------------------------
    @property
    def over(self) -> bool:
        return len(self.rounds) >= self.total_rounds

    def round_dates(self, number: int) -> tuple[int, int]:
        """First and last quarter (as indices) of round ``number`` (1-based)."""
        first = self.base.start + (number - 1) * self.quarters + 1
        return first, first + self.quarters - 1

    @property
    def current(self) -> int:
        """The number of the open round (1-based)."""
        return len(self.rounds) + 1

    def teams(self) -> list[str]:
        """The roles played by teams now (joined, or fixed by the first round)."""
        return [r for r in self.roles if (r in self.played if self.played is not None else r in self.seats)]

    def submit(self, token: str, data: dict[str, Any], number: int | None = None) -> Choice:
        """Validate a team's choice for the open round and keep it (a new one replaces it). Closes
        the round when every team has submitted. ``number``, the round the page showed, refuses a
        choice sent as that round closed, which would otherwise count for the next one."""
        with self._lock:
            role = self.role_of(token)
            if self.over:
                raise GameError("the game is over; no more rounds")
            if number is not None and number != self.current:
                raise GameError(f"round {number} has closed; choose again for round {self.current}")
            choice = self.parse(role, data)
            self.submissions[role] = choice
            if not self.paused and all(r in self.submissions for r in self.teams()):
                self._close()  # one change for the pages: the round closed
            else:
                self._touch(public=False)
            return choice

    def parse(self, role: str, data: dict[str, Any]) -> Choice:
        """A choice from a form's data, or a one-line :class:`GameError`."""
        if not isinstance(data, dict):
            raise GameError(f"{role}: expected a choice (a table of fields), found {type(data).__name__}")
        who = self.names[role]
        if role == self.small:
            unknown = set(data) - {"accept", "access", "framework"}
            if unknown:
                raise GameError(f"{who}: unknown field {sorted(unknown)[0]!r}")
            accept = data.get("accept", ())
            if isinstance(accept, str) or not isinstance(accept, list | tuple):
                raise GameError(f"{who}: accept: expected a list of powers, found {accept!r}")
            for p in accept:
                if p not in self.powers:
                    raise GameError(f"{who}: accept: unknown power {p!r}; expected some of {self.powers}")
            for key in ("access", "framework"):
                v = data.get(key)
                if v is not None and v not in self.powers:
                    raise GameError(f"{who}: {key}: unknown power {v!r}; expected one of {self.powers}")
            access = data.get("access")
            if access is not None and access in self._granted():
                raise GameError(f"{who}: access: {self.names[access]} already has naval access")
            return SmallChoice(tuple(sorted(set(accept))), access, data.get("framework"))
        unknown = set(data) - {"aid", "presence", "governance", "offer"}
        if unknown:
            raise GameError(f"{who}: unknown field {sorted(unknown)[0]!r}")
        aid = data.get("aid", 1.0)
        if isinstance(aid, bool) or not isinstance(aid, int | float) or float(aid) not in AID_STEPS:
            raise GameError(f"{who}: aid: expected one of {', '.join(map(str, AID_STEPS))}, found {aid!r}")
        presence = data.get("presence", "hold")
        if presence not in PRESENCE_MOVES:
            raise GameError(
                f"{who}: presence: expected one of {', '.join(PRESENCE_MOVES)}, found {presence!r}"
            )
        governance = data.get("governance", "quiet")
        if governance not in GOVERNANCE:
            raise GameError(
                f"{who}: governance: expected one of {', '.join(GOVERNANCE)}, found {governance!r}"
            )
        offer = data.get("offer", False)
        if not isinstance(offer, bool):
            raise GameError(f"{who}: offer: expected true or false, found {offer!r}")
        actor = self.base.actors[role]
        assert isinstance(actor, GreatPower)
        scale = self._aid_scale(role) * float(aid)
        committed = _initial_aid(actor) * scale
        if float(aid) > 1 and committed > actor.budget + 1e-9:
            raise GameError(
                f"{who}: aid: x{aid:g} would commit {committed:.0f} USD m a quarter, above the budget of"
                f" {actor.budget:.0f}"
            )
        level = actor.presence + self._presence_added(role) + PRESENCE_MOVES[presence]
        if not -1e-9 <= level <= 1 + 1e-9:
            raise GameError(f"{who}: presence: cannot {presence} (presence would leave 0..1)")
        if offer and self.tier(role) <= 1:
            raise GameError(f"{who}: offer: already in the top tier of partnership")
        return PowerChoice(float(aid), presence, governance, offer)

    def last_choice(self, role: str) -> Choice | None:
        """A team's choice in the last round played (None if none)."""
        return self.rounds[-1].choices.get(role) if self.rounds else None

    def inject(self, token: str, event: dict[str, Any]) -> dict[str, Any]:
        """The teacher adds a shock (an event of the scenario's catalogue) to the open round."""
        from pydantic import ValidationError

        from sim.events import KINDS

        with self._lock:
            self._teacher(token)
            kind = event.get("kind")
            if kind not in SHOCK_KINDS:
                raise GameError(f"shock: kind: expected one of {', '.join(SHOCK_KINDS)}, found {kind!r}")
            if event.get("power") not in self.powers:
                raise GameError(
                    f"shock: power: expected one of {', '.join(self.powers)}, found {event.get('power')!r}"
                )
            first, _ = self.round_dates(self.current)
            ev = {k: v for k, v in event.items() if k not in ("title", "date")}
            if kind == "aid" and "scale" not in ev and "add" not in ev:
                ev["scale"] = AID_SHOCK  # the teacher's button: an aid event that changes nothing is no shock
            what = (
                "aid halved" if ev.get("scale") == AID_SHOCK and "add" not in ev else kind.replace("_", " ")
            )
            title = str(event.get("title") or f"{what} ({self.names[event['power']]})")
            ev.update(date=format_date(first), title=f"Shock, {format_date(first)}: {title}")
            try:
                KINDS[kind].model_validate(ev, strict=True)
            except ValidationError as err:  # the first problem, in one line
                first_error = err.errors()[0]
                loc = ".".join(map(str, first_error["loc"]))
                raise GameError(f"shock: {loc}: {first_error['msg']}") from None
            self.shocks.append(ev)
            self._touch(public=False)
            return ev

    def pause(self, token: str, paused: bool) -> None:
        """Stop or start the round's timer (a new game starts paused)."""
        with self._lock:
            self._teacher(token)
            now = self.clock()
            if paused and not self.paused and self.running_since is not None:
                self.remaining = max(0.0, self.remaining - (now - self.running_since))
                self.running_since = None
            if not paused and self.paused:
                self.running_since = now
            self.paused = paused
            self._touch()
            if not paused and self.teams() and all(r in self.submissions for r in self.teams()):
                self._close()

    def left(self) -> float | None:
        """Seconds left on the round's timer (None: no timer)."""
        if self.timer <= 0:
            return None
        used = self.clock() - self.running_since if self.running_since is not None else 0.0
        return max(0.0, self.remaining - used)

    def tick(self) -> bool:
        """Close the round if its timer ran out (called a few times a second). True if it closed."""
        with self._lock:
            left = self.left()
            if self.paused or self.over or left is None or left > 0:
                return False
            self._close()
            return True

    def step(self, token: str) -> Round:
        """The teacher closes the open round now: the model decides for teams that have not submitted."""
        with self._lock:
            self._teacher(token)
            if self.over:
                raise GameError("the game is over; no more rounds")
            return self._close()

    def undo(self, token: str) -> Round:
        """The teacher drops the last round; it opens again, empty and paused."""
        with self._lock:
            self._teacher(token)
            if not self.rounds:
                raise GameError("undo: no round has been played")
            gone = self.rounds.pop()
            if not self.rounds:
                self.played = None
            self.submissions, self.shocks = {}, []
            self.paused, self.remaining, self.running_since = True, self.timer, None
            self.ensemble = self.simulate(self.scenario()) if self.rounds else None
            self._touch()
            return gone

    def _close(self) -> Round:
        number = self.current
        first, last = self.round_dates(number)
        if self.played is None:
            self.played = frozenset(self.seats)
        choices: dict[str, Choice] = {}
        by: dict[str, str] = {}
        for role in self.roles:
            if role in self.submissions:
                choices[role], by[role] = self.submissions[role], "team"
            elif role in self.played:
                choices[role], by[role] = self.model_choice(role), "model"
            else:
                by[role] = "scenario"
        rnd = Round(number, format_date(first), format_date(last), choices, by, list(self.shocks))
        rnd.events = self._events(rnd) + rnd.shocks
        self.rounds.append(rnd)
        try:
            self.ensemble = self.simulate(self.scenario())
        except HedgesimError:
            self.rounds.pop()
            raise
        rnd.bands = bands(self.ensemble, last - self.base.start, self.powers, self.small)
        self.submissions, self.shocks = {}, []
        self.paused, self.remaining, self.running_since = True, self.timer, None  # the teacher starts it
        self._touch()
        return rnd

    # ---- events from choices -----------------------------------------------------------------
    def _events(self, rnd: Round) -> list[dict[str, Any]]:
        """The round's choices as dated events (module docstring's table)."""
        date, out = rnd.first, []

        def add(kind: str, role: str, what: str, **fields: Any) -> None:
            title = f"{self.names[role]}, {date} (class): {what}"
            out.append({"date": date, "title": title, "kind": kind, **fields})

        offers = {p for p, c in rnd.choices.items() if isinstance(c, PowerChoice) and c.offer}
        first = parse_date(date)
        for p in self.powers:
            c = rnd.choices.get(p)
            if c is None:  # played by the scenario: offers by the model's rule
                if rnd.by[p] == "scenario" and self._model_offers(p, first):
                    offers.add(p)
                continue
            assert isinstance(c, PowerChoice)
            if c.aid != 1.0:
                add("aid", p, f"aid x{c.aid:g}", power=p, scale=c.aid)
            if c.presence in ("reduce", "expand"):
                add(
                    "shock",
                    p,
                    f"presence {c.presence}",
                    target=f"{p}.presence",
                    add=PRESENCE_MOVES[c.presence],
                )
            elif c.presence == "port_call":
                add(
                    "port_call",
                    p,
                    "port call",
                    power=p,
                    magnitude=MAGNITUDE["port_call"],
                    duration=self.quarters,
                )
            if c.governance == "endorse":
                add("recognition", p, "endorses the government", power=p, magnitude=MAGNITUDE["recognition"])
            elif c.governance == "criticise":
                add("criticism", p, "criticises governance", power=p, magnitude=MAGNITUDE["criticism"])
            elif c.governance == "sanction":
                add(
                    "sanctions",
                    p,
                    "sanctions",
                    power=p,
                    magnitude=MAGNITUDE["sanctions"],
                    duration=SANCTIONS_QUARTERS,
                )
        s = rnd.choices.get(self.small)
        accepts = (
            set(s.accept) if isinstance(s, SmallChoice) else {p for p in offers if self._model_accepts(p)}
        )
        for p in sorted(offers & accepts):
            tier = self.tier(p)
            if tier > 1 and self._since_upgrade(p, first) >= UPGRADE_INTERVAL:
                add("partnership", p, f"partnership upgraded to tier {tier - 1}", power=p, tier=tier - 1)
        if isinstance(s, SmallChoice):
            if s.access is not None:
                add("naval_access", self.small, f"naval access for {self.names[s.access]}", power=s.access)
            if s.framework is not None:
                mag = MAGNITUDE["cooperation"]
                add(
                    "cooperation",
                    self.small,
                    f"framework with {self.names[s.framework]}",
                    power=s.framework,
                    magnitude=mag,
                )
        return out

    # ---- the model's rules for roles without a (punctual) team --------------------------------
    def _at(self, var: str, step: int) -> float:
        """Median of a variable at a step of the game's ensemble so far (the start if none)."""
        if self.ensemble is None or step >= len(self.ensemble.dates):
            ens = self._start_ensemble()
        else:
            ens = self.ensemble
        step = min(step, len(ens.dates) - 1)
        return float(ens.quantiles(var)[2, step])

    def _start_ensemble(self) -> Any:
        if getattr(self, "_start", None) is None:
            first, _ = self.round_dates(1)
            self._start = self.simulate(self.truncated(self.base, first))
        return self._start

    def _model_offers(self, power: str, first: int) -> bool:
        """sim.agents.GreatPower.offer_upgrade: engagement at least ``upgrade_engagement``."""
        return self._at(f"{power}.engagement", first - 1 - self.base.start) >= self._upgrade_engagement()

    def _upgrade_engagement(self) -> float:
        """The scenario's ``upgrade_engagement`` (a distribution's mean, for the menu's rule)."""
        value = self.base.parameters.upgrade_engagement
        return float(value) if isinstance(value, int | float) else float(value.mean())

    def _model_accepts(self, power: str) -> bool:
        """The small state accepts when its mean alignment share toward the power is at least 1/P."""
        first, _ = self.round_dates(self.current)
        share = self._at(f"{self.small}.alignment.{power}", first - 1 - self.base.start)
        return share * len(self.powers) >= 1.0

    def model_choice(self, role: str) -> Choice:
        """What the model chooses for a late team (module docstring): the small state accepts offers
        by its rule; a power's choice is the change its rule makes in this quarter, in the game so far
        with the model playing it from the start, put on the nearest item of the menu."""
        if role == self.small:
            return SmallChoice(tuple(p for p in self.powers if self._model_accepts(p)))
        first, _ = self.round_dates(self.current)
        sc = self.scenario(upto=first)
        raw = sc.raw()
        raw["actors"][role]["decides"] = list(INSTRUMENTS)
        if raw["scenario"].get("decisions", "both") == "historical":
            raw["scenario"]["decisions"], raw["scenario"]["decide_from"] = "both", format_date(first)
        ens = self.simulate(_rebuild(sc, raw))
        t = first - self.base.start

        def q(var: str, step: int) -> float:
            return float(ens.quantiles(f"{role}.{var}")[2, step])

        before, after = q("aid", t - 1), q("aid", t)
        ratio = after / before if before > 0 else 1.0
        actor = self.base.actors[role]
        assert isinstance(actor, GreatPower)
        allowed = [
            a for a in AID_STEPS if a <= 1 or _initial_aid(actor) * self._aid_scale(role) * a <= actor.budget
        ]
        aid = min(allowed, key=lambda a: (abs(math.log(a / ratio)) if ratio > 0 else a, abs(a - 1)))
        moved = q("presence", t) - q("presence", t - 1)
        presence = "expand" if moved >= 0.05 else "reduce" if moved <= -0.05 else "hold"
        level = actor.presence + self._presence_added(role) + PRESENCE_MOVES[presence]
        if not 0 <= level <= 1:
            presence = "hold"
        pressed = q("pressure", t) - q("pressure", t - 1)
        governance = "criticise" if pressed > 0.02 else "endorse" if pressed < -0.02 else "quiet"
        offer = q("engagement", t) >= self._upgrade_engagement() and self.tier(role) > 1
        return PowerChoice(aid, presence, governance, offer)

    # ---- what the game's choices add up to -----------------------------------------------------
    def _game_events(self) -> list[dict[str, Any]]:
        return [e for r in self.rounds for e in r.events]

    def _aid_scale(self, power: str) -> float:
        return math.prod(
            e["scale"]
            for e in self._game_events()
            if e["kind"] == "aid"
            and e.get("power") == power
            and e["title"].startswith(f"{self.names[power]},")
        )

    def _presence_added(self, power: str) -> float:
        return sum(
            e["add"]
            for e in self._game_events()
            if e["kind"] == "shock" and e["target"] == f"{power}.presence"
        )

    def _granted(self) -> set[str]:
        return {
            e["power"] for e in self._game_events() if e["kind"] == "naval_access" and "(class)" in e["title"]
        }

    def tier(self, power: str) -> int:
        """The partnership tier with a power at the open round: the last partnership event in play
        dated before the round, else the initial tier."""
        first, _ = self.round_dates(self.current)
        st = self.base.actors[self.small]
        tier = st.tier.get(power, 3)  # type: ignore[union-attr]
        for e in self._history(first) + self._game_events():
            if e["kind"] == "partnership" and e.get("power") == power and parse_date(e["date"]) < first:
                tier = e["tier"]
        return tier

    def _since_upgrade(self, power: str, first: int) -> int:
        dates = [
            parse_date(e["date"])
            for e in self._game_events()
            if e["kind"] == "partnership" and e["power"] == power
        ]
        return first - max(dates) if dates else UPGRADE_INTERVAL

    def _history(self, upto: int) -> list[dict[str, Any]]:
        """The scenario's events in the game: those in play, dated up to ``upto``, without the
        policy moves of team-played powers from the first round on, nor (when the small state has
        a team) the upgrades and access from then (the class decides those)."""
        from sim.events import KINDS

        played = self.played if self.played is not None else frozenset(self.seats)
        key = (upto, frozenset(played))
        if key in self._histories:
            return self._histories[key]
        sc = self.base
        kept_titles = {e.title for e in sc.events_in_play()}
        first, _ = self.round_dates(1)
        out = []
        for e in sc.raw().get("events", []):
            if e["title"] not in kept_titles or parse_date(e["date"]) > upto:
                continue
            d = parse_date(e["date"])
            if d >= first:
                if KINDS[e["kind"]].policy and e.get("power") in played:
                    continue
                if self.small in played and e["kind"] in ("partnership", "naval_access"):
                    continue
            out.append(e)
        self._histories[key] = out
        return out

    def scenario(self, upto: int | None = None) -> Scenario:
        """The game so far as a scenario file's data: the scenario's history (as in :meth:`_history`),
        the rounds' events, the team-played powers with ``decides = []``, and the horizon ending at
        the last round played (or at quarter ``upto``, for the model's choices)."""
        if upto is None:
            upto = self.round_dates(len(self.rounds))[1] if self.rounds else self.round_dates(1)[1]
        base = self.base
        raw = base.raw()
        meta = raw["scenario"]
        meta["name"] = f"{base.name}-class"[:60]
        meta["title"] = f"{base.scenario.title}: the class's game"
        meta["description"] = (
            f"The game a class played on {base.name} ({len(self.rounds)} rounds of {self.quarters} quarter"
            f"{'s' if self.quarters > 1 else ''}): teams chose for "
            f"{', '.join(self.names[r] for r in self.roles if r in (self.played or ())) or 'no role'}; "
            "their choices are the events marked (class). Written by hedgesim classroom."
        )
        meta["end"] = format_date(upto)
        meta["runs"], meta["seed"] = self.runs, self.seed
        if meta.get("decisions", "both") == "strategic":
            meta["decisions"] = "both"  # the history in play is already filtered below
        played = self.played if self.played is not None else frozenset(self.seats)
        for p in self.powers:
            if p in played:
                raw["actors"][p]["decides"] = []
        raw["events"] = self._history(upto) + [
            e for e in self._game_events() if parse_date(e["date"]) <= upto
        ]
        return _rebuild(base, raw)

    def truncated(self, sc: Scenario, upto: int) -> Scenario:
        """``sc`` ending at quarter ``upto`` (an index), without the events dated after it."""
        raw = sc.raw()
        raw["scenario"]["end"] = format_date(upto)
        raw["events"] = [e for e in raw.get("events", []) if parse_date(e["date"]) <= upto]
        return _rebuild(sc, raw)

    def simulate(self, sc: Scenario) -> Any:
        """The ensemble of a scenario with the game's runs and seed (in this process)."""
        from sim.ensemble import run

        return run(sc, runs=self.runs, seed=self.seed, progress=False, workers=1)

    # ---- export ------------------------------------------------------------------------------
    def export_toml(self) -> str:
        """The game as a scenario file that ``hedgesim run`` reproduces (same runs and seed)."""
        with self._lock:
            if not self.rounds:
                raise GameError("export: no round has been played")
            lines = [
                f"round {r.number} ({r.first}): " + ", ".join(f"{self.names[k]} {v}" for k, v in r.by.items())
                for r in self.rounds
            ]
            header = (
                f"The class's game on {self.base.name}, written by hedgesim classroom.\n"
                f"hedgesim run this file reproduces it ({self.runs} runs, seed {self.seed}).\n"
                "Who chose, by round (team, model: the team was late, scenario: no team):\n"
                + "\n".join(lines)
            )
            return self.scenario().to_toml(header)

    def export_csv(self) -> str:
        """The game's ensemble summary (date, variable, mean, sd, quantiles) as CSV."""
        with self._lock:
            if self.ensemble is None:
                raise GameError("export: no round has been played")
            return self.ensemble.summary().to_csv(index=False)

    # ---- what the pages show -------------------------------------------------------------------
    def news(self, number: int | None = None) -> list[tuple[str, str, str]]:
        """(date, kind, title) of the scenario's own events dated in a round: what happened then."""
        first, last = self.round_dates(number or self.current)
        return [
            (format_date(parse_date(e.date)), e.kind, e.title)
            for e in self.base.events
            if first <= parse_date(e.date) <= last
        ]

    def briefing(self, role: str) -> dict[str, Any]:
        """What a team knows before choosing: its budget and instruments (medians of the ensemble at
        the last quarter played), its tier, and the last round's bands."""
        with self._lock:
            t = (self.round_dates(self.current)[0] - 1) - self.base.start
            out: dict[str, Any] = {"role": role, "name": self.names[role]}
            if role in self.powers:
                actor = self.base.actors[role]
                assert isinstance(actor, GreatPower)
                out.update(
                    budget=actor.budget,
                    aid=self._at(f"{role}.aid", t),
                    presence=self._at(f"{role}.presence", t),
                    pressure=self._at(f"{role}.pressure", t),
                    engagement=self._at(f"{role}.engagement", t),
                    influence=self._at(f"{role}.influence", t),
                    tier=self.tier(role),
                )
            else:
                out.update(
                    alignment={p: self._at(f"{self.small}.alignment.{p}", t) for p in self.powers},
                    tiers={p: self.tier(p) for p in self.powers},
                    granted=sorted(self._granted()),
                )
            return out

    # ---- change notification -------------------------------------------------------------------
    def _touch(self, public: bool = True) -> None:
        """Wake the pages: all of them for a public change, the teacher's for any."""
        self.version += 1
        self.public += public
        self._changed.notify_all()

    def wait(self, version: int, timeout: float, public: bool = False) -> int:
        """Block until the game changes from ``version`` (or ``timeout`` s pass); the new version.
        ``public``: count only the changes every team sees (:attr:`public`), not another team's
        submission, so 30 pages are not redrawn at each of them."""
        counter = (lambda: self.public) if public else (lambda: self.version)
        with self._changed:
            self._changed.wait_for(lambda: counter() != version, timeout=timeout)
            return counter()


_CURRENT: list[Game] = []


def current() -> Game:
    """The game this server plays (set by :func:`set_current`)."""
    if not _CURRENT:
        raise GameError("no game: start one with hedgesim classroom SCENARIO")
    return _CURRENT[-1]


def set_current(game: Game) -> None:
    _CURRENT[:] = [game]


def bands(ens: Any, step: int, powers: list[str], small: str) -> dict[str, tuple[float, float, float]]:
    """p05, median and p95 at a step of the variables a round's outcome shows."""
    names = [f"{small}.alignment.{p}" for p in powers] + [f"{p}.influence" for p in powers]
    names += [f"{small}.hedging_index"]
    out = {}
    for v in names:
        q = ens.quantiles(v)[:, step]
        out[v] = (float(q[0]), float(q[2]), float(q[4]))
    return out


def _initial_aid(actor: GreatPower) -> float:
    """A power's committed aid at the start (as the model sets it: sim.model.HedgingModel)."""
    return min(actor.aid if actor.aid is not None else actor.budget * actor.interest, actor.budget)


def _rebuild(base: Scenario, raw: dict[str, Any]) -> Scenario:
    """``base`` changed to ``raw``'s [scenario] table, powers' ``decides`` and events, through the
    public, validating methods of :class:`Scenario` (no event is kept from ``base``)."""
    sc = base.without_events(*{e.title for e in base.events}) if base.events else base
    old = base.raw()
    changes = {f"scenario.{k}": v for k, v in raw["scenario"].items() if old["scenario"].get(k) != v}
    for k, actor in raw["actors"].items():
        if "decides" in actor and old["actors"][k].get("decides") != actor["decides"]:
            changes[f"actors.{k}.decides"] = actor["decides"]
    sc = sc.with_overrides(changes)
    return sc.with_events(*raw.get("events", []))


def _code() -> str:
    """A join code of six letters and digits that are hard to confuse when read aloud."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))
