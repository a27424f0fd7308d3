"""The model's step compiled with numba: the same equations, fused into one loop over runs.

The numpy engine (``HedgingModel(..., engine="numpy")``) states each equation once, in the agents'
methods (:mod:`sim.agents`) and the model's (:mod:`sim.model`), as passes over rows of runs: about
300 passes a step, each a function call and a trip through memory. Here the whole step of one run
(its noise, the powers' decisions, aid, partnership offers, influence, tension, the small state's
choice, dependence, regime pressure, the view of the new state and the recording of every output)
is one stretch of scalar code, and the loop goes over runs. Nothing in a run's iteration reads
another run, so a run's numbers do not depend on which runs share its batch, chunk, worker or Dask
task.

This module does not document the equations: each block names the method that does, and keeps its
order of operations, so that the two engines give the same bits (tests/test_kernel.py). Their
transcendental functions are polynomials of their own, made of exactly rounded operations, in both:
``exp`` (:mod:`sim.exponential`; here :func:`exp`), and the noise's float32 ``log`` and sine
(:mod:`sim.noise`; here :func:`log32` and :func:`box_muller`).

Compiled functions are cached on disk (``cache=True``, in ``sim/__pycache__``, or numba's user cache
directory when that is not writable): the first process to call them compiles them for a few
seconds, the next ones load them.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from sim.agents import (
    AID,
    CREDIBILITY_CHANNEL,
    DIPLOMATIC,
    ECONOMIC,
    ENGAGEMENT,
    MAX_MOVE,
    PRESENCE,
    PRESSURE,
    SECURITY,
    SECURITY_CHANNEL,
    TRUST_CHANNEL,
    UPGRADE_INTERVAL,
)
from sim.exponential import HIGHEST, INV_LN2, LN2_HI, LN2_LO, LOWEST, P1, P2, P3, P4, P5
from sim.model import HOLD_ROWS
from sim.noise import _C1, _C2, _GOLDEN, _LOG, _LOG_Q1, _LOG_Q2, _SIN, _SQRT_HALF

if TYPE_CHECKING:
    from sim.model import HedgingModel

#: The parameters the step reads, in the order of the kernel's parameter vector, then the influence
#: weights normalised to sum to 1 (``HedgingModel.weights``), then each power's aid noise (sd).
PARAMETERS = (
    "standing_value",
    "rivalry",
    "policy_rate",
    "presence_cost",
    "engagement_cost",
    "pressure_cost",
    "pressure_backlash",
    "upgrade_engagement",
    "tier_credibility",
    "tier_security",
    "tier_trust",
    "influence_rate",
    "tension_relax",
    "tension_rivalry",
    "tension_pressure",
    "tension_engagement",
    "tension_noise",
    "regime_relax",
    "weight_aid",
    "weight_dependence",
    "weight_overdependence",
    "weight_protection",
    "weight_threat",
    "weight_entrapment",
    "weight_regime",
    "weight_reciprocity",
    "inertia",
    "alignment_noise",
    "dependence_rate",
    "dependence_aid",
)
WEIGHTS = ("aid", "alignment", "presence", "engagement")
(
    STANDING_VALUE,
    RIVALRY,
    POLICY_RATE,
    PRESENCE_COST,
    ENGAGEMENT_COST,
    PRESSURE_COST,
    PRESSURE_BACKLASH,
    UPGRADE_ENGAGEMENT,
    TIER_CREDIBILITY,
    TIER_SECURITY,
    TIER_TRUST,
    INFLUENCE_RATE,
    TENSION_RELAX,
    TENSION_RIVALRY,
    TENSION_PRESSURE,
    TENSION_ENGAGEMENT,
    TENSION_NOISE,
    REGIME_RELAX,
    WEIGHT_AID,
    WEIGHT_DEPENDENCE,
    WEIGHT_OVERDEPENDENCE,
    WEIGHT_PROTECTION,
    WEIGHT_THREAT,
    WEIGHT_ENTRAPMENT,
    WEIGHT_REGIME,
    WEIGHT_RECIPROCITY,
    INERTIA,
    ALIGNMENT_NOISE,
    DEPENDENCE_RATE,
    DEPENDENCE_AID,
    W_AID,
    W_ALIGNMENT,
    W_PRESENCE,
    W_ENGAGEMENT,
    AID_SD,  # one per power from here on
) = range(len(PARAMETERS) + len(WEIGHTS) + 1)

#: What the kernel can record, keyed by the pattern of the reporter in :data:`sim.reporters.REPORTERS`
#: that it mirrors; a reporter not named here is recorded by the model with numpy after each step.
OUTPUTS = (
    "{power}.influence",
    "{power}.aid",
    "{power}.presence",
    "{power}.pressure",
    "{power}.engagement",
    "{power}.tier",
    "{small}.alignment.{dimension}.{power}",
    "{small}.alignment.{power}",
    "{small}.dependence.{power}",
    "{small}.threat.{power}",
    "{small}.hedging_index",
    "{small}.hedging.divergence",
    "{small}.hedging.ambiguity",
    "{small}.hedging.fallback",
    "{small}.diversification",
    "{small}.autonomy",
    "{small}.regime_pressure",
    "tension.{a}-{b}",
)
(
    OUT_INFLUENCE,
    OUT_AID,
    OUT_PRESENCE,
    OUT_PRESSURE,
    OUT_ENGAGEMENT,
    OUT_TIER,
    OUT_ALIGNMENT,
    OUT_MEAN_ALIGNMENT,
    OUT_DEPENDENCE,
    OUT_THREAT,
    OUT_HEDGING_INDEX,
    OUT_DIVERGENCE,
    OUT_AMBIGUITY,
    OUT_FALLBACK,
    OUT_DIVERSIFICATION,
    OUT_AUTONOMY,
    OUT_REGIME,
    OUT_TENSION,
) = range(len(OUTPUTS))

# Rows of a run's view (HedgingModel.observe), one column per power; the closeness of the three
# partnership channels takes rows V_CLOSE + channel.
(
    V_TIER,
    V_CLOSE,
    _V_CLOSE_2,
    _V_CLOSE_3,
    V_CREDIBILITY,
    V_CREDIBLE,
    V_COMMITMENT,
    V_AID_SHARE,
    V_PRESENCE,
    V_PRESENCE_SHARE,
    V_ENGAGEMENT_SHARE,
    V_MEAN_ALIGNMENT,
    V_THREAT,
    V_ROWS,
) = range(14)

HOLD_AID_SCALE, HOLD_AID_ADD = HOLD_ROWS.index("aid_scale"), HOLD_ROWS.index("aid_add")
HOLD_PRESENCE_SCALE, HOLD_PRESENCE_ADD = HOLD_ROWS.index("presence_scale"), HOLD_ROWS.index("presence_add")

# Noise constants as numba sees them (uint64 and float32 globals are frozen into the code).
_U_GOLDEN, _U_C1, _U_C2 = np.uint64(_GOLDEN), np.uint64(_C1), np.uint64(_C2)
_U_24 = np.uint64(0xFFFFFF)
_F = np.float32
_F_2M24, _F_2M25, _F_HALF, _F_QUARTER = _F(2.0**-24), _F(2.0**-25), _F(0.5), _F(0.25)
_F_2PI, _F_M2 = _F(2 * np.pi), _F(-2.0)
_S0, _S1, _S2, _S3, _S4, _S5 = _SIN
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8 = _LOG
_F_ONE = _F(1.0)


# ---- numpy's element-wise semantics, NaN and signed zeros included --------------------------------
# (of equal operands, np.maximum and np.minimum return the second and np.clip keeps x: -0.0 and 0.0
# tell them apart; tests/test_kernel.py checks these against numpy on every pair of special values)
@njit(cache=True, error_model="numpy")
def _maximum(a, b):
    """np.maximum(a, b)."""
    return a if (a > b or a != a) else b


@njit(cache=True, error_model="numpy")
def _minimum(a, b):
    """np.minimum(a, b)."""
    return a if (a < b or a != a) else b


@njit(cache=True, error_model="numpy")
def _clip(x, lo, hi):
    """np.clip(x, lo, hi): raised to lo unless at or above it, then lowered to hi unless at or
    below it (a NaN bound gives NaN)."""
    y = x if (x >= lo or x != x) else lo
    return y if (y <= hi or y != y) else hi


@njit(cache=True, error_model="numpy")
def exp(x):
    """:func:`sim.exponential.exp` of one number: the same operations, so the same bits.

    Without branches (selects instead), so that loops calling it vectorise."""
    xc = x if x >= LOWEST else LOWEST
    xc = xc if xc <= HIGHEST else HIGHEST
    k = np.floor(xc * INV_LN2 + 0.5)
    hi = xc - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    y = y * _float_from_bits((np.int64(k) + 1023) << 52)
    y = y if x >= LOWEST else (0.0 if x == x else np.nan)
    return np.inf if x > HIGHEST else y


def _bit_cast(source, target):  # noqa: ANN001, ANN202
    """A numba intrinsic that reads the bits of a ``source`` number as a ``target`` (numpy's
    ``view`` of one number)."""

    def cast(typingctx, x):  # noqa: ANN001, ANN202
        def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return intrinsic(cast)


_float_from_bits = _bit_cast(types.int64, types.float64)
_int32_bits = _bit_cast(types.float32, types.int32)
_float32_from_bits = _bit_cast(types.int32, types.float32)


@njit(cache=True, error_model="numpy")
def _adjust(level, gain, cost, rate):
    """:func:`sim.agents._adjust`: partial adjustment toward the myopic best response
    ``clip(gain / cost, 0, 1)``, the move capped, the level kept in 0..1."""
    best = _clip(gain / _maximum(cost, 1e-12), 0.0, 1.0)
    return _clip(level + _clip(rate * (best - level), -MAX_MOVE, MAX_MOVE), 0.0, 1.0)


@njit(cache=True, error_model="numpy")
def _share(x, total, P):  # noqa: N803
    """One share of :func:`sim.agents.contest` (no base): x / total, equal shares when total is 0."""
    return x / total if total > 0 else 1.0 / P


@njit(cache=True, error_model="numpy")
def _rival_max(v, row, i, b):
    """:meth:`HedgingModel.rival_max`: the largest v[row, j, b] over every power j but i."""
    first = True
    m = 0.0
    for j in range(v.shape[1]):
        if j != i:
            m = v[row, j, b] if first else _maximum(m, v[row, j, b])
            first = False
    return m


@njit(cache=True, error_model="numpy")
def _rival_max2(x, i, r):
    """:meth:`HedgingModel.rival_max` of a state's rows: the largest x[j, r] over every j but i."""
    first = True
    m = 0.0
    for j in range(x.shape[0]):
        if j != i:
            m = x[j, r] if first else _maximum(m, x[j, r])
            first = False
    return m


