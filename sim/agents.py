"""The actors: :class:`GreatPower` and :class:`SmallState`, Mesa agents over a whole ensemble.

One agent stands for an actor in every run at once: each of its variables is a numpy row over runs
(the model's state arrays have the run axis last), so 1 run and 10,000 runs share one code path.
Each method reads the state at the start of the step (``cur``) and writes the next one (``nxt``):
all actors decide from last step's state, then all commit (a synchronous update, as in the brief).

Both kinds of actor decide. A great power chooses four policy instruments each quarter by adaptive
adjustment toward what raises its objective (:meth:`GreatPower.decide`); the small state chooses its
alignment in three dimensions by a logit rule (:meth:`SmallState.decide`). The loop goes both ways:
the powers read the small state's alignment and each other's policies, and the small state reads
theirs. No partnership tier or event enters influence or alignment directly; a tier acts only
through the three channels of ``closeness`` in :meth:`HedgingModel.observe` (docs/ODD.md, 7.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.exponential import exp

if TYPE_CHECKING:
    from sim.model import HedgingModel, State

#: Index of each instrument in ``State.policy`` (as in :data:`sim.scenario.INSTRUMENTS`).
AID, PRESENCE, PRESSURE, ENGAGEMENT = range(4)
#: Index of each dimension in ``State.alignment`` (as in :data:`sim.scenario.DIMENSIONS`).
ECONOMIC, SECURITY, DIPLOMATIC = range(3)
#: Index of each partnership channel in the model's ``closeness`` (as in the ``[mechanisms]`` table).
CREDIBILITY_CHANNEL, SECURITY_CHANNEL, TRUST_CHANNEL = range(3)
#: The largest change of an instrument in one quarter (a tenth of its range).
MAX_MOVE = 0.1
#: Quarters between two partnership upgrades that a power's own offers can bring.
UPGRADE_INTERVAL = 4


def contest(effort: np.ndarray, base: float = 0.0) -> np.ndarray:
    """Shares of a contest over the powers (axis 0): effort_i / (base + sum_j effort_j).

    Tullock's (1980) contest success function with exponent 1; ``base`` is the weight of anything
    else that competes (none in the model). With no effort at all, the shares are equal.
    """
    total = effort.sum(axis=0) + base
    if base > 0:
        return effort / total
    n = effort.shape[0]
    return np.divide(effort, total, out=np.full_like(effort, 1.0 / n), where=total > 0)


class GreatPower(mesa.Agent):
    """A great power: it chooses its policy toward the small state and holds influence there."""

    model: HedgingModel

    def __init__(self, model: HedgingModel, key: str, name: str, index: int, decides: set[int]):
        super().__init__(model)
        self.key, self.name, self.index, self.decides = key, name, index, decides

    # Views of this actor's rows in the model's current state (arrays over runs).
    @property
    def aid(self) -> np.ndarray:
        """Aid flow this step, USD million per quarter."""
        return self.model.state.aid[self.index]

    @property
    def influence(self) -> np.ndarray:
        """Influence over the small state (0..1)."""
        return self.model.state.influence[self.index]

    @property
    def policy(self) -> np.ndarray:
        """Its instruments, shape (4, runs): aid committed as a share of budget, presence, pressure,
        engagement (each 0..1)."""
        return self.model.state.policy[:, self.index]

    def decide(self, cur: State, nxt: State, view: dict[str, np.ndarray]) -> None:
        """Process 1: choose each instrument by adaptive adjustment toward a higher objective.

        The power values its standing with the small state (its influence target, process 2) at
        ``V = standing_value * interest * (1 + rivalry * lead)`` budget-quarters, where ``lead`` is
        how far the strongest rival's influence stands above its own: standing is worth more to a
        power that is falling behind (relative gains, Grieco 1988). It pays a quadratic cost for each
        instrument (Tullock 1980's contest with convex costs; the unit is the cost of committing its
        whole budget for a quarter, so aid's cost is u^2 / 2 with u = aid / budget). Each quarter it
        reads the marginal gain of each instrument at last quarter's state, takes the level at which
        that gain would equal the marginal cost (its myopic best response) and moves
        ``policy_rate`` of the way there, at most :data:`MAX_MOVE` (partial adjustment toward a
        best response, a rule of bounded rationality: Cournot dynamics with inertia; Selten 1991
        on adaptive adjustment; Fudenberg & Levine 1998, ch. 1). The marginal gains (costs after
        the minus sign):

        * aid: V w_aid budget_i s_i c_i R_i / T^2 - u_i, where the credible commitments c_j a_j
          compete in a contest (T their sum, R_i the rivals' part; s_i the scale of aid events in
          force; commitments before execution noise): a power whose rivals give nothing gains
          nothing by giving more; a leader gains more from its aid when a challenger gives more
          (the favourite's response in a contest: Dixit 1987), and a challenger values standing
          more as the leader pulls ahead (competitive aid giving: Luo & Kheang Un 2021);
        * presence and engagement: V w_x (S - x_i) / S^2 - cost_x x_i, the same contest over the
          powers' levels (S their sum);
        * pressure: conditionality_i - pressure_backlash interest_i alt_i - pressure_cost g_i: the
          power values governance, but pressure costs it the more, the more it cares for the small
          state and the more the small state leans to a rival that asks nothing (alt_i, the largest
          rival's mean alignment share: the "black knight" of Levitsky & Way 2010).
        """
        m, p, i = self.model, self.model.p, self.index
        c, out = cur.policy[:, i], nxt.policy[:, i]
        out[:] = c
        if not m.deciding or not self.decides:
            return
        lead = m.rival_max(cur.influence, i)
        lead -= cur.influence[i]
        np.maximum(lead, 0.0, out=lead)
        value = p.standing_value * m.interest[i] * (1.0 + p.rivalry * lead)
        w = m.weights
        if AID in self.decides:
            # commitments, not noisy disbursements: a power does not chase its own execution noise
            flows = view["credible_commitment"]
            total = flows.sum(axis=0)
            rivals = total - flows[i]
            gain = value * w["aid"] * m.budget[i] * m.holds.aid_scale[i] * view["credibility"][i] * rivals
            gain /= np.maximum(total * total, 1e-12)
            _adjust(out[AID], gain, 1.0, p.policy_rate)
        for k, name, cost, scale in (
            (PRESENCE, "presence", p.presence_cost, m.presence_scale[i]),  # held presence shocks scale it
            (ENGAGEMENT, "engagement", p.engagement_cost, 1.0),
        ):
            if k in self.decides:
                levels = view[name]
                total = levels.sum(axis=0)
                gain = value * w[name] * scale * (total - levels[i]) / np.maximum(total * total, 1e-12)
                _adjust(out[k], gain, cost, p.policy_rate)
        if PRESSURE in self.decides:
            alt = m.rival_max(view["mean_alignment"], i)
            gain = m.conditionality[i] - p.pressure_backlash * m.interest[i] * alt
            _adjust(out[PRESSURE], gain, p.pressure_cost, p.policy_rate)

    def disburse(self, nxt: State, eps: np.ndarray) -> None:
        """The aid flow of the quarter: the committed share of the budget, scaled and topped up by
        the aid events in force, with log-normal execution noise of mean 1 (sd: the power's own
        ``aid_noise`` where the scenario gives one: China's flows are volatile, Japan's steady,
        stylized fact 4). ``eps=None`` gives the flow without noise (the initial state)."""
        m, i = self.model, self.index
        out = nxt.aid[i]
        np.multiply(nxt.policy[AID, i], m.budget[i] * m.holds.aid_scale[i], out=out)
        if eps is not None:
            sd = m.aid_noise[i]
            out *= exp(sd * eps - 0.5 * sd * sd)
        out += m.holds.aid_add[i]
        np.maximum(out, 0.0, out=out)

    def offer_upgrade(self, cur: State, nxt: State, mean_alignment: np.ndarray) -> None:
        """Partnership offers, under strategic decisions: a power whose engagement has reached
        ``upgrade_engagement`` offers the next tier up, and the small state accepts when at least a
        1/P share of its alignment, averaged over dimensions, is toward that power (an upgrade the
        partner cannot carry is not signed: Kuik 2016 on partnership as a hedging instrument). At
        most one upgrade every :data:`UPGRADE_INTERVAL` quarters."""
        m, i = self.model, self.index
        nxt.tier[i] = cur.tier[i]
        nxt.tier_age[i] = cur.tier_age[i] + 1
        if not (m.deciding and m.strategic and ENGAGEMENT in self.decides):
            return
        in_force = m.view["tier"][i]  # a partnership event in force overrides the offers' tier
        ok = (
            (nxt.policy[ENGAGEMENT, i] >= m.p.upgrade_engagement)
            & (in_force > 1)
            & (cur.tier_age[i] >= UPGRADE_INTERVAL)
            & (mean_alignment[i] * len(m.powers) >= 1.0)
        )
        nxt.tier[i] = np.where(ok, in_force - 1, cur.tier[i])  # an event's tier leaves no residue
        nxt.tier_age[i][ok] = 0

    def update_influence(self, cur: State, nxt: State, view: dict[str, np.ndarray]) -> None:
        """Process 2, influence: a stock that moves toward a target, so it fades without upkeep.

        target = w_aid A_i + w_align mean_d alignment_d,i + w_pres P_i + w_eng E_i   (weights sum to 1)
        influence += influence_rate * (target - influence)

        A, P and E are the power's shares of the three contests (credible aid, presence,
        engagement): influence as resources, access and attention (Kuik 2016 on legitimation and
        binding engagement), plus the small state's own leaning. No tier enters: a partnership
        reaches influence only through the credibility of aid and the small state's choices.
        """
        m, p, i = self.model, self.model.p, self.index
        w = m.weights
        out = nxt.influence[i]
        np.multiply(view["aid_share"][i], w["aid"], out=out)
        out += w["alignment"] * view["mean_alignment"][i]
        out += w["presence"] * view["presence_share"][i]
        out += w["engagement"] * view["engagement_share"][i]
        out -= cur.influence[i]
        out *= p.influence_rate
        out += cur.influence[i]
        np.clip(out, 0.0, 1.0, out=out)


def _adjust(level: np.ndarray, gain: np.ndarray, cost: float | np.ndarray, rate: float | np.ndarray) -> None:
    """Partial adjustment toward the myopic best response, in place.

    With a marginal gain ``gain`` (read at last quarter's state) and a quadratic cost ``cost x^2 / 2``,
    the best level is gain / cost; the level moves ``rate`` of the way there, by at most
    :data:`MAX_MOVE`, and stays in 0..1. A level whose instrument costs nothing goes to 1 when it
    gains anything and to 0 when it does not.
    """
    best = np.clip(gain / np.maximum(cost, 1e-12), 0.0, 1.0)
    step = np.clip(rate * (best - level), -MAX_MOVE, MAX_MOVE)
    level += step
    np.clip(level, 0.0, 1.0, out=level)


class SmallState(mesa.Agent):
    """The small state: it chooses its alignment in each dimension every quarter (Kuik 2008's hedger)."""

    model: HedgingModel

    def __init__(self, model: HedgingModel, key: str, name: str):
        super().__init__(model)
        self.key, self.name = key, name

    @property
    def alignment(self) -> np.ndarray:
        """Alignment shares, shape (dimensions, powers, runs); each dimension sums to 1 over powers."""
        return self.model.state.alignment

    @property
    def dependence(self) -> np.ndarray:
        """Economic dependence shares on each power, shape (powers, runs)."""
        return self.model.state.dependence

    @property
    def regime_pressure(self) -> np.ndarray:
        return self.model.state.regime

    def decide(self, cur: State, nxt: State, view: dict[str, np.ndarray], eps: np.ndarray) -> None:
        """Process 4, the hedging decision: value each power in each dimension, move part way to a
        logit choice.

        economic:   U_i = w_aid A_i + w_dep dep_i - w_over dep_i^2
        security:   U_i = w_prot Prot_i - w_threat Thr_i - w_entrap N_i + w_regime G_i
        diplomatic: U_i = w_regime G_i + w_recip A_i
          A_i    = credible aid share (economic pragmatism; votes as reciprocity)
          Thr_i  = threat perceived from i (:meth:`threats`, Walt 1987)
          Prot_i = capability_i * reach_i * max_{j != i} Thr_j   (indirect balancing)
          reach_i = min(1, presence_i + tier_security * closeness_i)
          N_i    = mean_{j != i} tension_ij                      (entrapment risk)
          G_i    = regime_pressure * (1 - pressure_i) - tension_is   (regime security)
        target_d = softmax(U_d + noise) at unit temperature; alignment_d += inertia (target_d - alignment_d)

        The components are Kuik's (2008, 2016): economic pragmatism and binding engagement (A, dep),
        dominance denial (the dep^2 penalty, N), indirect balancing (Prot), regime legitimation (G).
        The logit is McFadden's (1974) random-utility rule with its scale fixed at 1, so that every
        weight and the noise are identifiable. Each update is a convex combination of points on the
        simplex, so every dimension stays on it.
        """
        m, p = self.model, self.model.p
        s, tens = m.small_dyads, cur.tension
        threat = view["threat"]
        share = view["aid_share"]
        reach = np.minimum(1.0, view["presence"] + p.tier_security * view["closeness"][SECURITY_CHANNEL])
        pressure = cur.policy[PRESSURE]
        utils = nxt.alignment  # scratch for the utilities, then overwritten with the new alignment
        for i in m.pidx:
            regime = cur.regime * (1.0 - pressure[i]) - tens[s[i]]
            dep = cur.dependence[i]
            np.multiply(share[i], p.weight_aid, out=utils[ECONOMIC, i])
            utils[ECONOMIC, i] += p.weight_dependence * dep - p.weight_overdependence * dep * dep
            sec = utils[SECURITY, i]
            np.multiply(m.capability[i] * reach[i], m.rival_max(threat, i), out=sec)
            sec *= p.weight_protection
            sec -= p.weight_threat * threat[i]
            sec -= p.weight_entrapment * m.mean_power_tension(tens, i)
            sec += p.weight_regime * regime
            np.multiply(regime, p.weight_regime, out=utils[DIPLOMATIC, i])
            utils[DIPLOMATIC, i] += p.weight_reciprocity * share[i]
        utils += p.alignment_noise * eps
        utils -= utils.max(axis=1, keepdims=True)
        utils[...] = exp(utils)
        utils /= utils.sum(axis=1, keepdims=True)
        utils -= cur.alignment
        utils *= p.inertia
        utils += cur.alignment

    def threats(self, state: State, presence: np.ndarray, closeness: np.ndarray) -> np.ndarray:
        """Perceived threat from each power, after Walt (1987), shape (powers, runs):

        threat_j = capability_j * (proximity_j + presence_j) / 2 * hostility_j
        hostility_j = tension_j,s * (1 - tier_trust * closeness_j)

        Aggregate power, proximity and offensive capability on site (presence) threaten only in
        proportion to offensive intentions, read from the tension between the power and the small
        state; a partner in the top tier is read more kindly (the trust channel of a partnership).
        A friendly power's port call adds capability but no hostility, so little threat.
        """
        m = self.model
        hostility = state.tension[m.small_dyads] * (1.0 - m.p.tier_trust * closeness)
        return m.capability * (m.proximity + presence) * 0.5 * hostility

    def update_dependence(self, cur: State, nxt: State, share: np.ndarray) -> None:
        """Dependence drifts slowly toward a mix of structural ties and aid shares.

        target = (1 - dependence_aid) * structural + dependence_aid * credible aid share
        dependence += dependence_rate * (target - dependence)

        Structural ties (trade, investment stock, debt) are scenario inputs from the case numbers
        (N2-N12); cooperation events shift them. Both terms sum to 1, so shares stay shares.
        """
        p = self.model.p
        out = nxt.dependence
        np.multiply(share, p.dependence_aid, out=out)
        out += (1.0 - p.dependence_aid) * self.model.structural
        out -= cur.dependence
        out *= p.dependence_rate
        out += cur.dependence

    def update_regime(self, cur: State, nxt: State) -> None:
        """Regime pressure relaxes toward its initial level after events push it."""
        p = self.model.p
        out = nxt.regime
        np.subtract(self.model.regime_base, cur.regime, out=out)
        out *= p.regime_relax
        out += cur.regime
        np.clip(out, 0.0, 1.0, out=out)
