"""The actors: :class:`GreatPower` and :class:`SmallState`, Mesa agents over a whole ensemble.

One agent stands for an actor in every run at once: each of its variables is a numpy row over runs
(the model's state arrays have the run axis last), so 1 run and 10,000 runs share one code path.
Each method reads the state at the start of the step (``cur``) and writes the next one (``nxt``):
all actors decide from last step's state, then all commit (a synchronous update, as in the brief).
The small actor axes are written out as loops over rows, which is faster here than fancy indexing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.model import HedgingModel, State


class GreatPower(mesa.Agent):
    """A great power: it decides its aid and builds influence over the small state."""

    model: HedgingModel

    def __init__(self, model: HedgingModel, key: str, name: str, index: int):
        super().__init__(model)
        self.key, self.name, self.index = key, name, index

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
    def presence(self) -> np.ndarray:
        """Security presence at the small state (0..1), as events leave it."""
        return self.model.presence[self.index]

    def decide_aid(self, cur: State, nxt: State, eps: np.ndarray | None) -> None:
        """Process 1, aid: budget x interest x tier, more when a rival leads, less under criticism.

        aid = B * interest * (1 - tier_aid * (1 - c)) * (1 + competition * lead)
              * (1 - conditionality * regime_pressure) * exp(s * eps - s^2 / 2) * scale + add

        ``lead`` is the largest rival influence above this power's own: competitive aid giving, as
        with Chinese and Japanese finance in mainland Southeast Asia (Luo & Kheang Un 2021).
        Conditional donors give less the more the government is under governance criticism.
        The log-normal noise has mean 1, so noise does not shift the mean flow; its sd is the
        power's own ``aid_noise`` where the scenario gives one (China's flows are volatile, Japan's
        steady: stylized fact 4), else the parameter. ``eps=None`` gives the flow without noise
        (the initial state).
        """
        m, p, i = self.model, self.model.p, self.index
        rival = m.rival_max(cur.influence, i)
        rival -= cur.influence[i]
        np.maximum(rival, 0.0, out=rival)
        out = nxt.aid[i]
        np.multiply(rival, p.competition, out=out)
        out += 1.0
        out *= m.aid_base[i]
        out *= 1.0 - m.conditionality[i] * cur.regime
        if eps is not None:
            sd = m.aid_noise[i]
            out *= np.exp(sd * eps - 0.5 * sd * sd)
        out += m.holds.aid_add[i]
        np.maximum(out, 0.0, out=out)

    def update_influence(self, cur: State, nxt: State, share: np.ndarray) -> None:
        """Process 2, influence: a stock that moves toward a target, so it fades without upkeep.

        target = (w_aid * aid share + w_align * alignment + w_pres * presence + w_tier * c) / sum(w)
        influence += influence_rate * (target - influence)

        Influence as resources (aid), access (presence), institutional ties (tier) and the small
        state's own leaning, after Kuik 2016's reading of China's "legitimation" strategies. There
        is no separate decay term: when aid, presence or ties fall, the target falls and influence
        follows it down at the same rate.
        """
        m, p, i = self.model, self.model.p, self.index
        out = nxt.influence[i]
        np.multiply(share, p.influence_aid, out=out)
        out += p.influence_alignment * cur.alignment[i]
        out += p.influence_presence * m.presence[i]
        out += p.influence_tier * m.closeness[i]
        out *= m.influence_norm
        out -= cur.influence[i]
        out *= p.influence_rate
        out += cur.influence[i]
        np.clip(out, 0.0, 1.0, out=out)


class SmallState(mesa.Agent):
    """The small state: it chooses its alignment among the powers each step (Kuik 2008's hedger)."""

    model: HedgingModel

    def __init__(self, model: HedgingModel, key: str, name: str):
        super().__init__(model)
        self.key, self.name = key, name

    @property
    def alignment(self) -> np.ndarray:
        """Alignment shares toward each power, shape (powers, runs); columns sum to 1."""
        return self.model.state.alignment

    @property
    def dependence(self) -> np.ndarray:
        """Economic dependence shares on each power, shape (powers, runs)."""
        return self.model.state.dependence

    @property
    def regime_pressure(self) -> np.ndarray:
        return self.model.state.regime

    @property
    def hedging_index(self) -> np.ndarray:
        """(1 - sum of squared alignment shares) / (1 - 1/n): 1 spread evenly, 0 aligned with one."""
        return hedging_index(self.alignment)

    @property
    def autonomy(self) -> np.ndarray:
        """1 - the largest dependence share."""
        return 1.0 - self.dependence.max(axis=0)

    def decide_alignment(self, cur: State, nxt: State, share: np.ndarray, eps: np.ndarray) -> None:
        """Process 4, the hedging decision: value each power, then move part way to a softmax.

        U_i = w_econ E_i + w_sec S_i + w_regime G_i - w_entrap N_i - w_div C_i + w_tier c_i + noise
          E_i = (aid share_i + dependence_i) / 2                       economic benefit
          S_i = capability_i * max_{j != i} threat_j - threat_i          protection against threats
          threat_j = capability_j * (proximity_j + presence_j + tension_j,s) / 3   (Walt 1987)
          G_i = regime_pressure * (1 - conditionality_i) - tension_i,s   regime security
          N_i = mean_{j != i} tension_ij                                 entrapment risk
          C_i = dependence_i^2                                           over-dependence (HHI term)
        target = softmax(U / temperature); alignment += inertia * (target - alignment)

        The components are Kuik's (2008, 2016): economic pragmatism, binding engagement and
        limited bandwagoning (E, tier), indirect balancing (S), dominance denial and
        diversification (C, N), and regime legitimation (G). The softmax is a logit choice rule
        (McFadden 1974); inertia keeps a hedger's moves gradual. The update is a convex combination
        of points on the simplex, so alignment stays on it.
        """
        m, p = self.model, self.model.p
        s, tens = m.small_dyads, cur.tension
        threat = self.threats(cur)
        utils = nxt.alignment  # used as scratch for the utilities, then overwritten
        for i in m.pidx:
            u = utils[i]
            np.add(share[i], cur.dependence[i], out=u)
            u *= 0.5 * p.weight_economy
            u += p.weight_security * (m.capability[i] * m.rival_max(threat, i) - threat[i])
            u += p.weight_regime * (cur.regime * (1.0 - m.conditionality[i]) - tens[s[i]])
            u -= p.weight_entrapment * m.mean_power_tension(tens, i)
            u -= p.weight_diversification * cur.dependence[i] * cur.dependence[i]
            u += p.weight_partnership * m.closeness[i]
            u += p.alignment_noise * eps[i]
        utils /= p.temperature
        utils -= utils.max(axis=0)
        np.exp(utils, out=utils)
        utils /= utils.sum(axis=0)
        utils -= cur.alignment
        utils *= p.inertia
        utils += cur.alignment

    def threats(self, state: State) -> list[np.ndarray]:
        """Perceived threat from each power, after Walt (1987): aggregate power times the mean of
        proximity, offensive capability on site (presence) and intentions (tension with it).

        threat_j = capability_j * (proximity_j + presence_j + tension_j,s) / 3
        """
        m = self.model
        return [
            m.capability[j] * (m.proximity[j] + m.presence[j] + state.tension[m.small_dyads[j]]) / 3.0
            for j in m.pidx
        ]

    def update_dependence(self, cur: State, nxt: State, share: np.ndarray) -> None:
        """Dependence drifts slowly toward a mix of structural ties and aid shares.

        target = (1 - dependence_aid) * structural + dependence_aid * aid share
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


def hedging_index(alignment: np.ndarray) -> np.ndarray:
    """Normalised Herfindahl complement of alignment shares (axis 0 = powers)."""
    n = alignment.shape[0]
    return (1.0 - (alignment * alignment).sum(axis=0)) / (1.0 - 1.0 / n)
