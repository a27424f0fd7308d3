"""HedgingModel: the step order, the events, and the recording of outputs.

One model steps a whole ensemble in lockstep. Its state is a set of arrays with the run axis last
(``influence[power, run]``, ``tension[dyad, run]``), so each variable is one contiguous row per
actor. A step is synchronous: every process reads the state at the start of the step and writes a
second buffer, and the two are swapped at the end (the brief's "all decide, then all commit").

Step t (t = 1..T), from the state dated start + t - 1 to the state dated start + t:

0. events dated for step t start (impulses, holds) and events that ran out end;
1. aid (:meth:`GreatPower.decide_aid`);
2. influence (:meth:`GreatPower.update_influence`);
3. tension (:meth:`HedgingModel.update_tension`);
4. alignment (:meth:`SmallState.decide_alignment`), then dependence and regime pressure;
5. the new state is recorded.

Run k's trajectory depends only on (scenario, seed, k): parameters, event magnitudes and noise are
all drawn from counter-based streams keyed by the run's index (:mod:`sim.noise`).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.agents import GreatPower, SmallState, hedging_index
from sim.events import SHOCK_ATTRIBUTES
from sim.noise import Streams, stream_key
from sim.quantities import format_date, parse_date, resolve

if TYPE_CHECKING:
    from collections.abc import Callable

    from sim.scenario import Scenario


class State:
    """The model's stocks at one date, over all runs (run axis last)."""

    def __init__(self, powers: int, dyads: int, runs: int):
        self.aid = np.zeros((powers, runs))
        self.influence = np.zeros((powers, runs))
        self.alignment = np.zeros((powers, runs))
        self.dependence = np.zeros((powers, runs))
        self.tension = np.zeros((dyads, runs))
        self.regime = np.zeros(runs)


class Holds:
    """What the events in force change, rebuilt from scratch whenever that set changes."""

    def __init__(self, tier: np.ndarray, powers: int, dyads: int, runs: int):
        self.tier = tier.copy()
        self.aid_scale = np.ones((powers, runs))
        self.aid_add = np.zeros((powers, runs))
        for attr in SHOCK_ATTRIBUTES:
            setattr(self, f"{attr}_scale", np.ones((powers, runs)))
            setattr(self, f"{attr}_add", np.zeros((powers, runs)))
        self.tension = np.zeros((dyads, runs))
        self.dependence = np.zeros((powers, runs))