@njit(cache=True, error_model="numpy")
def _sum(v, row, total, nb):
    """total[b] = the sum of v[row, :, b] over the powers, added in order as numpy reduces axis 0."""
    for b in range(nb):
        total[b] = v[row, 0, b]
    for i in range(1, v.shape[1]):
        for b in range(nb):
            total[b] += v[row, i, b]


# ---- noise -----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _mix(x):
    """:func:`sim.noise._mix` on one uint64 (SplitMix64's finaliser, wrapping arithmetic)."""
    x = x + _U_GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _U_C1
    x = (x ^ (x >> np.uint64(27))) * _U_C2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, error_model="numpy")
def log32(u):
    """:func:`sim.noise._log` of one positive normal float32: the same operations, the same bits."""
    bits = _int32_bits(u)
    e = (bits >> np.int32(23)) - np.int32(126)
    m = _float32_from_bits((bits & np.int32(0x007FFFFF)) | np.int32(0x3F000000))
    low = m < _SQRT_HALF
    e = e - np.int32(1) if low else e
    x = (m + m if low else m) - _F_ONE
    z = x * x
    y = _L0
    y = y * x + _L1
    y = y * x + _L2
    y = y * x + _L3
    y = y * x + _L4
    y = y * x + _L5
    y = y * x + _L6
    y = y * x + _L7
    y = y * x + _L8
    y = y * x * z
    ef = _F(e)
    y = y + _LOG_Q1 * ef
    y = y - _F_HALF * z
    r = x + y
    return r + _LOG_Q2 * ef


#: Runs whose hash bits are drawn together before their floats (:func:`box_muller`).
NOISE_BLOCK = 256


