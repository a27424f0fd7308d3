"""HedgingModel: the step order, the events, and the recording of outputs.

One model steps a whole ensemble in lockstep. Its state is a set of arrays with the run axis last
(``influence[power, run]``, ``alignment[dimension, power, run]``), so each variable is one contiguous
row per actor. A step is synchronous: every process reads the state at the start of the step and
writes a second buffer, and the two are swapped at the end (the brief's "all decide, then all
commit"). The agents are a Mesa ``AgentSet`` and are stepped through it.

Step t (t = 1..T), from the state dated start + t - 1 to the state dated start + t:

0. events dated for step t start (impulses, holds) and events that ran out end;
1. the powers decide their policy (:meth:`GreatPower.decide`), disburse aid and, under strategic
   decisions, offer partnership upgrades;
2. influence (:meth:`GreatPower.update_influence`);
3. tension (:meth:`HedgingModel.update_tension`);
4. the small state decides its alignment (:meth:`SmallState.decide`), then dependence and regime
   pressure move;
5. the new state is recorded (:mod:`sim.reporters`).

Run k's trajectory depends only on (scenario, seed, k): parameters, event magnitudes and noise are
all drawn from counter-based streams keyed by the run's index (:mod:`sim.noise`).

Two engines compute steps 1-5. ``numpy`` calls the agents' methods, which state the equations: each
is a pass over rows of runs. ``kernel`` runs the same equations compiled with numba, fused into one
loop over runs (:mod:`sim.kernel`), two to six times faster once loaded; loading it (numba's import
and the compiled code from its cache) takes about a second. The two give the same bits in every
output (tests/test_kernel.py: the same operations in the same order, and an ``exp`` of their own,
:mod:`sim.exponential`), so the choice is one of speed alone, made by :func:`choose_engine` from the
size of the work: small work (a default ``hedgesim run``, a lesson's ensembles) is done before the
kernel would have loaded. ``HedgingModel(..., engine="numpy")`` or the environment variable
``HEDGESIM_ENGINE=numpy`` (or ``kernel``), which worker processes inherit, overrides it.
"""

from __future__ import annotations

import os
import sys
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.agents import (
    AID,
    CREDIBILITY_CHANNEL,
    ENGAGEMENT,
    PRESENCE,
    PRESSURE,
    SECURITY_CHANNEL,
    TRUST_CHANNEL,
    GreatPower,
    SmallState,
    contest,
)
from sim.events import SHOCK_ATTRIBUTES
from sim.noise import Streams, stream_key
from sim.quantities import format_date, parse_date, resolve
from sim.reporters import output_table, record
from sim.resources import empty
from sim.scenario import DIMENSIONS, INSTRUMENTS

if TYPE_CHECKING:
    from collections.abc import Callable

    from sim.scenario import Scenario

#: The ways to compute a step: the compiled kernel and the agents' numpy methods (the same bits).
ENGINES = ("kernel", "numpy")

#: Work of at least this many run-steps (runs x steps, in all) goes to the compiled kernel: below
#: it, the numpy engine finishes before the kernel would have loaded (about 1.1 s on 2 cores; at
#: 10^6 run-steps numpy takes about 2 s, the kernel 1 s plus its load). See benchmarks/README.md.
KERNEL_FROM = 1_000_000


def choose_engine(run_steps: int = 0) -> str:
    """The engine for work of ``run_steps`` run-steps in all: ``HEDGESIM_ENGINE`` if set; else the
    kernel when the work reaches :data:`KERNEL_FROM` or when this process has loaded the kernel
    already (its cost is paid); else numpy. Both give the same bits: this is a choice of speed."""
    from sim.errors import HedgesimError

    env_threads()  # a bad thread count is refused whichever engine runs
    engine = os.environ.get("HEDGESIM_ENGINE")
    if engine:
        if engine not in ENGINES:
            raise HedgesimError(f"HEDGESIM_ENGINE: expected {' or '.join(ENGINES)}, found {engine!r}")
        return engine
    return "kernel" if run_steps >= KERNEL_FROM or "sim.kernel" in sys.modules else "numpy"


