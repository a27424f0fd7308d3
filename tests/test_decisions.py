"""The powers' decision rules (GreatPower.decide): each reacts to rivals as its theory says.

A toy with two powers (red, blue) and no noise, so that every difference comes from the rule: aid,
presence and engagement are contests (Tullock 1980), in which a leader answers a challenger's surge
and a power alone gains nothing by spending more; pressure trades the value a power puts on
governance against the backlash of pushing the small state toward a rival (Levitsky & Way 2010).
"""

from __future__ import annotations

import numpy as np
import pytest

import sim

QUIET = {"aid_noise": 0.0, "tension_noise": 0.0, "alignment_noise": 0.0}
#: Red leads in every instrument (a larger budget, more interest); blue follows.
LEADER = {
    **QUIET,
    "actors.red.budget": 150.0,
    "actors.red.interest": 0.9,
    "actors.blue.interest": 0.5,
    "actors.red.aid": 90.0,
    "actors.blue.aid": 50.0,
    "actors.red.presence": 0.2,
    "actors.blue.presence": 0.1,
    "actors.red.engagement": 0.6,
    "actors.blue.engagement": 0.3,
    "actors.red.influence": 0.6,
    "actors.blue.influence": 0.4,
}
SURGES = {
    "aid": {"kind": "aid", "power": "blue", "scale": 1.3},
    "presence": {"kind": "naval_access", "power": "blue", "magnitude": 0.05, "tension": 0.0},
}


def run(sc, runs: int = 2):
    return sim.run(sc, runs=runs, seed=1)


def surge(sc, what: str):
    return sc.with_events({"date": "2001Q1", "title": "blue surges", **SURGES[what]})


@pytest.mark.parametrize("what", ["aid", "presence"])
def test_the_leader_answers_a_challengers_surge(toy, what):
    """The leader reacts to the challenger: blue's surge (more aid, or naval access) makes red
    commit more of the same, from the quarter after the surge on (the favourite's response in a
    contest, Dixit 1987)."""
    sc = toy().with_overrides(LEADER)
    calm, surged = run(sc), run(surge(sc, what))
    t = sc.event_step(surge(sc, what).events[0])
    a, b = surged.values(f"red.{what}"), calm.values(f"red.{what}")
    assert np.array_equal(a[:, :t], b[:, :t])  # nothing before the surge
    assert np.all(a[:, t + 1 :] > b[:, t + 1 :])  # red answers it from then on


def test_a_challenger_values_standing_more_as_the_leader_pulls_ahead(toy):
    """Relative gains (Grieco 1988): with rivalry, blue (behind) gives more than without it."""
    sc = toy().with_overrides(LEADER)
    keen, indifferent = run(sc), run(sc.with_overrides({"rivalry": 0.0}))
    assert np.all(keen.values("blue.aid")[:, 2:] > indifferent.values("blue.aid")[:, 2:])
    assert np.mean(keen.values("blue.influence") - indifferent.values("blue.influence")) > 0
    # the leader has no lead to close: rivalry changes nothing in its first decision
    assert np.array_equal(keen.values("red.aid")[:, 1], indifferent.values("red.aid")[:, 1])


@pytest.mark.parametrize("instrument", ["aid", "presence", "engagement"])
def test_with_no_rival_a_power_does_not_pay_for_more(toy, instrument):
    """Alone in the contest, red's standing is at its best whatever it spends: it never raises an
    instrument and lets it fall to nothing."""
    alone = {
        **LEADER,
        "actors.blue.budget": 0.0,
        "actors.blue.aid": 0.0,
        "actors.blue.presence": 0.0,
        "actors.blue.engagement": 0.0,
        "actors.blue.decides": [],
    }
    ens = run(toy().with_overrides(alone))
    x = ens.values(f"red.{instrument}")
    assert np.all(np.diff(x, axis=1) <= 0)  # never up
    assert np.all(x[:, -1] < 0.05 * x[:, 0])  # and all but gone by the end


