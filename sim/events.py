"""The event catalogue: each kind of dated event, its fields, and what it changes.

An event acts in up to two ways, both from its date on:

* a **hold**: a change that lasts while the event is in force (``duration`` steps, or to the end
  of the horizon when no duration is given): a partnership tier, an aid scale, a presence gain, a
  raised level that tension relaxes toward. Holds are recomputed from the events in force whenever
  that set changes, so an event that ends leaves no residue.
* an **impulse**: a one-off jump of a stock (tension, regime pressure) at the date, which the
  stock's own dynamics then carry or relax.

No event touches a power's influence or the small state's alignment: those are outcomes, and an
event reaches them only through the mechanisms (docs/ODD.md, 4.9). Events are history: the moves
the record shows. Those that are a power's own policy (``policy = True``) are left out from the
first decision on when a scenario lets the powers decide alone (``decisions = "strategic"``).

Magnitudes may be numbers or distributions (see :mod:`sim.quantities`), drawn once per run.
The kinds follow the brief's catalogue; where the literature fixes a sign we cite it, the sizes are
judgement calls documented in docs/ODD.md (section 7, "Events").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.quantities import Date, Uncertain

if TYPE_CHECKING:
    from sim.model import Holds, State


class Context:
    """What an event needs to know about the cast: indices of actors and dyads."""

    def __init__(self, powers: list[str], small: str):
        self.powers, self.small = powers, small
        self.index = {p: i for i, p in enumerate(powers)}
        actors = sorted([*powers, small])
        self.dyads = [(a, b) for k, a in enumerate(actors) for b in actors[k + 1 :]]
        self.dyad_index = {d: k for k, d in enumerate(self.dyads)}

    def dyad(self, a: str, b: str) -> int:
        return self.dyad_index[(a, b) if a < b else (b, a)]


class Event(BaseModel):
    """Fields common to every event."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    #: Fields that may be drawn per run (names of attributes holding numbers or distributions).
    uncertain: ClassVar[tuple[str, ...]] = ()
    #: Duration (steps) when the file gives none; None: in force to the end of the horizon.
    default_duration: ClassVar[int | None] = None
    #: Whether the event is a power's own policy move (left to the powers under strategic decisions).
    policy: ClassVar[bool] = True

    date: Date = Field(description='When it happens, "2023Q3" (or a month "2023-07", mapped to its quarter).')
    title: str = Field(min_length=1, description="A short label, shown on plots.")
    source: str | None = Field(None, description="Citation or URL for the event (see the case file).")
    duration: int | None = Field(
        None, ge=1, le=10_000, description="Steps the event stays in force; default: to the end."
    )

    def hold(self, holds: Holds, ctx: Context, v: dict[str, Any]) -> None:
        """Add this event's lasting changes to ``holds`` (called while the event is in force)."""

    def impulse(self, state: State, ctx: Context, v: dict[str, Any]) -> None:
        """Apply this event's one-off jumps to ``state`` (called once, on its date)."""

    def target_power(self) -> str | None:
        return getattr(self, "power", None)


class Partnership(Event):
    """A partnership upgrade or downgrade: tier 1 = comprehensive strategic partnership (top),
    2 = strategic partnership, 3 = other. A tier changes what the relationship can carry, never
    influence or alignment directly: the credibility of the partner's aid, channels for security
    cooperation, and how the small state reads the partner's intentions (docs/ODD.md, 7.2;
    Cheunboran 2019; Kuik 2016 on "partnership" as a hedging instrument)."""

    kind: Literal["partnership"]
    power: str = Field(description="The great power whose partnership tier changes.")
    tier: Literal[1, 2, 3] = Field(description="1 = comprehensive strategic, 2 = strategic, 3 = other.")

    def hold(self, holds, ctx, v):
        holds.tier[ctx.index[self.power]] = self.tier


class Aid(Event):
    """A change in one power's aid: its flow is multiplied by ``scale`` and ``add`` USD million per
    quarter is added (a pause is ``scale = 0``; a pledge is ``add``), while in force."""

    kind: Literal["aid"]
    uncertain = ("scale", "add")
    power: str = Field(description="The great power whose aid changes.")
    scale: Uncertain(0, 100) = Field(1.0, description="Multiplier on the aid flow (1 = unchanged).")
    add: Uncertain(-1e5, 1e5) = Field(0.0, description="USD million per quarter added to the flow.")

    def hold(self, holds, ctx, v):
        i = ctx.index[self.power]
        holds.aid_scale[i] *= v["scale"]
        holds.aid_add[i] += v["add"]


class Sanctions(Event):
    """Sanctions by a power (arms embargo, visa bans): the power–small-state tension relaxes toward a
    level raised by ``magnitude`` while in force, and regime pressure jumps by it (the elite reads
    sanctions as a threat to regime survival: Kimkong Heng 2020; Ciorciari 2013)."""

    kind: Literal["sanctions"]
    uncertain = ("magnitude",)
    power: str = Field(description="The great power imposing sanctions.")
    magnitude: Uncertain(0, 1) = Field(0.2, description="Rise in tension level and regime pressure (0..1).")

    def hold(self, holds, ctx, v):
        holds.tension[ctx.dyad(self.power, ctx.small)] += v["magnitude"]

    def impulse(self, state, ctx, v):
        state.regime += v["magnitude"]


class Criticism(Event):
    """Public criticism of governance (e.g. an election called "neither free nor fair"): tension with
    the critic and the elite's regime pressure jump by ``magnitude``, then relax."""

    kind: Literal["criticism"]
    uncertain = ("magnitude",)
    power: str = Field(description="The great power that criticises.")
    magnitude: Uncertain(0, 1) = Field(0.15, description="Jump in tension and regime pressure (0..1).")

    def impulse(self, state, ctx, v):
        state.tension[ctx.dyad(self.power, ctx.small)] += v["magnitude"]
        state.regime += v["magnitude"]