def load_engine_for(run_steps: int) -> None:
    """Load the kernel now if work of ``run_steps`` run-steps in all warrants it, so that the many
    small models of that work (a calibration's draws, say) all use it (:func:`choose_engine`)."""
    if choose_engine(run_steps) == "kernel":
        import sim.kernel  # noqa: F401


def env_threads() -> int | None:
    """``HEDGESIM_THREADS``: the threads of the kernel's step (None when unset)."""
    from sim.errors import HedgesimError

    value = os.environ.get("HEDGESIM_THREADS")
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise HedgesimError(f"HEDGESIM_THREADS: expected a whole number >= 1, found {value!r}")
    return int(value)


#: The channels of a partnership tier, in the order of the rows of ``closeness`` (:meth:`observe`).
CHANNELS = {
    "aid_credibility": CREDIBILITY_CHANNEL,
    "security_cooperation": SECURITY_CHANNEL,
    "trust": TRUST_CHANNEL,
}


class State:
    """The model's stocks at one date, over all runs (run axis last).

    Every stock is a view of one block of rows, ``block`` (rows, runs), in the order of
    :meth:`arrays`: one allocation per state, and one argument for the compiled step.
    """

    def __init__(self, powers: int, dyads: int, runs: int):
        P, D, dims = powers, dyads, len(DIMENSIONS)  # noqa: N806
        self.block = np.zeros((12 * P + D + 1, runs))
        rows = iter(np.cumsum([0, P, 4 * P, P, dims * P, P, D, 1, P, P]))
        a = next(rows)
        views = []
        for b in rows:
            views.append(self.block[a:b])
            a = b
        aid, policy, influence, alignment, dependence, tension, regime, tier, tier_age = views
        self.aid = aid
        self.policy = policy.reshape(len(INSTRUMENTS), P, runs)
        self.influence = influence
        self.alignment = alignment.reshape(dims, P, runs)
        self.dependence = dependence
        self.tension = tension
        self.regime = regime[0]
        self.tier = tier
        self.tier_age = tier_age

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Every stock, in the order of the rows of ``block``."""
        return (
            self.aid,
            self.policy,
            self.influence,
            self.alignment,
            self.dependence,
            self.tension,
            self.regime,
            self.tier,
            self.tier_age,
        )


#: The attributes that events hold, one (powers, runs) row each of :attr:`Holds.block`, in order.
HOLD_ROWS = (
    "aid_scale",
    "aid_add",
    *(f"{a}_{x}" for a in SHOCK_ATTRIBUTES for x in ("scale", "add")),
    "dependence",
)


class Holds:
    """What the events in force change: buffers allocated once, reset and refilled by the events in
    force whenever that set changes (:meth:`HedgingModel._refresh`)."""

    def __init__(self, powers: int, dyads: int, runs: int):
        self.tier = np.zeros(powers, dtype=int)  # 0: no partnership event in force
        self.block = np.empty((len(HOLD_ROWS), powers, runs))
        for k, name in enumerate(HOLD_ROWS):
            setattr(self, name, self.block[k])
        self.tension = np.empty((dyads, runs))
        #: No event in force: scales 1, everything else 0 (one column, broadcast over the runs).
        self._none = np.array([float(name.endswith("_scale")) for name in HOLD_ROWS])[:, None, None]
        self.reset()

    def reset(self) -> None:
        """No event in force: scales 1, everything else 0."""
        self.tier.fill(0)
        np.copyto(self.block, self._none)
        self.tension.fill(0.0)


#: The largest record buffer a process keeps for its next model (:func:`record_buffer`).
SPARE_BYTES = 512 * 2**20
_spare: list[np.ndarray] = []  # at most one buffer
_spare_lock = threading.Lock()  # models built at once in threads (the dashboard's sessions, the classroom)


def record_buffer(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array of ``shape`` for a model's record, reusing the buffer of an
    earlier model of this process when nothing refers to it any more.

    Fresh memory is faulted in page by page on first write: for 10,000 runs of csp2023 (110 MB)
    that costs about as much as the 27 steps. Processes that build many models (sweeps, the
    dashboard, benchmarks) thus write into pages they already have. A buffer is reused only when
    no array (the record, a view of it, an ensemble's data) refers to it.
    """
    need = int(np.prod(shape))
    with _spare_lock:  # between the check and the view, another thread could take the same buffer
        if _spare and _spare[0].size >= need and sys.getrefcount(_spare[0]) == 2:  # the list, the call
            return _spare[0][:need].reshape(shape)
        buffer = empty(need)
        if buffer.nbytes <= SPARE_BYTES and not (_spare and sys.getrefcount(_spare[0]) > 2):
            _spare[:] = [buffer]
        return buffer.reshape(shape)