class HedgingModel(mesa.Model):
    """A small state hedging among great powers, over an ensemble of runs stepped together.

    Args:
        spec: a validated :class:`~sim.scenario.Scenario`.
        runs: the indices of the runs to simulate (an int n means runs 0..n-1).
        seed: the seed of all random streams.
        record: a buffer to record into, shape (variables, steps + 1, runs) or larger in its last
            axis (a process that computes many chunks reuses one; fresh pages cost time).
    """

    def __init__(self, spec: Scenario, runs: int | np.ndarray, seed: int, record: np.ndarray | None = None):
        super().__init__(rng=seed)
        self.spec, self.seed = spec, seed
        self.run_ids = np.arange(runs) if np.isscalar(runs) else np.asarray(runs, dtype=np.int64)
        n = self.run_ids.size
        self.streams = Streams(seed, self.run_ids)
        ctx = self.ctx = spec.context()
        powers, small = spec.powers, spec.small
        P, D = len(powers), len(ctx.dyads)  # noqa: N806 (the model's dimensions)
        self.pidx = range(P)

        # Parameters: numbers stay scalars, distributions become one value per run.
        self.p = SimpleNamespace(**{k: resolve(v, self.streams, f"param/{k}") for k, v in spec.parameters})
        p = self.p
        weights = p.influence_aid + p.influence_alignment + p.influence_presence + p.influence_tier
        self.influence_norm = 1.0 / np.maximum(weights, 1e-12)  # > 0 by validation; guarded anyway

        # Agents (Mesa registers them with the model).
        self.powers = [GreatPower(self, k, spec.actors[k].name, i) for i, k in enumerate(powers)]
        self.small_state = SmallState(self, small, spec.actors[small].name)
        gp = [spec.actors[k] for k in powers]
        st = spec.actors[small]

        # Fixed attributes, as (powers, 1) columns that broadcast over runs.
        col = lambda xs: np.array(xs, dtype=float)[:, None]  # noqa: E731
        self.base = {
            "budget": col([a.budget for a in gp]),
            "interest": col([a.interest for a in gp]),
            "conditionality": col([a.conditionality for a in gp]),
            "presence": col([a.presence for a in gp]),
        }
        self.aid_noise = [p.aid_noise if a.aid_noise is None else a.aid_noise for a in gp]
        self.capability = col([a.capability for a in gp])
        self.proximity = col([a.proximity for a in gp])
        self.base_tier = np.array([st.tier.get(k, 3) for k in powers])
        self.base_structural = col([st.dependence[k] for k in powers])
        self.small_dyads = [ctx.dyad(k, small) for k in powers]
        self.power_dyads = {
            (i, j): ctx.dyad(powers[i], powers[j]) for i in self.pidx for j in self.pidx if i < j
        }
        self.tension_base = col([spec.tension_of(a, b) for a, b in ctx.dyads])
        self.regime_base = st.regime_pressure

        # Events: resolve magnitudes per run, index them by the steps they start and end.
        self.events = []
        for ev in spec.events:
            key = f"event/{format_date(parse_date(ev.date))}/{ev.kind}/{ev.title}"
            values = {f: resolve(getattr(ev, f), self.streams, f"{key}/{f}") for f in ev.uncertain}
            start = spec.event_step(ev)
            dur = ev.duration if ev.duration is not None else ev.default_duration
            end = start + dur if dur is not None else spec.steps + 1
            self.events.append((ev, values, start, end))

        # Noise: one named stream per use, all drawn in one call per step.
        names = [f"aid/{k}" for k in powers] + [f"alignment/{k}" for k in powers]
        names += [f"tension/{a}-{b}" for a, b in ctx.dyads]
        self._noise_keys = np.array([stream_key(s) for s in names], dtype=np.uint64)
        self._noise_aid, self._noise_align, self._noise_tension = (
            slice(0, P),
            slice(P, 2 * P),
            slice(2 * P, None),
        )

        # State: two buffers, swapped each step.
        self.state, self._next = State(P, D, n), State(P, D, n)
        s = self.state
        s.influence[:] = col([a.influence for a in gp])
        s.alignment[:] = col([st.alignment[k] for k in powers])
        s.alignment /= s.alignment.sum(axis=0)
        s.dependence[:] = self.base_structural / self.base_structural.sum()
        s.tension[:] = self.tension_base
        s.regime[:] = self.regime_base
        self._active: set[int] = set()
        self._refresh()
        for gp in self.powers:  # the initial flow: process 1 at the start conditions, without noise
            gp.decide_aid(s, s, None)

        # Outputs: names (as in the brief) and a buffer (variables, steps + 1, runs).
        self.variables = (
            [f"{k}.influence" for k in powers]
            + [f"{k}.aid" for k in powers]
            + [f"{k}.presence" for k in powers]
            + [f"{small}.alignment.{k}" for k in powers]
            + [f"{small}.dependence.{k}" for k in powers]
            + [f"{small}.threat.{k}" for k in powers]
            + [f"{small}.hedging_index", f"{small}.autonomy", f"{small}.regime_pressure"]
            + [f"tension.{a}-{b}" for a, b in ctx.dyads]
        )
        shape = (len(self.variables), spec.steps + 1, n)
        if record is not None and record.shape[:2] == shape[:2] and record.shape[2] >= n:
            self.record = record[:, :, :n]
        else:
            self.record = np.empty(shape)
        self._record(0)

    # ---- events ------------------------------------------------------------------------------
    def apply_events(self, t: int) -> None:
        """Start the events dated for step t (impulses on the current state) and end those that ran
        out; rebuild the holds when the set of events in force changed."""
        changed = False
        for k, (ev, values, start, end) in enumerate(self.events):
            if start == t:
                ev.impulse(self.state, self.ctx, values)
                self._active.add(k)
                changed = True
            if end == t and k in self._active:
                self._active.discard(k)
                changed = True
        if changed:
            s = self.state
            for stock in (s.influence, s.tension, s.regime):
                np.clip(stock, 0.0, 1.0, out=stock)
            self._refresh()

    def _refresh(self) -> None:
        """Rebuild the holds and the attributes derived from them (only on event dates)."""
        P, D, n = len(self.powers), len(self.ctx.dyads), self.run_ids.size  # noqa: N806
        h = self.holds = Holds(self.base_tier, P, D, n)
        for k in sorted(self._active, key=lambda k: (self.events[k][2], k)):  # by date, then file order
            ev, values, _, _ = self.events[k]
            ev.hold(h, self.ctx, values)
        eff = {a: self.base[a] * getattr(h, f"{a}_scale") + getattr(h, f"{a}_add") for a in SHOCK_ATTRIBUTES}
        self.budget = np.maximum(eff["budget"], 0.0)
        self.interest = np.clip(eff["interest"], 0.0, 1.0)
        self.conditionality = np.clip(eff["conditionality"], 0.0, 1.0)
        self.presence = np.clip(eff["presence"], 0.0, 1.0)
        self.closeness = ((3 - h.tier) / 2.0)[:, None]  # tier 1 -> 1, 2 -> 0.5, 3 -> 0
        self.aid_base = (
            self.budget * self.interest * (1.0 - self.p.tier_aid * (1.0 - self.closeness)) * h.aid_scale
        )
        structural = np.maximum(self.base_structural + h.dependence, 0.0)
        self.structural = structural / np.maximum(structural.sum(axis=0), 1e-12)
        self.tension_level = self.tension_base + h.tension

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
        eps = self.streams.normals(self._noise_keys, t)
        cur, nxt = self.state, self._next
        total = cur.aid.sum(axis=0)
        share = np.divide(cur.aid, total, out=np.full_like(cur.aid, 1.0 / len(self.powers)), where=total > 0)
        for gp in self.powers:
            gp.decide_aid(cur, nxt, eps[self._noise_aid][gp.index])
            gp.update_influence(cur, nxt, share[gp.index])
        self.update_tension(cur, nxt, eps[self._noise_tension])
        self.small_state.decide_alignment(cur, nxt, share, eps[self._noise_align])
        self.small_state.update_dependence(cur, nxt, share)
        self.small_state.update_regime(cur, nxt)
        self.state, self._next = nxt, cur
        self._record(t)

    def update_tension(self, cur: State, nxt: State, eps: np.ndarray) -> None:
        """Process 3, tension: each dyad relaxes toward its level and rises with rivalry.

        tension += relax * (level - tension) + rivalry_rate * rivalry + noise, clipped to 0..1
        rivalry_ij = (influence_i + presence_i) * (influence_j + presence_j) / 4, for two powers

        The level is the scenario's baseline plus sanctions in force. Rivalry is competition over
        the same small state: both powers invested there at once (the security-dilemma reading of
        great-power competition in Southeast Asia; Walt 1987 on proximity and capability).
        """
        p = self.p
        out = nxt.tension
        np.subtract(self.tension_level, cur.tension, out=out)
        out *= p.tension_relax
        out += cur.tension
        stake = [cur.influence[i] + self.presence[i] for i in self.pidx]
        for (i, j), d in self.power_dyads.items():
            out[d] += (0.25 * p.tension_rivalry) * stake[i] * stake[j]
        out += p.tension_noise * eps
        np.clip(out, 0.0, 1.0, out=out)

    def _record(self, t: int) -> None:
        s, P, rec = self.state, len(self.powers), self.record  # noqa: N806
        rec[0:P, t] = s.influence
        rec[P : 2 * P, t] = s.aid
        rec[2 * P : 3 * P, t] = self.presence
        rec[3 * P : 4 * P, t] = s.alignment
        rec[4 * P : 5 * P, t] = s.dependence
        rec[5 * P : 6 * P, t] = self.small_state.threats(s)
        rec[6 * P, t] = hedging_index(s.alignment)
        rec[6 * P + 1, t] = 1.0 - s.dependence.max(axis=0)
        rec[6 * P + 2, t] = s.regime
        rec[6 * P + 3 :, t] = s.tension

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Step to the end of the horizon, calling ``progress(step, steps)`` after each step."""
        for _ in range(self.spec.steps):
            self.step()
            if progress is not None:
                progress(self.steps, self.spec.steps)
