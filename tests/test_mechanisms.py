"""Each mechanism moves its outcome in the direction the theory says, from the event's date on.

Every comparison is paired: the same scenario with and without one event, same seed, so run k
meets the same random numbers on both sides (common random numbers) and differences come from
the event alone.
"""

from __future__ import annotations

import numpy as np

import sim

EVENT = """
[[events]]
date = "{date}"
title = "the event"
kind = "{kind}"
{fields}
"""


def pair(toy, kind: str, fields: str, date: str = "2002Q1", runs: int = 50, decisions: str = "both"):
    """(with, without, step of the event) for a toy scenario with one event."""
    with_event = toy(EVENT.format(date=date, kind=kind, fields=fields))
    with_event = with_event.with_overrides({"scenario.decisions": decisions})
    without = with_event.without_events("the event")
    a, b = sim.run(with_event, runs=runs), sim.run(without, runs=runs)
    return a, b, with_event.event_step(with_event.events[0])


def test_aid_event_raises_aid_share_then_influence(toy):
    """Process 1 then 2: an aid increase shows in the flow at once, in influence a step later
    (influence reads last step's aid share: the update is synchronous)."""
    a, b, t = pair(toy, "aid", 'power = "blue"\nscale = 2.0\nduration = 8')
    share = lambda e: e.values("blue.aid") / (e.values("blue.aid") + e.values("red.aid"))  # noqa: E731
    assert np.all(share(a)[:, :t] == share(b)[:, :t])  # nothing changes before the date
    assert np.all(share(a)[:, t] > share(b)[:, t])  # every run: a larger share on the date
    inf_a, inf_b = a.values("blue.influence"), b.values("blue.influence")
    assert np.array_equal(inf_a[:, t], inf_b[:, t])  # influence has not seen it yet
    assert np.all(inf_a[:, t + 1] > inf_b[:, t + 1])  # ... and does one step later
    assert np.all(inf_a[:, t + 7] > inf_b[:, t + 7])


def test_partnership_upgrade_raises_influence_through_its_channels(toy):
    """An upgrade to tier 1 makes blue's aid more credible, its security cooperation wider and its
    intentions read more kindly; influence and alignment follow through those channels (Kuik 2016:
    partnerships as hedging instruments), from the upgrade's step on."""
    a, b, t = pair(toy, "partnership", 'power = "blue"\ntier = 1')
    diff = a.values("blue.influence") - b.values("blue.influence")
    assert np.all(diff[:, :t] == 0)
    assert np.all(diff[:, t:] > 0)
    assert np.mean(a.final("isle.alignment.blue") - b.final("isle.alignment.blue")) > 0.01


def test_criticism_raises_dyad_tension_and_regime_pressure(toy):
    """Criticism is an impulse to the critic-small state tension and to regime pressure."""
    a, b, t = pair(toy, "criticism", 'power = "red"\nmagnitude = 0.3')
    for var in ("tension.isle-red", "isle.regime_pressure"):
        diff = a.values(var) - b.values(var)
        assert np.all(diff[:, :t] == 0), var
        assert np.all(diff[:, t] > 0.1), var  # most of the 0.3 jump is still there after one step
    # the other power's dyad with the small state is not hit directly
    assert np.mean(a.values("tension.blue-isle")[:, t] - b.values("tension.blue-isle")[:, t]) < 0.01


def test_criticism_costs_the_critic_the_small_states_diplomatic_alignment(toy):
    """Criticism raises tension with the critic, a cost to the regime's security: the small state's
    diplomatic and security alignment with the critic fall (Kimkong Heng 2020; Ciorciari 2013)."""
    a, b, t = pair(toy, "criticism", 'power = "red"\nmagnitude = 0.3')
    for dim in ("diplomatic", "security"):
        var = f"isle.alignment.{dim}.red"
        assert np.all(a.values(var)[:, t + 1] < b.values(var)[:, t + 1]), dim


def test_naval_access_raises_power_power_tension(toy):
    """Access is presence (capability on site) and a jump in the rivals' tension (Walt 1987)."""
    a, b, t = pair(toy, "naval_access", 'power = "red"\nmagnitude = 0.4\ntension = 0.1')
    diff = a.values("tension.blue-red") - b.values("tension.blue-red")
    assert np.all(diff[:, :t] == 0)
    assert np.all(diff[:, t : t + 8] > 0)
    assert np.all(a.values("red.presence")[:, t:] > b.values("red.presence")[:, t:])


def test_event_with_duration_ends(toy):
    """A held effect lasts `duration` steps and then leaves no residue in the held variable (the
    powers follow the events only, so that blue's own choice of presence does not answer it)."""
    a, b, t = pair(toy, "port_call", 'power = "blue"\nmagnitude = 0.3\nduration = 2', decisions="historical")
    pa, pb = a.values("blue.presence"), b.values("blue.presence")
    assert np.allclose(pa[:, t : t + 2] - pb[:, t : t + 2], 0.3)
    assert np.array_equal(pa[:, t + 2 :], pb[:, t + 2 :])


def test_sanctions_raise_the_level_tension_relaxes_to(toy):
    """Sanctions in force hold the dyad's tension above its baseline; lifted, it relaxes back."""
    a, b, t = pair(toy, "sanctions", 'power = "red"\nmagnitude = 0.3\nduration = 8', runs=200)
    diff = a.values("tension.isle-red").mean(axis=0) - b.values("tension.isle-red").mean(axis=0)
    assert diff[t + 7] > 0.15  # near the raised level after eight steps in force
    assert diff[-1] < diff[t + 7] / 2  # relaxing back after it is lifted


def test_shock_on_budget_is_held_and_scales_aid(toy):
    """A budget shock halves the flow while in force (same noise on both sides) and then ends; the
    powers follow the events only here, so the committed share of the budget does not move."""
    historical = toy().with_overrides({"scenario.decisions": "historical"})
    with_event = historical.with_events(
        {
            "date": "2002Q1",
            "title": "cut",
            "kind": "shock",
            "target": "blue.budget",
            "scale": 0.5,
            "duration": 4,
        }
    )
    a, b = sim.run(with_event, runs=50), sim.run(historical, runs=50)
    t = with_event.event_step(with_event.events[0])
    ratio = a.values("blue.aid") / b.values("blue.aid")
    assert np.allclose(ratio[:, t : t + 4], 0.5)
    assert np.allclose(ratio[:, t + 4 :], 1.0)


def test_cooperation_shifts_dependence_toward_the_partner(toy):
    a, b, t = pair(toy, "cooperation", 'power = "blue"\nmagnitude = 0.2', runs=20)
    assert np.all(a.final("isle.dependence.blue") > b.final("isle.dependence.blue"))
