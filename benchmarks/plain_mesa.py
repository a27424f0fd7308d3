"""Model 2 written the plain Mesa way, for ``mesa.batch_run``: one run per model, Python floats.

This is the yardstick of benchmarks/ensembles.py. It states the equations of the agents' methods
(:mod:`sim.agents`, :meth:`sim.model.HedgingModel.observe` and ``update_tension``) once more, as a
Mesa user would write them: one agent per actor with scalar attributes, a ``DataCollector`` of every
output each step, ``mesa.batch_run`` over the run index. It reads the scenario, parameters, event
magnitudes and noise from the same streams as hedgesim (:mod:`sim.noise`, :mod:`sim.quantities`),
and applies the events through the event catalogue (:mod:`sim.events`) on a one-run state, so its
numbers can be compared with hedgesim's: :func:`agreement` gives the largest difference over every
output and date (8.5e-14 on csp2023: the same float64 arithmetic, in the same order but for a
last bit somewhere in the small state's choice).

    .venv/bin/python benchmarks/plain_mesa.py        # agreement with sim.run, and its speed
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import mesa
import numpy as np
from mesa import DataCollector

from sim.agents import AID, ENGAGEMENT, MAX_MOVE, PRESENCE, PRESSURE, UPGRADE_INTERVAL
from sim.model import CHANNELS, Holds, State
from sim.noise import Streams, stream_key
from sim.quantities import format_date, parse_date, resolve
from sim.reporters import output_table
from sim.scenario import DIMENSIONS, INSTRUMENTS, load_scenario

HERE = Path(__file__).resolve().parent
CSP = HERE.parent / "scenarios" / "csp2023.toml"
SEED = 20231216
_SPECS: dict[str, object] = {}


def _spec(path: str):  # noqa: ANN202
    if path not in _SPECS:
        _SPECS[path] = load_scenario(path)
    return _SPECS[path]


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _adjust(level: float, gain: float, cost: float, rate: float) -> float:
    best = _clip(gain / max(cost, 1e-12), 0.0, 1.0)
    return _clip(level + _clip(rate * (best - level), -MAX_MOVE, MAX_MOVE), 0.0, 1.0)


def _contest(effort: list[float]) -> list[float]:
    total = sum(effort[1:], effort[0]) + 0.0
    return [e / total for e in effort] if total > 0 else [1.0 / len(effort)] * len(effort)


class Power(mesa.Agent):
    """A great power, one run: its policy (aid, presence, pressure, engagement), aid, influence."""

    def __init__(self, model: PlainModel, index: int, decides: set[int]):
        super().__init__(model)
        self.index, self.decides = index, decides
        self.policy = [0.0] * len(INSTRUMENTS)
        self.aid = self.influence = self.tier = self.tier_age = 0.0

    def decide(self) -> None:
        """:meth:`sim.agents.GreatPower.decide`, then ``disburse`` and ``offer_upgrade``."""
        m, p, i, v = self.model, self.model.p, self.index, self.model.view
        c = self.policy
        new = list(c)
        if m.deciding and self.decides:
            lead = max(q.influence for q in m.powers if q is not self) - self.influence
            value = p["standing_value"] * m.interest[i] * (1.0 + p["rivalry"] * max(lead, 0.0))
            w = m.weights
            if AID in self.decides:
                flows = v["credible_commitment"]
                total = sum(flows[1:], flows[0])
                rivals = total - flows[i]
                gain = value * w["aid"] * m.budget[i] * m.aid_scale[i] * v["credibility"][i] * rivals
                gain /= max(total * total, 1e-12)
                new[AID] = _adjust(c[AID], gain, 1.0, p["policy_rate"])
            for k, name, cost, scale in (
                (PRESENCE, "presence", p["presence_cost"], m.presence_scale[i]),
                (ENGAGEMENT, "engagement", p["engagement_cost"], 1.0),
            ):
                if k in self.decides:
                    levels = v[name]
                    total = sum(levels[1:], levels[0])
                    gain = value * w[name] * scale * (total - levels[i]) / max(total * total, 1e-12)
                    new[k] = _adjust(c[k], gain, cost, p["policy_rate"])
            if PRESSURE in self.decides:
                alt = max(v["mean_alignment"][j] for j in range(len(m.powers)) if j != i)
                gain = m.conditionality[i] - p["pressure_backlash"] * m.interest[i] * alt
                new[PRESSURE] = _adjust(c[PRESSURE], gain, p["pressure_cost"], p["policy_rate"])
        self.next_policy = new
        # disburse: log-normal execution noise of mean 1
        sd = m.aid_noise[i]
        a = new[AID] * (m.budget[i] * m.aid_scale[i]) * math.exp(sd * m.eps[i] - 0.5 * sd * sd)
        self.next_aid = max(a + m.aid_add[i], 0.0)
        # offer_upgrade
        self.next_tier, self.next_age = self.tier, self.tier_age + 1
        if m.deciding and m.strategic and ENGAGEMENT in self.decides:
            in_force = v["tier"][i]
            if (
                new[ENGAGEMENT] >= p["upgrade_engagement"]
                and in_force > 1
                and self.tier_age >= UPGRADE_INTERVAL
                and v["mean_alignment"][i] * len(m.powers) >= 1.0
            ):
                self.next_tier, self.next_age = in_force - 1, 0.0
        # influence
        w = m.weights
        x = v["aid_share"][i] * w["aid"] + w["alignment"] * v["mean_alignment"][i]
        x += w["presence"] * v["presence_share"][i] + w["engagement"] * v["engagement_share"][i]
        self.next_influence = _clip(self.influence + p["influence_rate"] * (x - self.influence), 0.0, 1.0)

    def commit(self) -> None:
        self.policy, self.aid, self.influence = self.next_policy, self.next_aid, self.next_influence
        self.tier, self.tier_age = self.next_tier, self.next_age


class Small(mesa.Agent):
    """The small state, one run: alignment[dimension][power], dependence[power], regime pressure."""

    def decide(self) -> None:
        """:meth:`sim.agents.SmallState.decide`, ``update_dependence`` and ``update_regime``."""
        m, p, v = self.model, self.model.p, self.model.view
        P = len(m.powers)  # noqa: N806
        reach = [min(1.0, v["presence"][i] + p["tier_security"] * v["closeness"][1][i]) for i in range(P)]
        utils = [[0.0] * P for _ in DIMENSIONS]
        for i, q in enumerate(m.powers):
            regime = self.regime * (1.0 - q.policy[PRESSURE]) - m.tension[m.small_dyads[i]]
            dep = self.dependence[i]
            share = v["aid_share"][i]
            utils[0][i] = share * p["weight_aid"] + (
                p["weight_dependence"] * dep - p["weight_overdependence"] * dep * dep
            )
            rival = max(v["threat"][j] for j in range(P) if j != i)
            sec = m.capability[i] * reach[i] * rival * p["weight_protection"]
            sec -= p["weight_threat"] * v["threat"][i]
            others = [m.tension[m.power_dyads[min(i, j), max(i, j)]] for j in range(P) if j != i]
            sec -= p["weight_entrapment"] * (sum(others[1:], others[0]) / len(others))
            utils[1][i] = sec + p["weight_regime"] * regime
            utils[2][i] = regime * p["weight_regime"] + p["weight_reciprocity"] * share
        new = []
        for d, row in enumerate(utils):
            row = [u + p["alignment_noise"] * m.eps[P + d * P + i] for i, u in enumerate(row)]
            top = max(row)
            e = [math.exp(u - top) for u in row]
            total = sum(e[1:], e[0])
            new.append(
                [(x / total - a) * p["inertia"] + a for x, a in zip(e, self.alignment[d], strict=True)]
            )
        self.next_alignment = new
        target = [
            v["aid_share"][i] * p["dependence_aid"] + (1.0 - p["dependence_aid"]) * m.structural[i]
            for i in range(P)
        ]
        self.next_dependence = [
            (t - d) * p["dependence_rate"] + d for t, d in zip(target, self.dependence, strict=True)
        ]
        self.next_regime = _clip((m.regime_base - self.regime) * p["regime_relax"] + self.regime, 0.0, 1.0)

    def commit(self) -> None:
        self.alignment, self.dependence, self.regime = (
            self.next_alignment,
            self.next_dependence,
            self.next_regime,
        )


class PlainModel(mesa.Model):
    """One run of a scenario, stepped by its agents; every output collected each step."""

    def __init__(self, run: int = 0, seed: int | None = None, scenario: str = str(CSP)):
        seed = SEED if seed is None else seed  # batch_run passes seed=None
        super().__init__(rng=seed)
        spec = self.spec = _spec(scenario)
        self.streams = Streams(seed, np.array([run]))
        one = lambda x: float(np.asarray(x).reshape(-1)[0])  # noqa: E731
        self.p = {k: one(resolve(v, self.streams, f"param/{k}")) for k, v in spec.parameters}
        raw = {k: self.p[f"influence_{k}"] for k in ("aid", "alignment", "presence", "engagement")}
        total = sum(raw.values())
        self.weights = {k: w / max(total, 1e-12) for k, w in raw.items()}
        self.channels = [getattr(spec.mechanisms, k) for k in CHANNELS]
        self.strategic = spec.scenario.decisions == "strategic"
        ctx = self.ctx = spec.context()
        gp = [spec.actors[k] for k in spec.powers]
        st = spec.actors[spec.small]
        self.powers = [Power(self, i, {INSTRUMENTS.index(x) for x in a.decides}) for i, a in enumerate(gp)]
        self.small = Small(self)
        P = len(gp)  # noqa: N806
        self.base = {k: [getattr(a, k) for a in gp] for k in ("budget", "interest", "conditionality")}
        self.aid_noise = [self.p["aid_noise"] if a.aid_noise is None else a.aid_noise for a in gp]
        self.capability = [a.capability for a in gp]
        self.proximity = [a.proximity for a in gp]
        self.base_structural = [st.dependence[k] for k in spec.powers]
        self.small_dyads = [ctx.dyad(k, spec.small) for k in spec.powers]
        self.power_dyads = {
            (i, j): ctx.dyad(spec.powers[i], spec.powers[j]) for i in range(P) for j in range(P) if i != j
        }
        self.tension_base = [spec.tension_of(a, b) for a, b in ctx.dyads]
        self.regime_base = st.regime_pressure
        self.events = []
        for ev in spec.events_in_play():
            key = f"event/{format_date(parse_date(ev.date))}/{ev.kind}/{ev.title}"
            values = {f: resolve(getattr(ev, f), self.streams, f"{key}/{f}") for f in ev.uncertain}
            start = spec.event_step(ev)
            dur = ev.duration if ev.duration is not None else ev.default_duration
            self.events.append((ev, values, start, start + dur if dur is not None else spec.steps + 1))
        names = [f"aid/{k}" for k in spec.powers]
        names += [f"alignment/{d}/{k}" for d in DIMENSIONS for k in spec.powers]
        names += [f"tension/{a}-{b}" for a, b in ctx.dyads]
        self.keys = np.array([stream_key(s) for s in names], dtype=np.uint64)
        # the initial state
        for d, table in enumerate(st.alignment_tables().values()):
            row = [table[k] for k in spec.powers]
            self.small.alignment = getattr(self.small, "alignment", [None] * len(DIMENSIONS))
            self.small.alignment[d] = [x / sum(row[1:], row[0]) for x in row]
        total = sum(self.base_structural[1:], self.base_structural[0])
        self.small.dependence = [x / total for x in self.base_structural]
        self.small.regime = self.regime_base
        self.tension = list(self.tension_base)
        for q, a in zip(self.powers, gp, strict=True):
            q.influence, q.tier = a.influence, float(st.tier.get(q_key(spec, q), 3))
            aid = min(a.aid if a.aid is not None else a.budget * a.interest, a.budget)
            q.policy = [aid / a.budget if a.budget > 0 else 0.0, a.presence, a.pressure, a.engagement]
        self.policy_start = [list(q.policy) for q in self.powers]
        self.active: list[int] = []
        self.refresh()
        for i, q in enumerate(self.powers):
            q.aid = max(q.policy[AID] * (self.budget[i] * self.aid_scale[i]) + self.aid_add[i], 0.0)
        self.observe()
        names = [n for r, rows in output_table(_Names(spec)) for n in r.names(_Names(spec))]
        self.datacollector = DataCollector(
            model_reporters={n: (lambda m, k=k: m.outputs()[k]) for k, n in enumerate(names)}
        )
        self._out = None
        self.datacollector.collect(self)

    # events, through the catalogue on a one-run state
    def _state(self) -> State:
        P, D = len(self.powers), len(self.tension)  # noqa: N806
        s = State(P, D, 1)
        s.aid[:, 0] = [q.aid for q in self.powers]
        s.policy[:, :, 0] = np.array([q.policy for q in self.powers]).T
        s.influence[:, 0] = [q.influence for q in self.powers]
        s.alignment[:, :, 0] = self.small.alignment
        s.dependence[:, 0] = self.small.dependence
        s.tension[:, 0] = self.tension
        s.regime[0] = self.small.regime
        s.tier[:, 0] = [q.tier for q in self.powers]
        s.tier_age[:, 0] = [q.tier_age for q in self.powers]
        return s

    def apply_events(self, t: int) -> None:
        changed, s = False, None
        for k, (ev, values, start, end) in enumerate(self.events):
            if start == t:
                s = s or self._state()
                ev.impulse(s, self.ctx, values)
                self.active.append(k)
                changed = True
            if end == t and k in self.active:
                self.active.remove(k)
                changed = True
        if changed:
            if s is not None:
                for q, i in zip(self.powers, range(len(self.powers)), strict=True):
                    q.aid, q.influence = float(s.aid[i, 0]), float(s.influence[i, 0])
                    q.policy = [float(x) for x in s.policy[:, i, 0]]
                    q.tier, q.tier_age = float(s.tier[i, 0]), float(s.tier_age[i, 0])
                self.small.alignment = s.alignment[:, :, 0].tolist()
                self.small.dependence = s.dependence[:, 0].tolist()
                self.tension, self.small.regime = s.tension[:, 0].tolist(), float(s.regime[0])
            self.tension = [_clip(x, 0.0, 1.0) for x in self.tension]
            self.small.regime = _clip(self.small.regime, 0.0, 1.0)
            self.refresh()
            self.observe()

    def refresh(self) -> None:
        P, D = len(self.powers), len(self.tension)  # noqa: N806
        h = Holds(P, D, 1)
        for k in sorted(self.active, key=lambda k: (self.events[k][2], k)):
            ev, values, _, _ = self.events[k]
            ev.hold(h, self.ctx, values)
        self.held_tier = h.tier.tolist()
        col = lambda a: a[:, 0].tolist()  # noqa: E731
        self.aid_scale, self.aid_add = col(h.aid_scale), col(h.aid_add)
        self.presence_scale, self.presence_add = col(h.presence_scale), col(h.presence_add)
        eff = {
            a: [
                b * s + x
                for b, s, x in zip(
                    self.base[a], col(getattr(h, f"{a}_scale")), col(getattr(h, f"{a}_add")), strict=True
                )
            ]
            for a in self.base
        }
        self.budget = [max(x, 0.0) for x in eff["budget"]]
        self.interest = [_clip(x, 0.0, 1.0) for x in eff["interest"]]
        self.conditionality = [_clip(x, 0.0, 1.0) for x in eff["conditionality"]]
        structural = [max(b + x, 0.0) for b, x in zip(self.base_structural, col(h.dependence), strict=True)]
        total = sum(structural[1:], structural[0])
        self.structural = [x / total for x in structural] if total > 0 else list(self.base_structural)
        self.level = [b + x for b, x in zip(self.tension_base, col(h.tension), strict=True)]

    def observe(self) -> None:
        """:meth:`sim.model.HedgingModel.observe` of the current state, into ``view``."""
        p, P = self.p, len(self.powers)  # noqa: N806
        tier = [self.held_tier[i] if self.held_tier[i] > 0 else q.tier for i, q in enumerate(self.powers)]
        close = [(3.0 - t) / 2.0 for t in tier]
        closeness = [[c if on else 0.0 for c in close] for on in self.channels]
        cred = [1.0 - p["tier_credibility"] * (1.0 - c) for c in closeness[0]]
        pol = [q.policy for q in self.powers]
        credible = [cred[i] * q.aid for i, q in enumerate(self.powers)]
        committed = [pol[i][AID] * self.budget[i] * self.aid_scale[i] + self.aid_add[i] for i in range(P)]
        presence = [
            _clip(pol[i][PRESENCE] * self.presence_scale[i] + self.presence_add[i], 0.0, 1.0)
            for i in range(P)
        ]
        al = self.small.alignment
        mean = []
        for i in range(P):  # numpy's mean over the first axis: added in order, then divided
            x = al[0][i]
            for d in range(1, len(al)):
                x += al[d][i]
            mean.append(x / len(al))
        engagement = [x[ENGAGEMENT] for x in pol]
        threat = [
            self.capability[i]
            * (self.proximity[i] + presence[i])
            * 0.5
            * (self.tension[self.small_dyads[i]] * (1.0 - p["tier_trust"] * closeness[2][i]))
            for i in range(P)
        ]
        self.view = {
            "tier": tier,
            "closeness": closeness,
            "credibility": cred,
            "credible_commitment": [c * max(x, 0.0) for c, x in zip(cred, committed, strict=True)],
            "aid_share": _contest(credible),
            "presence": presence,
            "presence_share": _contest(presence),
            "engagement": engagement,
            "engagement_share": _contest(engagement),
            "mean_alignment": mean,
            "threat": threat,
        }

    def update_tension(self) -> None:
        """:meth:`sim.model.HedgingModel.update_tension`."""
        p, v = self.p, self.view
        out = [lv - x for lv, x in zip(self.level, self.tension, strict=True)]
        for i, q in enumerate(self.powers):
            d, start = self.small_dyads[i], self.policy_start[i]
            out[d] += p["tension_pressure"] * (q.policy[PRESSURE] - start[PRESSURE]) - p[
                "tension_engagement"
            ] * (q.policy[ENGAGEMENT] - start[ENGAGEMENT])
        out = [o * p["tension_relax"] + x for o, x in zip(out, self.tension, strict=True)]
        stake = [q.influence + v["presence"][i] for i, q in enumerate(self.powers)]
        for (i, j), d in self.power_dyads.items():
            if i < j:
                out[d] += (0.25 * p["tension_rivalry"]) * stake[i] * stake[j]
        base = len(self.powers) * (1 + len(DIMENSIONS))
        self.next_tension = [
            _clip(o + p["tension_noise"] * self.eps[base + d], 0.0, 1.0) for d, o in enumerate(out)
        ]

    def step(self) -> None:
        t = self.steps
        self.apply_events(t)
        self.deciding = self.spec.decide_step is not None and t >= self.spec.decide_step
        self.eps = self.streams.normals(self.keys, t)[:, 0].tolist()
        for q in self.powers:
            q.decide()
        self.update_tension()
        self.small.decide()
        for agent in (*self.powers, self.small):
            agent.commit()
        self.tension = self.next_tension
        self.observe()
        self._out = None
        self.datacollector.collect(self)

    def outputs(self) -> list[float]:
        """Every output of :mod:`sim.reporters`, in order (computed once per date)."""
        if self._out is None:
            from sim.hedging import hedging_components

            s = self._state()
            al = s.alignment
            parts = {k: float(x[0]) for k, x in hedging_components(al).items()}
            v = self.view
            P = len(self.powers)  # noqa: N806
            even = 1.0 - 1.0 / P
            mean = v["mean_alignment"]
            out = [q.influence for q in self.powers] + [q.aid for q in self.powers]
            out += v["presence"] + [q.policy[PRESSURE] for q in self.powers] + v["engagement"] + v["tier"]
            out += (
                [x for row in self.small.alignment for x in row] + mean + self.small.dependence + v["threat"]
            )
            out += [parts["index"], parts["divergence"], parts["ambiguity"], parts["fallback"]]
            out += [
                (1.0 - sum(x * x for x in mean)) / even,
                1.0 - max(self.small.dependence),
                self.small.regime,
            ]
            out += self.tension
            self._out = out
        return self._out


def q_key(spec, q: Power) -> str:  # noqa: ANN001
    return spec.powers[q.index]


class _Names:
    """What :func:`sim.reporters.output_table` reads of a model: the cast."""

    def __init__(self, spec):  # noqa: ANN001
        self.spec, self.ctx = spec, spec.context()


def agreement(runs: int = 20, scenario: str = str(CSP)) -> float:
    """The largest difference between this copy and sim.run over every output, date and run."""
    import sim

    ens = sim.run(_spec(scenario), runs=runs, seed=SEED, progress=False)
    gap = 0.0
    for k in range(runs):
        m = PlainModel(k, SEED, scenario)
        for _ in range(m.spec.steps):
            m.step()
        df = m.datacollector.get_model_vars_dataframe()
        mine = df[ens.variables].to_numpy().T
        gap = max(gap, float(np.abs(mine - ens.data[:, :, k]).max()))
    return gap


if __name__ == "__main__":
    scenario = sys.argv[1] if len(sys.argv) > 1 else str(CSP)
    print(f"largest difference from sim.run over 20 runs: {agreement(20, scenario):.3g}")
    t0 = time.perf_counter()
    m = PlainModel(0, SEED, scenario)
    for _ in range(m.spec.steps):
        m.step()
    print(f"one run: {time.perf_counter() - t0:.3f} s")