@njit(cache=True, error_model="numpy")
def _noise(base, key, r0, nb, high, middle, logu, sine):
    """The two factors of one stream's normals for runs r0..r0+nb-1 (:func:`box_muller`), into
    ``logu[b]`` and ``sine[b]``; ``high`` and ``middle`` are int32 scratch of nb or more."""
    for b in range(nb):
        h = _mix(base[np.uint64(r0 + b)] + key)
        high[b] = np.int32((h >> np.uint64(40)) & _U_24)
        middle[b] = np.int32((h >> np.uint64(16)) & _U_24)
    for b in range(nb):
        c = np.uint64(b)  # unsigned: no check for negative indices, so the loop vectorises
        logu[c] = log32(_F(high[c]) * _F_2M24 + _F_2M25)
        u = _F(middle[c]) * _F_2M24 + _F_2M25
        u = _F_QUARTER - np.abs(u - _F_HALF)
        u = u * _F_2PI
        x2 = u * u
        acc = _S0
        acc = acc * x2 + _S1
        acc = acc * x2 + _S2
        acc = acc * x2 + _S3
        acc = acc * x2 + _S4
        acc = acc * x2 + _S5
        sine[c] = acc * u


@njit(cache=True, error_model="numpy")
def step_keys(keys, step):
    """Each stream's key at this step (:meth:`sim.noise.Streams.step_keys`)."""
    at = np.uint64(step) * _U_C1
    out = np.empty(keys.size, dtype=np.uint64)
    for k in range(keys.size):
        out[k] = _mix(keys[k] ^ at)
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def box_muller(base, keys, step, logu, sine, lo, hi):
    """The two factors of :meth:`sim.noise.Streams.normals`' Box-Muller, in float32.

    For stream k and run r (runs ``lo..hi-1``): the hash of ``base[r]`` plus the stream's key at
    this step (:meth:`~sim.noise.Streams.step_keys`), the log (:func:`log32`) of the uniform of its
    bits 40-63 into ``logu[k, r]`` and, from bits 16-39, the sine factor (``_sin_2pi``) into
    ``sine[k, r]``; each normal is ``sqrt(-2 logu) * sine``. :func:`step` draws the same numbers
    a block of runs at a time (:func:`_noise`), where they are used.

    Two loops per block of :data:`NOISE_BLOCK` runs: the 64-bit hashes, their 24-bit fields kept
    as int32, then the float32 arithmetic, which vectorises once it starts from int32 (the
    processor has no vector conversion from uint64; a 24-bit integer converts exactly either way).
    """
    K = logu.shape[0]  # noqa: N806
    key = step_keys(keys, step)
    B = NOISE_BLOCK  # noqa: N806
    high = np.empty(B, dtype=np.int32)
    middle = np.empty(B, dtype=np.int32)
    for k in range(K):
        for r0 in range(lo, hi, B):
            nb = min(B, hi - r0)
            _noise(base, key[k], r0, nb, high, middle, logu[k, r0 : r0 + nb], sine[k, r0 : r0 + nb])


# ---- the view of a state ---------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _observe(
    r0,
    nb,
    aid,
    policy,
    alignment,
    tension,
    tier,
    holds_tier,
    channels,
    presence_scale,
    presence_add,
    capability,
    proximity,
    small_dyads,
    q,
    v,
    total,
    shares,
):
    """:meth:`sim.model.HedgingModel.observe` (threat: :meth:`SmallState.threats`) of runs
    r0..r0+nb-1, into v[row, power, run - r0]; the contest shares only if ``shares`` (the record
    does not need them); ``total`` is scratch."""
    P = aid.shape[0]  # noqa: N806
    dims = alignment.shape[0]
    for i in range(P):
        held = float(holds_tier[i])
        for b in range(nb):
            r = np.uint64(r0 + b)
            t = held if held > 0 else tier[i, r]
            v[V_TIER, i, b] = t
            close = (3.0 - t) / 2.0
            for c in range(3):
                v[V_CLOSE + c, i, b] = close if channels[c] else 0.0
            credibility = 1.0 - q[TIER_CREDIBILITY, b] * (1.0 - v[V_CLOSE + CREDIBILITY_CHANNEL, i, b])
            v[V_CREDIBILITY, i, b] = credibility
            v[V_CREDIBLE, i, b] = credibility * aid[i, r]
            presence = policy[PRESENCE, i, r] * presence_scale[i, r] + presence_add[i, r]
            v[V_PRESENCE, i, b] = _clip(presence, 0.0, 1.0)
            hostility = tension[small_dyads[i], r] * (
                1.0 - q[TIER_TRUST, b] * v[V_CLOSE + TRUST_CHANNEL, i, b]
            )
            v[V_THREAT, i, b] = capability[i] * (proximity[i] + v[V_PRESENCE, i, b]) * 0.5 * hostility
        # the mean over dimensions, summed in their order: loops over runs innermost, to vectorise
        for b in range(nb):
            v[V_MEAN_ALIGNMENT, i, b] = alignment[0, i, np.uint64(r0 + b)]
        for d in range(1, dims):
            for b in range(nb):
                v[V_MEAN_ALIGNMENT, i, b] += alignment[d, i, np.uint64(r0 + b)]
        for b in range(nb):
            v[V_MEAN_ALIGNMENT, i, b] /= dims
    if not shares:
        return
    # contest(): Tullock shares of credible aid, presence and engagement (no base)
    _sum(v, V_CREDIBLE, total, nb)
    for i in range(P):
        for b in range(nb):
            v[V_AID_SHARE, i, b] = _share(v[V_CREDIBLE, i, b], total[b] + 0.0, P)
    _sum(v, V_PRESENCE, total, nb)
    for i in range(P):
        for b in range(nb):
            v[V_PRESENCE_SHARE, i, b] = _share(v[V_PRESENCE, i, b], total[b] + 0.0, P)
    for b in range(nb):
        total[b] = policy[ENGAGEMENT, 0, np.uint64(r0 + b)]
    for i in range(1, P):
        for b in range(nb):
            total[b] += policy[ENGAGEMENT, i, np.uint64(r0 + b)]
    for i in range(P):
        for b in range(nb):
            v[V_ENGAGEMENT_SHARE, i, b] = _share(policy[ENGAGEMENT, i, np.uint64(r0 + b)], total[b] + 0.0, P)