class Recognition(Event):
    """A power endorses the government (e.g. recognises an election result): tension with it and
    regime pressure fall by ``magnitude``, then relax back."""

    kind: Literal["recognition"]
    uncertain = ("magnitude",)
    power: str = Field(description="The great power that endorses the government.")
    magnitude: Uncertain(0, 1) = Field(0.1, description="Fall in tension and regime pressure (0..1).")

    def impulse(self, state, ctx, v):
        state.tension[ctx.dyad(self.power, ctx.small)] -= v["magnitude"]
        state.regime -= v["magnitude"]


class NavalAccess(Event):
    """A power gains naval access or basing: its presence rises by ``magnitude`` while in force, and
    its tension with every other power jumps by ``tension`` (presence is Walt's offensive capability,
    and rivals read access as intent: Walt 1987, ch. 2)."""

    kind: Literal["naval_access"]
    uncertain = ("magnitude", "tension")
    power: str = Field(description="The great power that gains access.")
    magnitude: Uncertain(0, 1) = Field(0.3, description="Gain in security presence (0..1).")
    tension: Uncertain(0, 1) = Field(0.1, description="Jump in tension with each other power (0..1).")

    def hold(self, holds, ctx, v):
        holds.presence_add[ctx.index[self.power]] += v["magnitude"]

    def impulse(self, state, ctx, v):
        for other in ctx.powers:
            if other != self.power:
                state.tension[ctx.dyad(self.power, other)] += v["tension"]


class PortCall(Event):
    """A naval visit: presence rises by ``magnitude`` for ``duration`` steps (default 1) and tension
    with the small state eases by half of it (a goodwill gesture)."""

    kind: Literal["port_call"]
    uncertain = ("magnitude",)
    default_duration = 1
    power: str = Field(description="The great power whose navy visits.")
    magnitude: Uncertain(0, 1) = Field(0.1, description="Temporary gain in presence (0..1).")

    def hold(self, holds, ctx, v):
        holds.presence_add[ctx.index[self.power]] += v["magnitude"]

    def impulse(self, state, ctx, v):
        state.tension[ctx.dyad(self.power, ctx.small)] -= v["magnitude"] / 2


class Cooperation(Event):
    """A cooperation framework or trade deal: the small state's structural dependence on the power
    rises by ``magnitude`` (shares renormalised) while in force, and their tension eases by it.
    A negative magnitude is a setback (a tariff, a cancelled framework). Not a policy move of the
    power alone: it stays in play whoever decides."""

    kind: Literal["cooperation"]
    policy = False
    uncertain = ("magnitude",)
    power: str = Field(description="The great power the framework or deal is with.")
    magnitude: Uncertain(-1, 1) = Field(0.05, description="Shift in structural dependence (-1..1).")

    def hold(self, holds, ctx, v):
        holds.dependence[ctx.index[self.power]] += v["magnitude"]

    def impulse(self, state, ctx, v):
        state.tension[ctx.dyad(self.power, ctx.small)] -= v["magnitude"]


#: Targets of a generic shock: attributes are held (for the duration), stocks jump once.
SHOCK_ATTRIBUTES = ("budget", "interest", "conditionality", "presence")
SHOCK_STOCKS = ("regime_pressure", "tension")


class Shock(Event):
    """A generic change, for what the catalogue lacks. ``target`` names what changes:

    * ``<power>.budget`` / ``.interest`` / ``.conditionality`` / ``.presence``: held while in force,
      multiplied by ``scale`` and then ``add`` added;
    * ``<small>.regime_pressure``, ``tension.<a>-<b>``: a one-off jump by ``add``.

    Influence and alignment are outcomes and cannot be shocked. Not a policy move: it stays in play
    whoever decides.
    """

    kind: Literal["shock"]
    policy = False
    uncertain = ("add", "scale")
    target: str = Field(description='What changes, e.g. "us.budget" or "tension.china-us".')
    add: Uncertain(-1e5, 1e5) = Field(0.0, description="Amount added.")
    scale: Uncertain(0, 100) = Field(1.0, description="Multiplier (held attributes only).")

    def parts(self) -> tuple[str, str]:
        """(actor or "tension", attribute or dyad)."""
        head, _, tail = self.target.partition(".")
        return head, tail

    def hold(self, holds, ctx, v):
        head, attr = self.parts()
        if attr not in SHOCK_ATTRIBUTES:
            return
        i = ctx.index[head]
        getattr(holds, f"{attr}_scale")[i] *= v["scale"]
        getattr(holds, f"{attr}_add")[i] += v["add"]

    def impulse(self, state, ctx, v):
        head, attr = self.parts()
        if head == "tension":
            a, _, b = attr.partition("-")
            state.tension[ctx.dyad(a, b)] += v["add"]
        elif attr == "regime_pressure":
            state.regime += v["add"]

    def target_power(self) -> str | None:
        return None


KINDS: dict[str, type[Event]] = {
    "partnership": Partnership,
    "aid": Aid,
    "sanctions": Sanctions,
    "criticism": Criticism,
    "recognition": Recognition,
    "naval_access": NavalAccess,
    "port_call": PortCall,
    "cooperation": Cooperation,
    "shock": Shock,
}

AnyEvent = Annotated[
    Partnership | Aid | Sanctions | Criticism | Recognition | NavalAccess | PortCall | Cooperation | Shock,
    Field(discriminator="kind"),
]

__all__ = ["KINDS", "AnyEvent", "Context", "Event"]