def test_a_power_that_does_not_decide_keeps_its_policy(toy):
    sc = toy().with_overrides({**LEADER, "actors.red.decides": []})
    ens = run(sc)
    for instrument in ("presence", "pressure", "engagement"):
        x = ens.values(f"red.{instrument}")
        assert np.all(x == x[:, :1]), instrument
    assert np.all(ens.values("red.aid") == 90.0)  # the committed share of its budget, no noise


def test_historical_decisions_freeze_every_policy_and_strategic_ones_drop_policy_events(toy):
    ev = {"date": "2002Q1", "title": "port", "kind": "port_call", "power": "red", "magnitude": 0.3}
    sc = toy().with_overrides(LEADER).with_events(ev)
    frozen = run(sc.with_overrides({"scenario.decisions": "historical"}))
    assert np.all(frozen.values("blue.engagement") == 0.3)
    strategic = sc.with_overrides({"scenario.decisions": "strategic", "scenario.decide_from": "2002Q1"})
    assert strategic.events_in_play() == []  # the port call is red's own move: red decides instead
    early = sc.with_overrides({"scenario.decisions": "strategic", "scenario.decide_from": "2003Q1"})
    assert len(early.events_in_play()) == 1  # dated before the powers decide: history stands
    late = run(early)
    t = early.decide_step
    assert np.all(late.values("blue.engagement")[:, :t] == 0.3)  # no decision before decide_from
    assert np.all(late.values("blue.engagement")[:, t] != 0.3)


def test_pressure_eases_when_the_small_state_leans_to_a_rival(toy):
    """A power that values governance presses; it presses less the more the small state leans to a
    rival that asks nothing (the black knight, Levitsky & Way 2010)."""
    base = {**QUIET, "actors.red.conditionality": 0.8}
    even = run(toy().with_overrides(base))
    leaning = run(
        toy().with_overrides(
            {**base, "actors.isle.alignment": {"red": 0.2, "blue": 0.8}, "actors.red.pressure": 0.0}
        )
    )
    assert np.all(even.values("red.pressure")[:, 2:] > 0.1)  # it presses...
    assert np.all(leaning.values("red.pressure")[:, 1] < even.values("red.pressure")[:, 1])
    assert np.all(even.values("blue.pressure") == 0)  # ... and a power that asks nothing never does


def test_strategic_upgrade_needs_an_offer_and_an_acceptance(toy):
    """Under strategic decisions a power that engages enough is offered the next tier up, and the
    small state takes it only when at least 1/P of its alignment is toward that power."""
    eager = {
        **QUIET,
        "scenario.decisions": "strategic",
        "upgrade_engagement": 0.2,
        "actors.isle.tier": {"red": 3, "blue": 3},
        "actors.isle.alignment": {"red": 0.7, "blue": 0.3},
    }
    ens = run(toy().with_overrides(eager))
    assert np.all(ens.values("red.tier")[:, -1] < 3)  # offered and accepted
    assert np.all(np.diff(ens.values("red.tier"), axis=1) >= -1)  # one tier at a time
    shunned = run(toy().with_overrides({**eager, "actors.isle.alignment": {"red": 0.05, "blue": 0.95}}))
    assert np.all(shunned.values("red.tier")[:, :8] == 3)  # refused while it leans away
    unwilling = run(toy().with_overrides({**eager, "upgrade_engagement": 1.0}))
    assert np.all(unwilling.values("red.tier") == 3)  # never offered


def test_a_partnership_event_that_ends_leaves_no_tier_behind_under_strategic_decisions(toy):
    """Offers start from the tier in force, but only an accepted offer writes the state's tier: an
    eight-quarter upgrade by event falls back when it ends, in every mode."""
    ev = {"date": "2001Q1", "title": "up", "kind": "partnership", "power": "red", "tier": 1, "duration": 8}
    for mode in ("both", "strategic"):
        sc = (
            toy()
            .with_overrides({**QUIET, "scenario.decisions": mode, "scenario.decide_from": "2002Q1"})
            .with_events(ev)
        )
        tier = run(sc).values("red.tier")
        t = sc.event_step(sc.events[0])
        assert np.all(tier[:, t : t + 8] == 1) and np.all(tier[:, t + 8 :] == 2), mode