@njit(cache=True, error_model="numpy")
def _unpack(block, P, D):  # noqa: N803
    """The stocks of a :class:`sim.model.State` from its block: the views of ``State.arrays()``."""
    n = block.shape[1]
    dims = 3
    a = 0
    aid = block[a : a + P]
    a += P
    policy = block[a : a + 4 * P].reshape((4, P, n))
    a += 4 * P
    influence = block[a : a + P]
    a += P
    alignment = block[a : a + dims * P].reshape((dims, P, n))
    a += dims * P
    dependence = block[a : a + P]
    a += P
    tension = block[a : a + D]
    a += D
    regime = block[a]
    a += 1
    tier = block[a : a + P]
    a += P
    tier_age = block[a : a + P]
    return aid, policy, influence, alignment, dependence, tension, regime, tier, tier_age


# ---- the step --------------------------------------------------------------------------------------
#: Runs computed together: each equation is a loop over a block of runs, short enough for the
#: block's scratch to stay in the L1 cache, long enough to keep the processor's pipelines full.
BLOCK = 128


@njit(cache=True, error_model="numpy", nogil=True)
def step(
    cur,
    nxt,
    held,
    attributes,
    level,
    holds_tier,
    channels,
    capability,
    proximity,
    small_dyads,
    power_dyads,
    decides,
    pfix,
    runk,
    prun,
    policy_start,
    regime_base,
    deciding,
    strategic,
    base,
    keys,
    rec,
    rows,
    lo,
    hi,
):
    """One step of runs ``lo..hi-1``, from ``cur`` to ``nxt``, recorded into ``rec`` (outputs, runs).

    ``cur`` and ``nxt`` are the blocks of :class:`sim.model.State`; ``held`` the block of
    :class:`sim.model.Holds`, ``attributes`` and ``level`` the model's attributes that the events
    in force set (:meth:`HedgingModel._refresh`); ``pfix`` the parameter vector with the values of
    fixed parameters, and ``prun[u]`` the values per run of parameter ``runk[u]``; ``base`` the runs'
    bases and ``keys`` the streams' keys at this step (:func:`step_keys`), from which each block
    draws its noise (:func:`box_muller`'s numbers, where they are used); ``rows[o]`` the first row of output o
    in ``rec``, or -1 when it is not recorded. The blocks follow :meth:`HedgingModel.step`.

    Runs go in blocks of :data:`BLOCK`, and within a block each equation is a loop over its runs:
    independent iterations that the processor overlaps. Every run's arithmetic is the same
    whatever its block, so blocks change nothing but speed: in particular :func:`exp` is made of
    exactly rounded operations, the same bits in a vector register or alone. Run indices are
    unsigned (``np.uint64(r0 + b)``): numba then skips its check for negative indices, and the loops
    over runs vectorise.
    """
    P = capability.shape[0]  # noqa: N806
    D = level.shape[0]  # noqa: N806
    aid0, pol0, inf0, al0, dep0, ten0, reg0, tier0, age0 = _unpack(cur, P, D)
    aid1, pol1, inf1, al1, dep1, ten1, reg1, tier1, age1 = _unpack(nxt, P, D)
    aid_scale, aid_add = held[HOLD_AID_SCALE], held[HOLD_AID_ADD]
    presence_scale, presence_add = held[HOLD_PRESENCE_SCALE], held[HOLD_PRESENCE_ADD]
    budget, interest, conditionality, structural = attributes[0], attributes[1], attributes[2], attributes[3]
    dims = al0.shape[0]
    noise_align, noise_tension = P, P + dims * P  # the streams: aid, alignment, tension
    B = BLOCK  # noqa: N806
    q = np.empty((pfix.size, B))
    for k in range(pfix.size):
        q[k, :] = pfix[k]
    z = np.empty((keys.size, B))
    high = np.empty(B, dtype=np.int32)
    middle = np.empty(B, dtype=np.int32)
    logu = np.empty(B, dtype=np.float32)
    sine = np.empty(B, dtype=np.float32)
    v0 = np.empty((V_ROWS, P, B))
    v1 = np.empty((V_ROWS, P, B))
    u = np.empty((dims, P, B))
    t1 = np.empty(B)
    t2 = np.empty(B)
    t3 = np.empty(B)
    acc = np.empty((6, B))
    share = 1.0 / P
    even = 1.0 - 1.0 / P
    for r0 in range(lo, hi, B):
        nb = min(B, hi - r0)
        for k in range(runk.size):
            for b in range(nb):
                q[runk[k], b] = prun[k, np.uint64(r0 + b)]
        for k in range(z.shape[0]):
            _noise(base, keys[k], r0, nb, high, middle, logu, sine)
            for b in range(nb):
                z[k, b] = np.float64(np.sqrt(logu[np.uint64(b)] * _F_M2) * sine[np.uint64(b)])
        _observe(
            r0,
            nb,
            aid0,
            pol0,
            al0,
            ten0,
            tier0,
            holds_tier,
            channels,
            presence_scale,
            presence_add,
            capability,
            proximity,
            small_dyads,
            q,
            v0,
            t1,
            True,
        )

        # 1. GreatPower.decide: adaptive adjustment of each instrument it decides
        for x in range(4):
            for i in range(P):
                for b in range(nb):
                    pol1[x, i, np.uint64(r0 + b)] = pol0[x, i, np.uint64(r0 + b)]
        if deciding:
            # the value of standing, V = standing_value * interest * (1 + rivalry * lead), into u
            for i in range(P):
                for b in range(nb):
                    r = np.uint64(r0 + b)
                    lead = _maximum(_rival_max2(inf0, i, r) - inf0[i, r], 0.0)
                    u[0, i, b] = q[STANDING_VALUE, b] * interest[i, r] * (1.0 + q[RIVALRY, b] * lead)
            # credible commitments (HedgingModel.observe: credible_commitment), their total in t1
            for i in range(P):
                for b in range(nb):
                    r = np.uint64(r0 + b)
                    committed = pol0[AID, i, r] * budget[i, r] * aid_scale[i, r] + aid_add[i, r]
                    v0[V_COMMITMENT, i, b] = v0[V_CREDIBILITY, i, b] * _maximum(committed, 0.0)
            _sum(v0, V_COMMITMENT, t1, nb)
            _sum(v0, V_PRESENCE, t2, nb)
            for b in range(nb):
                t3[b] = pol0[ENGAGEMENT, 0, np.uint64(r0 + b)]
            for i in range(1, P):
                for b in range(nb):
                    t3[b] += pol0[ENGAGEMENT, i, np.uint64(r0 + b)]
            for i in range(P):
                if decides[i, AID]:
                    for b in range(nb):
                        r = np.uint64(r0 + b)
                        total = t1[b]
                        rivals = total - v0[V_COMMITMENT, i, b]
                        gain = u[0, i, b] * q[W_AID, b] * budget[i, r] * aid_scale[i, r]
                        gain = gain * v0[V_CREDIBILITY, i, b] * rivals
                        gain /= _maximum(total * total, 1e-12)
                        pol1[AID, i, r] = _adjust(pol0[AID, i, r], gain, 1.0, q[POLICY_RATE, b])
                if decides[i, PRESENCE]:
                    for b in range(nb):
                        r = np.uint64(r0 + b)
                        total = t2[b]
                        gain = u[0, i, b] * q[W_PRESENCE, b] * presence_scale[i, r]
                        gain = gain * (total - v0[V_PRESENCE, i, b]) / _maximum(total * total, 1e-12)
                        c = pol0[PRESENCE, i, r]
                        pol1[PRESENCE, i, r] = _adjust(c, gain, q[PRESENCE_COST, b], q[POLICY_RATE, b])
                if decides[i, ENGAGEMENT]:
                    for b in range(nb):
                        r = np.uint64(r0 + b)
                        total = t3[b]
                        c = pol0[ENGAGEMENT, i, r]
                        gain = u[0, i, b] * q[W_ENGAGEMENT, b] * 1.0
                        gain = gain * (total - c) / _maximum(total * total, 1e-12)
                        pol1[ENGAGEMENT, i, r] = _adjust(c, gain, q[ENGAGEMENT_COST, b], q[POLICY_RATE, b])
                if decides[i, PRESSURE]:
                    for b in range(nb):
                        r = np.uint64(r0 + b)
                        alt = _rival_max(v0, V_MEAN_ALIGNMENT, i, b)
                        gain = conditionality[i, r] - q[PRESSURE_BACKLASH, b] * interest[i, r] * alt
                        c = pol0[PRESSURE, i, r]
                        pol1[PRESSURE, i, r] = _adjust(c, gain, q[PRESSURE_COST, b], q[POLICY_RATE, b])

        # GreatPower.disburse: the committed share of the budget, scaled, noisy, topped up
        for i in range(P):
            for b in range(nb):
                r = np.uint64(r0 + b)
                a = pol1[AID, i, r] * (budget[i, r] * aid_scale[i, r])
                sd = q[AID_SD + i, b]
                a *= exp(sd * z[i, b] - 0.5 * sd * sd)
                a += aid_add[i, r]
                aid1[i, r] = _maximum(a, 0.0)

        # GreatPower.offer_upgrade
        for i in range(P):
            offers = deciding and strategic and decides[i, ENGAGEMENT]
            for b in range(nb):
                r = np.uint64(r0 + b)
                tier1[i, r] = tier0[i, r]
                age1[i, r] = age0[i, r] + 1
                in_force = v0[V_TIER, i, b]  # a partnership event in force overrides the offers' tier
                if (
                    offers
                    and pol1[ENGAGEMENT, i, r] >= q[UPGRADE_ENGAGEMENT, b]
                    and in_force > 1
                    and age0[i, r] >= UPGRADE_INTERVAL
                    and v0[V_MEAN_ALIGNMENT, i, b] * P >= 1.0
                ):
                    tier1[i, r] = in_force - 1.0
                    age1[i, r] = 0.0

        # 2. GreatPower.update_influence
        for i in range(P):
            for b in range(nb):
                r = np.uint64(r0 + b)
                x = v0[V_AID_SHARE, i, b] * q[W_AID, b]
                x += q[W_ALIGNMENT, b] * v0[V_MEAN_ALIGNMENT, i, b]
                x += q[W_PRESENCE, b] * v0[V_PRESENCE_SHARE, i, b]
                x += q[W_ENGAGEMENT, b] * v0[V_ENGAGEMENT_SHARE, i, b]
                x -= inf0[i, r]
                x *= q[INFLUENCE_RATE, b]
                x += inf0[i, r]
                inf1[i, r] = _clip(x, 0.0, 1.0)

        # 3. HedgingModel.update_tension
        for d in range(D):
            for b in range(nb):
                ten1[d, np.uint64(r0 + b)] = level[d, np.uint64(r0 + b)] - ten0[d, np.uint64(r0 + b)]
        for i in range(P):
            s_i = small_dyads[i]
            for b in range(nb):
                r = np.uint64(r0 + b)
                moved_pressure = pol0[PRESSURE, i, r] - policy_start[PRESSURE, i, r]
                moved_engagement = pol0[ENGAGEMENT, i, r] - policy_start[ENGAGEMENT, i, r]
                ten1[s_i, r] += (
                    q[TENSION_PRESSURE, b] * moved_pressure - q[TENSION_ENGAGEMENT, b] * moved_engagement
                )
        for d in range(D):
            for b in range(nb):
                r = np.uint64(r0 + b)
                ten1[d, r] *= q[TENSION_RELAX, b]
                ten1[d, r] += ten0[d, r]
        for i in range(P):
            for j in range(i + 1, P):
                d = power_dyads[i, j]
                for b in range(nb):
                    r = np.uint64(r0 + b)
                    stake_i = inf0[i, r] + v0[V_PRESENCE, i, b]
                    stake_j = inf0[j, r] + v0[V_PRESENCE, j, b]
                    ten1[d, r] += 0.25 * q[TENSION_RIVALRY, b] * stake_i * stake_j
        for d in range(D):
            for b in range(nb):
                r = np.uint64(r0 + b)
                ten1[d, r] = _clip(ten1[d, r] + q[TENSION_NOISE, b] * z[noise_tension + d, b], 0.0, 1.0)

        # 4. SmallState.decide: utilities, then a logit choice approached with inertia
        for i in range(P):
            s_i = small_dyads[i]
            # the largest rival threat into t2, HedgingModel.mean_power_tension's sum into t3: loops
            # over the powers outside the loops over runs, so that these vectorise
            first = True
            for j in range(P):
                if j != i:
                    d_ij = power_dyads[i, j]
                    if first:
                        for b in range(nb):
                            t2[b] = v0[V_THREAT, j, b]
                            t3[b] = ten0[d_ij, np.uint64(r0 + b)]
                    else:
                        for b in range(nb):
                            t2[b] = _maximum(t2[b], v0[V_THREAT, j, b])
                            t3[b] = t3[b] + ten0[d_ij, np.uint64(r0 + b)]
                    first = False
            for b in range(nb):
                r = np.uint64(r0 + b)
                regime = reg0[r] * (1.0 - pol0[PRESSURE, i, r]) - ten0[s_i, r]
                dep = dep0[i, r]
                e = v0[V_AID_SHARE, i, b] * q[WEIGHT_AID, b]
                e += q[WEIGHT_DEPENDENCE, b] * dep - q[WEIGHT_OVERDEPENDENCE, b] * dep * dep
                u[ECONOMIC, i, b] = e
                security = q[TIER_SECURITY, b] * v0[V_CLOSE + SECURITY_CHANNEL, i, b]
                reach = _minimum(1.0, v0[V_PRESENCE, i, b] + security)
                sec = capability[i] * reach * t2[b]
                sec *= q[WEIGHT_PROTECTION, b]
                sec -= q[WEIGHT_THREAT, b] * v0[V_THREAT, i, b]
                sec -= q[WEIGHT_ENTRAPMENT, b] * (t3[b] / (P - 1))
                sec += q[WEIGHT_REGIME, b] * regime
                u[SECURITY, i, b] = sec
                dip = regime * q[WEIGHT_REGIME, b]
                dip += q[WEIGHT_RECIPROCITY, b] * v0[V_AID_SHARE, i, b]
                u[DIPLOMATIC, i, b] = dip
        for d in range(dims):
            for i in range(P):
                for b in range(nb):
                    u[d, i, b] += q[ALIGNMENT_NOISE, b] * z[noise_align + d * P + i, b]
            for b in range(nb):
                top = u[d, 0, b]
                for i in range(1, P):
                    top = _maximum(top, u[d, i, b])
                t1[b] = top
            for i in range(P):
                for b in range(nb):
                    u[d, i, b] = exp(u[d, i, b] - t1[b])
            for b in range(nb):
                r = np.uint64(r0 + b)
                total = u[d, 0, b]
                for i in range(1, P):
                    total += u[d, i, b]
                for i in range(P):
                    x = u[d, i, b] / total
                    x -= al0[d, i, r]
                    x *= q[INERTIA, b]
                    al1[d, i, r] = x + al0[d, i, r]

        # SmallState.update_dependence and update_regime
        for i in range(P):
            for b in range(nb):
                r = np.uint64(r0 + b)
                x = v0[V_AID_SHARE, i, b] * q[DEPENDENCE_AID, b]
                x += (1.0 - q[DEPENDENCE_AID, b]) * structural[i, r]
                x -= dep0[i, r]
                x *= q[DEPENDENCE_RATE, b]
                dep1[i, r] = x + dep0[i, r]
        for b in range(nb):
            r = np.uint64(r0 + b)
            x = regime_base - reg0[r]
            x *= q[REGIME_RELAX, b]
            reg1[r] = _clip(x + reg0[r], 0.0, 1.0)

        # 5. the view of the new state, and its record (sim.reporters)
        _observe(
            r0,
            nb,
            aid1,
            pol1,
            al1,
            ten1,
            tier1,
            holds_tier,
            channels,
            presence_scale,
            presence_add,
            capability,
            proximity,
            small_dyads,
            q,
            v1,
            t1,
            False,
        )
        _record(r0, nb, aid1, pol1, inf1, al1, dep1, ten1, reg1, v1, rec, rows, share, even, acc)