class HedgingModel(mesa.Model):
    """A small state hedging among great powers, over an ensemble of runs stepped together.

    Args:
        spec: a validated :class:`~sim.scenario.Scenario`.
        runs: the indices of the runs to simulate (an int n means runs 0..n-1).
        seed: the seed of all random streams.
        record: a buffer to record into, shape (variables, steps + 1, runs) or larger in its last
            axis (a process that computes many chunks reuses one; fresh pages cost time).
        engine: "kernel" (the compiled step, :mod:`sim.kernel`) or "numpy" (the agents' methods),
            which give the same bits; default: :func:`choose_engine` for this model's run-steps
            (callers that build many models for one piece of work pass the choice for all of it).
        threads: the kernel's threads, each on its own runs (the same bits at any number);
            default: ``HEDGESIM_THREADS``, else one per core, at most one per 1,024 runs.
    """

    def __init__(
        self,
        spec: Scenario,
        runs: int | np.ndarray,
        seed: int,
        record: np.ndarray | None = None,
        engine: str | None = None,
        threads: int | None = None,
    ):
        super().__init__(rng=seed)
        self.spec, self.seed = spec, seed
        self.run_ids = np.arange(runs) if np.isscalar(runs) else np.asarray(runs, dtype=np.int64)
        n = self.run_ids.size
        self.engine = engine or choose_engine(n * spec.steps)
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        self.streams = Streams(seed, self.run_ids)
        ctx = self.ctx = spec.context()
        powers, small = spec.powers, spec.small
        P, D = len(powers), len(ctx.dyads)  # noqa: N806 (the model's dimensions)
        self.pidx = range(P)

        # Parameters: numbers stay scalars, distributions become one value per run.
        self.p = SimpleNamespace(**{k: resolve(v, self.streams, f"param/{k}") for k, v in spec.parameters})
        p = self.p
        raw = {k: getattr(p, f"influence_{k}") for k in ("aid", "alignment", "presence", "engagement")}
        total = sum(raw.values())
        self.weights = {k: w / np.maximum(total, 1e-12) for k, w in raw.items()}  # they sum to 1
        self.channels = {k: getattr(spec.mechanisms, k) for k in CHANNELS}
        self.strategic = spec.scenario.decisions == "strategic"
        self.decide_step = spec.decide_step
        self.deciding = False

        # Agents, stepped through Mesa's AgentSet.
        gp = [spec.actors[k] for k in powers]
        st = spec.actors[small]
        for i, k in enumerate(powers):
            decides = {INSTRUMENTS.index(x) for x in gp[i].decides}
            GreatPower(self, k, gp[i].name, i, decides)
        self.small_state = SmallState(self, small, st.name)
        self.great_powers = self.agents_by_type[GreatPower]
        self.powers = list(self.great_powers)

        # Fixed attributes, as (powers, 1) columns that broadcast over runs.
        col = lambda xs: np.array(xs, dtype=float)[:, None]  # noqa: E731
        self.base = {
            "budget": col([a.budget for a in gp]),
            "interest": col([a.interest for a in gp]),
            "conditionality": col([a.conditionality for a in gp]),
        }
        self.base_rows = np.concatenate(list(self.base.values()), axis=1).T.copy()  # (attributes, powers)
        self.aid_noise = [p.aid_noise if a.aid_noise is None else a.aid_noise for a in gp]
        self.capability = col([a.capability for a in gp])
        self.proximity = col([a.proximity for a in gp])
        self.base_structural = col([st.dependence[k] for k in powers])
        self.small_dyads = [ctx.dyad(k, small) for k in powers]
        self.power_dyads = {
            (i, j): ctx.dyad(powers[i], powers[j]) for i in self.pidx for j in self.pidx if i < j
        }
        self.tension_base = col([spec.tension_of(a, b) for a, b in ctx.dyads])
        self.regime_base = st.regime_pressure

        # Events: resolve magnitudes per run, index them by the steps they start and end.
        self.events = []
        for ev in spec.events_in_play():
            key = f"event/{format_date(parse_date(ev.date))}/{ev.kind}/{ev.title}"
            values = {f: resolve(getattr(ev, f), self.streams, f"{key}/{f}") for f in ev.uncertain}
            start = spec.event_step(ev)
            dur = ev.duration if ev.duration is not None else ev.default_duration
            end = start + dur if dur is not None else spec.steps + 1
            self.events.append((ev, values, start, end))

        # Noise: one named stream per use, all drawn in one call per step.
        names = [f"aid/{k}" for k in powers]
        names += [f"alignment/{d}/{k}" for d in DIMENSIONS for k in powers]
        names += [f"tension/{a}-{b}" for a, b in ctx.dyads]
        self._noise_keys = np.array([stream_key(s) for s in names], dtype=np.uint64)
        self._noise_aid = slice(0, P)
        self._noise_align = slice(P, P + len(DIMENSIONS) * P)
        self._noise_tension = slice(P + len(DIMENSIONS) * P, None)

        # State: two buffers, swapped each step.
        self.state, self._next = State(P, D, n), State(P, D, n)
        s = self.state
        s.influence[:] = col([a.influence for a in gp])
        for d, table in enumerate(st.alignment_tables().values()):
            s.alignment[d] = col([table[k] for k in powers])
            s.alignment[d] /= s.alignment[d].sum(axis=0)
        s.dependence[:] = self.base_structural / self.base_structural.sum()
        s.tension[:] = self.tension_base
        s.regime[:] = self.regime_base
        s.tier[:] = col([st.tier.get(k, 3) for k in powers])
        s.tier_age[:] = 0.0
        initial_aid = [min(a.aid if a.aid is not None else a.budget * a.interest, a.budget) for a in gp]
        s.policy[AID] = col(
            [x / a.budget if a.budget > 0 else 0.0 for x, a in zip(initial_aid, gp, strict=True)]
        )
        s.policy[PRESENCE] = col([a.presence for a in gp])
        s.policy[PRESSURE] = col([a.pressure for a in gp])
        s.policy[ENGAGEMENT] = col([a.engagement for a in gp])
        self.policy_start = s.policy.copy()
        self._active: set[int] = set()
        self._order = sorted(range(len(self.events)), key=lambda k: (self.events[k][2], k))
        self._dated: dict[int, list[int]] = {}  # step -> the events that start or end there, in file order
        for k, (_, _, start, end) in enumerate(self.events):
            for t in sorted({start, end}):
                self._dated.setdefault(t, []).append(k)
        # The holds and the attributes they set: buffers reused at every event date.
        self.holds = Holds(P, D, n)
        self.presence_scale, self.presence_add = self.holds.presence_scale, self.holds.presence_add
        #: budget, interest, conditionality and structural dependence shares, as events leave them
        self.attributes = np.empty((4, P, n))
        self.budget, self.interest, self.conditionality, self.structural = self.attributes
        self.tension_level = np.empty((D, n))
        self._refresh()
        for agent in self.great_powers:  # the initial flow, without noise
            agent.disburse(s, None)
        self._view: dict[str, np.ndarray] | None = None

        # Outputs: names from the reporters' table, and a buffer (variables, steps + 1, runs).
        self.outputs = output_table(self)
        self.variables = [name for r, _ in self.outputs for name in r.names(self)]
        shape = (len(self.variables), spec.steps + 1, n)
        if record is not None and record.shape[:2] == shape[:2] and record.shape[2] >= n:
            self.record = record[:, :, :n]
        else:
            self.record = record_buffer(shape)
        if self.engine == "kernel":
            from sim.kernel import Kernel

            self.kernel = Kernel(self, threads)
            self.kernel.record(0)
            if self.kernel.rest:
                record(self, self.state, self.view, self.record[:, 0], self.kernel.rest)
        else:
            self.record_state(0)

    # ---- events ------------------------------------------------------------------------------
    def apply_events(self, t: int) -> None:
        """Start the events dated for step t (impulses on the current state) and end those that ran
        out; rebuild the holds when the set of events in force changed."""
        changed = False
        for k in self._dated.get(t, ()):
            ev, values, start, end = self.events[k]
            if start == t:
                ev.impulse(self.state, self.ctx, values)
                self._active.add(k)
                changed = True
            if end == t and k in self._active:
                self._active.discard(k)
                changed = True
        if changed:
            s = self.state
            for stock in (s.tension, s.regime):
                np.clip(stock, 0.0, 1.0, out=stock)
            self._refresh()
            self._view = None

    def _refresh(self) -> None:
        """Refill the holds and the attributes derived from them, in place (only on event dates)."""
        h = self.holds
        h.reset()
        for k in self._order:  # by date, then file order
            if k in self._active:
                ev, values, _, _ = self.events[k]
                ev.hold(h, self.ctx, values)
        self._derive()

    def _derive(self) -> None:
        """The attributes, structural shares and levels of tension that the holds leave."""
        h = self.holds
        if self.engine == "kernel":  # the same operations compiled: one call instead of about 30
            from sim.kernel import derive

            args = (
                self.base_rows,
                self.base_structural,
                self.tension_base,
                self.attributes,
                self.tension_level,
            )
            derive(h.block, h.tension, *args)
            return
        for a, lo, hi in (("budget", 0.0, np.inf), ("interest", 0.0, 1.0), ("conditionality", 0.0, 1.0)):
            out = getattr(self, a)
            np.multiply(self.base[a], getattr(h, f"{a}_scale"), out=out)
            out += getattr(h, f"{a}_add")
            if hi == np.inf:
                np.maximum(out, lo, out=out)
            else:
                np.clip(out, lo, hi, out=out)
        structural = self.structural
        np.add(self.base_structural, h.dependence, out=structural)
        np.maximum(structural, 0.0, out=structural)
        total = structural.sum(axis=0)
        positive = total > 0
        structural /= np.where(positive, total, 1.0)
        # A power that held every structural tie and lost them all leaves the initial shares.
        if not positive.all():
            np.copyto(structural, self.base_structural, where=~positive)
        np.add(self.tension_base, h.tension, out=self.tension_level)

    # ---- what every actor sees of a state ----------------------------------------------------
    @property
    def view(self) -> dict[str, np.ndarray]:
        """:meth:`observe` of the current state (computed when first asked for after a change)."""
        if self._view is None:
            self._view = self.observe(self.state)
        return self._view

    def observe(self, s: State) -> dict[str, np.ndarray]:
        """The quantities derived from a state that the actors decide on (and outputs report).

        ``closeness`` has one row per partnership channel (credibility of aid, security
        cooperation, trust): (3 - tier) / 2 where the channel is on (tier 1 gives 1, tier 3 gives 0),
        and 0 for every power where it is switched off, so that the tier then plays no part.
        """
        tier = np.where(self.holds.tier[:, None] > 0, self.holds.tier[:, None], s.tier)
        close = (3.0 - tier) / 2.0
        closeness = np.zeros((len(CHANNELS), *close.shape))
        for name, row in CHANNELS.items():
            if self.channels[name]:
                closeness[row] = close
        credibility = 1.0 - self.p.tier_credibility * (1.0 - closeness[CREDIBILITY_CHANNEL])
        credible = credibility * s.aid
        committed = s.policy[AID] * self.budget * self.holds.aid_scale + self.holds.aid_add
        presence = np.clip(s.policy[PRESENCE] * self.presence_scale + self.presence_add, 0.0, 1.0)
        mean_alignment = s.alignment.mean(axis=0)
        return {
            "tier": tier,
            "closeness": closeness,
            "credibility": credibility,
            "credible_aid": credible,
            "credible_commitment": credibility * np.maximum(committed, 0.0),
            "aid_share": contest(credible),
            "presence": presence,
            "presence_share": contest(presence),
            "engagement": s.policy[ENGAGEMENT],
            "engagement_share": contest(s.policy[ENGAGEMENT]),
            "mean_alignment": mean_alignment,
            "threat": self.small_state.threats(s, presence, closeness[TRUST_CHANNEL]),
        }

    # ---- helpers for the agents --------------------------------------------------------------
    def rival_max(self, rows: np.ndarray | list[np.ndarray], i: int) -> np.ndarray:
        """Element-wise max over the rows of every power but i (a new array)."""
        others = [j for j in self.pidx if j != i]
        out = np.array(rows[others[0]], dtype=float, copy=True)
        for j in others[1:]:
            np.maximum(out, rows[j], out=out)
        return out

    def mean_power_tension(self, tension: np.ndarray, i: int) -> np.ndarray:
        """Mean tension between power i and the other powers."""
        rows = [tension[self.power_dyads[min(i, j), max(i, j)]] for j in self.pidx if j != i]
        return sum(rows[1:], rows[0]) / len(rows)

    # ---- the step ----------------------------------------------------------------------------
    def step(self) -> None:
        t = self.steps  # Mesa counts steps from 1
        self.apply_events(t)
        self.deciding = self.decide_step is not None and t >= self.decide_step
        if self.engine == "kernel":
            self.kernel.step(t)
            self.state, self._next, self._view = self._next, self.state, None
            if self.kernel.rest:
                record(self, self.state, self.view, self.record[:, t], self.kernel.rest)
            return
        eps = self.streams.normals(self._noise_keys, t)
        cur, nxt, view = self.state, self._next, self.view
        aid_eps = eps[self._noise_aid]
        self.great_powers.do("decide", cur, nxt, view)
        for agent in self.great_powers:
            agent.disburse(nxt, aid_eps[agent.index])
        self.great_powers.do("offer_upgrade", cur, nxt, view["mean_alignment"])
        self.great_powers.do("update_influence", cur, nxt, view)
        self.update_tension(cur, nxt, eps[self._noise_tension])
        P = len(self.powers)  # noqa: N806
        self.small_state.decide(cur, nxt, view, eps[self._noise_align].reshape(len(DIMENSIONS), P, -1))
        self.small_state.update_dependence(cur, nxt, view["aid_share"])
        self.small_state.update_regime(cur, nxt)
        self.state, self._next = nxt, cur
        self._view = self.observe(nxt)
        self.record_state(t)

    def update_tension(self, cur: State, nxt: State, eps: np.ndarray) -> None:
        """Process 3, tension: each dyad relaxes toward its level and rises with rivalry.

        tension += relax * (level - tension) + rivalry_rate * rivalry + noise, clipped to 0..1
        level_is = baseline + tension_pressure (g_i - g_i,0) - tension_engagement (e_i - e_i,0)
        rivalry_ij = (influence_i + presence_i) * (influence_j + presence_j) / 4, for two powers

        The level is the scenario's baseline plus sanctions in force; a power that presses harder on
        governance than at the start raises it, one that engages more lowers it. Rivalry is
        competition over the same small state: both powers invested there at once (the
        security-dilemma reading of great-power competition in Southeast Asia; Walt 1987 on
        proximity and capability).
        """
        p = self.p
        out = nxt.tension
        np.subtract(self.tension_level, cur.tension, out=out)
        moved = cur.policy - self.policy_start
        for i, d in enumerate(self.small_dyads):
            out[d] += p.tension_pressure * moved[PRESSURE, i] - p.tension_engagement * moved[ENGAGEMENT, i]
        out *= p.tension_relax
        out += cur.tension
        presence = self.view["presence"]
        stake = [cur.influence[i] + presence[i] for i in self.pidx]
        for (i, j), d in self.power_dyads.items():
            out[d] += (0.25 * p.tension_rivalry) * stake[i] * stake[j]
        out += p.tension_noise * eps
        np.clip(out, 0.0, 1.0, out=out)

    def record_state(self, t: int) -> None:
        """Record the current state as date t, every output from :mod:`sim.reporters`."""
        record(self, self.state, self.view, self.record[:, t])

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Step to the end of the horizon, calling ``progress(step, steps)`` after each step."""
        for _ in range(self.spec.steps):
            self.step()
            if progress is not None:
                progress(self.steps, self.spec.steps)