@njit(cache=True, error_model="numpy", nogil=True)
def record_state(
    cur, held, holds_tier, channels, capability, proximity, small_dyads, D, pfix, runk, prun, rec, rows
):  # noqa: N803, E501
    """The record of a state (``cur``, a :class:`sim.model.State`'s block) into ``rec`` (outputs,
    runs), as :func:`step` records the state it makes: a model's first date."""
    P = capability.shape[0]  # noqa: N806
    n = cur.shape[1]
    aid, pol, inf, al, dep, ten, reg, tier, age = _unpack(cur, P, D)
    B = BLOCK  # noqa: N806
    q = np.empty((pfix.size, B))
    for k in range(pfix.size):
        q[k, :] = pfix[k]
    v = np.empty((V_ROWS, P, B))
    total = np.empty(B)
    acc = np.empty((6, B))
    for r0 in range(0, n, B):
        nb = min(B, n - r0)
        for k in range(runk.size):
            for b in range(nb):
                q[runk[k], b] = prun[k, np.uint64(r0 + b)]
        presence_scale, presence_add = held[HOLD_PRESENCE_SCALE], held[HOLD_PRESENCE_ADD]
        _observe(r0, nb, aid, pol, al, ten, tier, holds_tier, channels, presence_scale, presence_add,
                 capability, proximity, small_dyads, q, v, total, False)  # fmt: skip
        _record(r0, nb, aid, pol, inf, al, dep, ten, reg, v, rec, rows, 1.0 / P, 1.0 - 1.0 / P, acc)


@njit(cache=True, error_model="numpy")
def _put(rec, k, x, r0, nb):
    """rec[k + i, r0 + b] = x[i, r0 + b] for each row i and run b of the block (k >= 0)."""
    for i in range(x.shape[0]):
        for b in range(nb):
            rec[k + i, np.uint64(r0 + b)] = x[i, np.uint64(r0 + b)]


@njit(cache=True, error_model="numpy")
def _put_view(rec, k, v, row, r0, nb):
    """rec[k + i, r0 + b] = v[row, i, b] for each power i and run b of the block (k >= 0)."""
    for i in range(v.shape[1]):
        for b in range(nb):
            rec[k + i, np.uint64(r0 + b)] = v[row, i, b]


@njit(cache=True, error_model="numpy")
def _record(
    r0, nb, aid, policy, influence, alignment, dependence, tension, regime, v, rec, rows, share, even, acc
):
    """The outputs of :data:`sim.reporters.REPORTERS` (hedging: :mod:`sim.hedging`) of a block of
    runs; ``rows[o]`` is the first row of output o in ``rec``, or -1 when it is not recorded;
    ``acc`` is scratch, six rows of a block."""
    P = aid.shape[0]  # noqa: N806
    dims = alignment.shape[0]
    if rows[OUT_INFLUENCE] >= 0:
        _put(rec, rows[OUT_INFLUENCE], influence, r0, nb)
    if rows[OUT_AID] >= 0:
        _put(rec, rows[OUT_AID], aid, r0, nb)
    if rows[OUT_PRESENCE] >= 0:
        _put_view(rec, rows[OUT_PRESENCE], v, V_PRESENCE, r0, nb)
    if rows[OUT_PRESSURE] >= 0:
        _put(rec, rows[OUT_PRESSURE], policy[PRESSURE], r0, nb)
    if rows[OUT_ENGAGEMENT] >= 0:
        _put(rec, rows[OUT_ENGAGEMENT], policy[ENGAGEMENT], r0, nb)
    if rows[OUT_TIER] >= 0:
        _put_view(rec, rows[OUT_TIER], v, V_TIER, r0, nb)
    if rows[OUT_ALIGNMENT] >= 0:
        for d in range(dims):
            _put(rec, rows[OUT_ALIGNMENT] + d * P, alignment[d], r0, nb)
    if rows[OUT_MEAN_ALIGNMENT] >= 0:
        _put_view(rec, rows[OUT_MEAN_ALIGNMENT], v, V_MEAN_ALIGNMENT, r0, nb)
    if rows[OUT_DEPENDENCE] >= 0:
        _put(rec, rows[OUT_DEPENDENCE], dependence, r0, nb)
    if rows[OUT_THREAT] >= 0:
        _put_view(rec, rows[OUT_THREAT], v, V_THREAT, r0, nb)
    if rows[OUT_TENSION] >= 0:
        _put(rec, rows[OUT_TENSION], tension, r0, nb)
    if rows[OUT_REGIME] >= 0:
        for b in range(nb):
            rec[rows[OUT_REGIME], np.uint64(r0 + b)] = regime[np.uint64(r0 + b)]
    # per run: the largest dependence; sim.hedging's sums over the powers (each in the powers'
    # order, as there), into rows of ``acc``, with the loops over runs innermost to vectorise
    top, gap, squares, mean_squares, ties, tie = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5]
    for i in range(P):
        for b in range(nb):
            r = np.uint64(r0 + b)
            dep = dependence[i, r]
            g = abs(alignment[ECONOMIC, i, r] - alignment[SECURITY, i, r])
            sq = alignment[SECURITY, i, r] * alignment[SECURITY, i, r]
            msq = v[V_MEAN_ALIGNMENT, i, b] * v[V_MEAN_ALIGNMENT, i, b]
            if i == 0:
                top[b], gap[b], squares[b], mean_squares[b] = dep, g, sq, msq
            else:
                top[b] = _maximum(top[b], dep)
                gap[b] += g
                squares[b] += sq
                mean_squares[b] += msq
            tie[b] = alignment[0, i, r]
        for d in range(1, dims):
            for b in range(nb):
                tie[b] = _maximum(tie[b], alignment[d, i, np.uint64(r0 + b)])
        for b in range(nb):
            x = _minimum(1.0, P * tie[b])
            ties[b] = x if i == 0 else ties[b] + x
    for b in range(nb):
        r = np.uint64(r0 + b)
        if rows[OUT_AUTONOMY] >= 0:
            rec[rows[OUT_AUTONOMY], r] = 1.0 - top[b]
        divergence = 0.5 * gap[b]
        ambiguity = (1.0 - squares[b]) / even
        fallback = (ties[b] / P - share) / even
        if rows[OUT_DIVERGENCE] >= 0:
            rec[rows[OUT_DIVERGENCE], r] = divergence
        if rows[OUT_AMBIGUITY] >= 0:
            rec[rows[OUT_AMBIGUITY], r] = ambiguity
        if rows[OUT_FALLBACK] >= 0:
            rec[rows[OUT_FALLBACK], r] = fallback
        if rows[OUT_HEDGING_INDEX] >= 0:
            rec[rows[OUT_HEDGING_INDEX], r] = (divergence + ambiguity + fallback) / 3.0
        if rows[OUT_DIVERSIFICATION] >= 0:
            rec[rows[OUT_DIVERSIFICATION], r] = (1.0 - mean_squares[b]) / even


# ---- what the events in force hold -----------------------------------------------------------------
HOLD_ATTRIBUTES = tuple(HOLD_ROWS.index(f"{a}_scale") for a in ("budget", "interest", "conditionality"))
HOLD_DEPENDENCE = HOLD_ROWS.index("dependence")


@njit(cache=True, error_model="numpy", nogil=True)
def derive(held, held_tension, base, base_structural, tension_base, attributes, level):
    """The end of :meth:`sim.model.HedgingModel._refresh`, once the events have set their holds:
    the attributes they leave (``base``: budget, interest and conditionality, (3, powers)) and
    the structural shares into ``attributes``, the levels of tension into ``level``. The same
    operations in the same order as the numpy there, so the same bits; each row's scale and add
    follow each other in ``held`` (:data:`sim.model.HOLD_ROWS`)."""
    P, n = held.shape[1], held.shape[2]  # noqa: N806
    for a in range(3):
        k = HOLD_ATTRIBUTES[a]
        for i in range(P):
            for r in range(n):
                x = base[a, i] * held[k, i, r]
                x += held[k + 1, i, r]
                attributes[a, i, r] = _maximum(x, 0.0) if a == 0 else _clip(x, 0.0, 1.0)
    structural = attributes[3]
    for i in range(P):
        for r in range(n):
            structural[i, r] = _maximum(base_structural[i, 0] + held[HOLD_DEPENDENCE, i, r], 0.0)
    for r in range(n):
        total = structural[0, r]
        for i in range(1, P):
            total += structural[i, r]
        if total > 0:
            for i in range(P):
                structural[i, r] /= total
        else:  # a power that held every structural tie and lost them all leaves the initial shares
            for i in range(P):
                structural[i, r] = base_structural[i, 0]
    for d in range(level.shape[0]):
        for r in range(n):
            level[d, r] = tension_base[d, 0] + held_tension[d, r]


# ---- the glue: what the model hands to the kernel ---------------------------------------------------
class Kernel:
    """The arrays :func:`step` needs from a :class:`~sim.model.HedgingModel`, built once per model."""

    def __init__(self, model: HedgingModel, threads: int | None = None):
        from sim.model import CHANNELS

        m = self.model = model
        P = len(m.powers)  # noqa: N806
        n = m.run_ids.size
        p = m.p
        values = [getattr(p, k) for k in PARAMETERS]
        values += [m.weights[k] for k in WEIGHTS]
        values += list(m.aid_noise)
        fixed = [np.ndim(x) == 0 for x in values]
        self.pfix = np.array([float(x) if f else np.nan for x, f in zip(values, fixed, strict=True)])
        self.runk = np.array([k for k, f in enumerate(fixed) if not f], dtype=np.int64)
        self.prun = np.zeros((self.runk.size, n))
        for u, k in enumerate(self.runk):
            self.prun[u] = values[k]
        self.channels = np.array([m.channels[k] for k in CHANNELS], dtype=np.bool_)
        self.capability = np.ascontiguousarray(m.capability[:, 0])
        self.proximity = np.ascontiguousarray(m.proximity[:, 0])
        self.small_dyads = np.array(m.small_dyads, dtype=np.int64)
        self.power_dyads = np.full((P, P), -1, dtype=np.int64)
        for (i, j), d in m.power_dyads.items():
            self.power_dyads[i, j] = self.power_dyads[j, i] = d
        self.decides = np.zeros((P, 4), dtype=np.bool_)
        for agent in m.powers:
            for x in agent.decides:
                self.decides[agent.index, x] = True
        self.policy_start = np.ascontiguousarray(m.policy_start)
        self.regime_base = float(m.regime_base)
        self.rows = np.full(len(OUTPUTS), -1, dtype=np.int64)
        for reporter, rows in m.outputs:
            if reporter.pattern in OUTPUTS:
                self.rows[OUTPUTS.index(reporter.pattern)] = rows.start
        #: Reporters the kernel does not compute: the model records them with numpy.
        self.rest = [(r, rows) for r, rows in m.outputs if r.pattern not in OUTPUTS]

        #: Runs split between threads (the compiled functions release the GIL): [lo, hi) each.
        self.parts = split(n, threads or default_threads())

    def record(self, t: int) -> None:
        """Record the model's current state as date t (the outputs the kernel computes)."""
        m = self.model
        record_state(m.state.block, m.holds.block, m.holds.tier, self.channels, self.capability,
                     self.proximity, self.small_dyads, m.tension_level.shape[0], self.pfix, self.runk,
                     self.prun, m.record[:, t], self.rows)  # fmt: skip

    def step(self, t: int) -> None:
        """The compiled step t of every run, from the model's state to its next, each thread on its
        own runs (a run's numbers do not depend on its thread)."""
        keys = step_keys(self.model._noise_keys, t)
        if len(self.parts) == 1:
            self.advance(t, keys, 0, self.model.run_ids.size)
            return
        for done in [_pool().submit(self.advance, t, keys, lo, hi) for lo, hi in self.parts]:
            done.result()

    def advance(self, t: int, keys: np.ndarray, lo: int, hi: int) -> None:
        """The compiled step t of runs lo..hi-1, from the model's state to its next, recorded as
        date t; ``keys``: the noise's streams at step t (:func:`step_keys`)."""
        m = self.model
        step(
            m.state.block,
            m._next.block,
            m.holds.block,
            m.attributes,
            m.tension_level,
            m.holds.tier,
            self.channels,
            self.capability,
            self.proximity,
            self.small_dyads,
            self.power_dyads,
            self.decides,
            self.pfix,
            self.runk,
            self.prun,
            self.policy_start,
            self.regime_base,
            m.deciding,
            m.strategic,
            m.streams._base,
            keys,
            m.record[:, t],
            self.rows,
            lo,
            hi,
        )


#: Runs a thread takes at least: below, a step is too short for threads to pay (~50 us a step).
RUNS_PER_THREAD = 1024


def default_threads() -> int:
    """Threads for a model's step when its maker gives none (the worker processes of an ensemble
    or a sweep, and Dask's tasks, give 1: they fill the cores already): ``HEDGESIM_THREADS`` if
    set, else the cores this process may run on."""
    from sim.model import env_threads

    return env_threads() or cores()


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells)."""

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def split(n: int, threads: int) -> list[tuple[int, int]]:
    """Runs 0..n-1 in at most ``threads`` contiguous parts of at least :data:`RUNS_PER_THREAD`
    runs, cut at multiples of :data:`BLOCK` (threads then never write to the same cache line)."""
    parts = max(1, min(threads, n // RUNS_PER_THREAD))
    cuts = [0] + [(n * k // parts) // BLOCK * BLOCK for k in range(1, parts)] + [n]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


_threads: list = []
_threads_lock = threading.Lock()


def _after_fork() -> None:
    """In a forked child: no thread of the parent's pool exists there, and the lock may have been
    held by one of them; the child makes its own pool, under a fresh lock."""
    global _threads_lock
    _threads.clear()
    _threads_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _pool():  # noqa: ANN202
    """The process's thread pool for the kernel (made at first use, shared by every model)."""
    from concurrent.futures import ThreadPoolExecutor

    with _threads_lock:
        if not _threads:
            _threads.append(ThreadPoolExecutor(max(2, cores()), thread_name_prefix="hedgesim-kernel"))
        return _threads[0]


def stop_threads() -> None:
    """Stop the process's kernel threads (idle between steps; the ``hedgesim`` command does so at
    its end, :func:`sim.cli.entry`). A later model that needs them starts them again."""
    with _threads_lock:
        for pool in _threads:
            pool.shutdown(wait=True)
        _threads.clear()


def warm() -> float:
    """Compile the kernel into its cache, or load it from there: one run of the bundled csp2023 on
    the kernel, and a small ensemble's streamed statistics. The set-up calls it (``make``), so that
    no user waits for the compiler later. Returns the seconds it took."""
    import subprocess
    import sys
    import time

    from sim.model import HedgingModel
    from sim.scenario import bundled_scenarios, load_scenario

    t0 = time.perf_counter()
    # the statistics of large ensembles (sim.streaming) compile in another process, on another core
    statistics = subprocess.Popen([sys.executable, "-c", "import sim.streaming as s; s.warm()"])
    HedgingModel(load_scenario(bundled_scenarios()["csp2023"]), 1, seed=1, engine="kernel").run()
    if statistics.wait():
        raise RuntimeError("sim.streaming could not be compiled (its error is above)")
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"hedgesim's compiled step is ready ({warm():.1f} s)")
