"""The classroom game's logic, without a browser: teams, validation, rounds, timer, undo, export."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.classroom.game import Game, GameError, PowerChoice, SmallChoice

RUNS = 12


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def csp():
    return sim.load_scenario(sim.bundled_scenarios()["csp2023"])


def new_game(csp, timer: float = 60.0) -> tuple[Game, Clock]:
    clock = Clock()
    return Game(csp, runs=RUNS, seed=7, timer=timer, clock=clock), clock


def play(game: Game, *moves: tuple[str, dict]) -> None:
    """One round: the teams submit while the round waits, then the teacher starts it (it closes)."""
    for token, data in moves:
        game.submit(token, data)
    n = len(game.rounds)
    game.pause(game.teacher_token, False)
    assert len(game.rounds) == n + 1 and game.paused


def test_join_gives_one_token_per_team_and_refuses_bad_codes(csp):
    game, _ = new_game(csp)
    token = game.join(game.join_code.lower(), "japan")
    assert game.role_of(token) == "japan"
    game.submit(token, {"aid": 1.25})
    # nobody joins a team already joined: another team's student would read and replace its choice
    with pytest.raises(GameError, match="Japan has joined already; open your team's link"):
        game.join(game.join_code, "japan")
    assert game.submissions["japan"].aid == 1.25
    with pytest.raises(GameError, match="join code"):
        game.join("WRONG1", "china")
    with pytest.raises(GameError, match="unknown team 'france'"):
        game.join(game.join_code, "france")
    with pytest.raises(GameError, match="team token: unknown"):
        game.role_of("forged")


@pytest.mark.parametrize(
    ("role", "data", "message"),
    [
        ("us", {"aid": 3}, "United States: aid: expected one of 0.5, 0.75, 1.0, 1.25, 1.5, found 3"),
        ("us", {"aid": True}, "aid: expected one of"),
        ("us", {"presence": "invade"}, "presence: expected one of reduce, hold, port_call, expand"),
        ("us", {"governance": ""}, "governance: expected one of endorse, quiet, criticise, sanction"),
        ("us", {"offer": "yes"}, "offer: expected true or false, found 'yes'"),
        ("us", {"colour": "red"}, "unknown field 'colour'"),
        (
            "china",
            {"aid": 1.25},
            "China: aid: x1.25 would commit 264 USD m a quarter, above the budget of 235",
        ),
        ("china", {"offer": True}, "China: offer: already in the top tier"),
        ("cambodia", {"accept": "japan"}, "Cambodia: accept: expected a list of powers"),
        ("cambodia", {"access": "russia"}, "Cambodia: access: unknown power 'russia'"),
        ("cambodia", {"aid": 1.0}, "Cambodia: unknown field 'aid'"),
    ],
)
def test_every_bad_submission_gets_one_line(csp, role, data, message):
    game, _ = new_game(csp)
    token = game.join(game.join_code, role)
    with pytest.raises(GameError) as err:
        game.submit(token, data)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert role not in game.submissions


def test_only_the_teacher_steps_undoes_pauses_and_injects(csp):
    game, _ = new_game(csp)
    team = game.join(game.join_code, "us")
    for act in (
        lambda t: game.step(t),
        lambda t: game.undo(t),
        lambda t: game.pause(t, False),
        lambda t: game.inject(t, {"kind": "criticism", "power": "us"}),
    ):
        for token in (team, "", None):
            with pytest.raises(GameError, match="only the teacher"):
                act(token)
    assert not game.rounds and not game.shocks and game.paused


def test_a_round_closes_when_every_team_has_submitted_and_not_before(csp):
    game, _ = new_game(csp)
    us, cambodia = game.join(game.join_code, "us"), game.join(game.join_code, "cambodia")
    game.pause(game.teacher_token, False)
    game.submit(us, {"governance": "criticise", "aid": 0.5})
    assert not game.rounds and game.submissions["us"] == PowerChoice(0.5, "hold", "criticise", False)
    game.submit(cambodia, {"framework": "japan"})
    assert len(game.rounds) == 1
    r = game.rounds[0]
    assert r.by == {"china": "scenario", "japan": "scenario", "us": "team", "cambodia": "team"}
    kinds = sorted(e["kind"] for e in r.events)
    assert kinds == ["aid", "cooperation", "criticism"]
    assert all(e["date"] == "2020Q2" for e in r.events)
    assert game.submissions == {} and game.current == 2
    with pytest.raises(GameError, match="played by the model"):
        game.join(game.join_code, "china")  # the seats are fixed by the first round


def test_the_timer_lets_the_model_decide_for_late_teams_and_pause_stops_it(csp):
    game, clock = new_game(csp, timer=60)
    us = game.join(game.join_code, "us")
    game.join(game.join_code, "japan")
    clock.now = 1000
    assert not game.tick()  # a new game waits, paused, for the teacher
    game.pause(game.teacher_token, False)
    game.submit(us, {"aid": 1.25})
    clock.now = 1030
    game.pause(game.teacher_token, True)
    clock.now = 5000
    assert not game.tick() and game.left() == pytest.approx(30)
    game.pause(game.teacher_token, False)
    clock.now = 5029
    assert not game.tick()
    clock.now = 5031
    assert game.tick()
    r = game.rounds[0]
    assert r.by["us"] == "team" and r.by["japan"] == "model"
    assert isinstance(r.choices["japan"], PowerChoice)
    assert game.paused and game.left() == pytest.approx(60)  # the next round waits for the teacher


def test_the_small_state_accepts_an_offer_and_grants_access(csp):
    game, _ = new_game(csp)
    japan, us, cam = (game.join(game.join_code, r) for r in ("japan", "us", "cambodia"))
    game.pause(game.teacher_token, False)
    game.submit(japan, {"offer": True})
    game.submit(us, {"offer": True, "presence": "port_call"})
    game.submit(cam, {"accept": ["japan"], "access": "us"})
    titles = [e["title"] for e in game.rounds[0].events]
    assert "Cambodia, 2020Q2 (class): naval access for United States" in titles
    assert any("Japan" in t and "tier 1" in t for t in titles)
    assert not any("United States" in t and "tier" in t for t in titles)  # offered, not accepted
    assert game.tier("japan") == 1 and game.tier("us") == 3
    with pytest.raises(GameError, match="already has naval access"):
        game.submit(cam, {"access": "us"})
    assert game.parse("cambodia", {}) == SmallChoice()


def test_undo_drops_the_last_round_and_replaying_gives_the_same_numbers(csp):
    game, _ = new_game(csp)
    us = game.join(game.join_code, "us")
    play(game, (us, {"aid": 1.5}))
    play(game, (us, {"governance": "sanction"}))
    first = game.ensemble.values("cambodia.alignment.us")
    play(game, (us, {"presence": "expand"}))
    assert len(game.rounds) == 3
    gone = game.undo(game.teacher_token)
    assert gone.number == 3 and len(game.rounds) == 2 and game.paused
    assert np.array_equal(game.ensemble.values("cambodia.alignment.us"), first)
    play(game, (us, {"presence": "expand"}))
    again = game.ensemble.values("cambodia.alignment.us")
    game.undo(game.teacher_token)
    play(game, (us, {"presence": "expand"}))
    assert np.array_equal(game.ensemble.values("cambodia.alignment.us"), again)


def test_the_export_reproduces_the_game(csp, tmp_path):
    game, _ = new_game(csp)
    us, cam = game.join(game.join_code, "us"), game.join(game.join_code, "cambodia")
    game.inject(game.teacher_token, {"kind": "port_call", "power": "japan"})
    for _ in range(2):
        play(game, (us, {"governance": "criticise"}), (cam, {"framework": "china"}))
    path = tmp_path / "game.toml"
    path.write_text(game.export_toml())
    again = sim.run(sim.load_scenario(path), progress=False)
    assert again.runs == RUNS and again.seed == 7 and again.dates[-1] == "2020Q3"
    for var in ("cambodia.alignment.us", "us.influence", "tension.cambodia-us"):
        assert np.array_equal(again.values(var), game.ensemble.values(var))
    assert game.export_csv() == again.summary().to_csv(index=False)
    assert "Shock, 2020Q2" in path.read_text()


def test_without_teams_the_game_is_the_scenario_itself(csp):
    """Roles without a team keep the scenario's own play: with no team at all, the class's path is
    the scenario's (common random numbers make it equal, run by run)."""
    game, _ = new_game(csp)
    game.step(game.teacher_token)
    game.step(game.teacher_token)
    plain = sim.run(game.truncated(csp, game.round_dates(2)[1]), runs=RUNS, seed=7, progress=False)
    for var in ("cambodia.alignment.japan", "china.aid"):
        assert np.array_equal(plain.values(var), game.ensemble.values(var))


def test_a_team_replaces_its_powers_history_and_rule(csp):
    game, _ = new_game(csp)
    game.join(game.join_code, "us")
    game.step(game.teacher_token)
    sc = game.scenario(upto=game.round_dates(12)[1])  # to 2023Q1
    assert sc.actors["us"].decides == [] and sc.actors["china"].decides != []
    titles = {e.title for e in sc.events}
    assert "US arms embargo" not in titles  # the US's own move: the team's now
    assert "Chinese-funded Ream upgrade begins" in titles  # China is the scenario's


def test_debrief_compares_three_paths_with_common_random_numbers(csp):
    from sim.classroom import debrief

    game, _ = new_game(csp)
    with pytest.raises(GameError, match="no round"):
        debrief.ensembles(game)
    us = game.join(game.join_code, "us")
    for _ in range(3):
        play(game, (us, {"aid": 0.5, "governance": "sanction"}))
    ens = debrief.ensembles(game)
    assert set(ens) == {"class", "model", "history"}
    assert all(e.dates == ens["class"].dates for e in ens.values())
    rows = dict(debrief.table(game, ens))
    assert rows["alignment toward United States"]["class"] < rows["alignment toward United States"]["history"]
    assert debrief.png(debrief.figure(game, ens))[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.toml"], "nope.toml: no such file"),
        (["scenarios/csp2023.toml", "--port", "http"], "--port: expected a port from 1 to 65535"),
        (["scenarios/csp2023.toml", "--port", "70000"], "--port: expected a port from 1 to 65535"),
        (["scenarios/csp2023.toml", "--round", "month"], "--round"),
        (["scenarios/csp2023.toml", "--timer", "-5"], "--timer"),
        (["scenarios/csp2023.toml", "--runs", "0"], "--runs"),
    ],
)
def test_bad_command_lines_are_one_line_and_exit_2(args, message, monkeypatch):
    from click.testing import CliRunner

    from sim.cli import main
    from sim.scenario import bundled_dir

    monkeypatch.chdir(bundled_dir().parent)
    result = CliRunner().invoke(main, ["classroom", *args])
    assert result.exit_code == 2, result.output
    assert result.output.strip().count("\n") == 0 and message in result.output


def test_a_teams_choice_is_hidden_from_the_others_until_the_round_closes(csp):
    game, _ = new_game(csp)
    japan, us = game.join(game.join_code, "japan"), game.join(game.join_code, "us")
    seen = (game.briefing("us"), game.news(), game.public)
    game.submit(japan, {"aid": 1.25, "offer": True})
    assert (game.briefing("us"), game.news(), game.public) == seen  # nothing the US page shows moved
    assert game.role_of(us) == "us" and game.last_choice("us") is None
    play(game, (us, {}))
    assert game.briefing("us") != seen[0] and game.rounds[0].choices["japan"].offer


def test_a_choice_sent_as_its_round_closes_does_not_count_for_the_next(csp):
    game, _ = new_game(csp)
    tokens = {r: game.join(game.join_code, r) for r in game.roles}
    play(game, *((token, {}) for token in tokens.values()))  # round 1 closes
    with pytest.raises(GameError, match="round 1 has closed; choose again for round 2"):
        game.submit(tokens["japan"], {"aid": 0.5}, 1)  # the page still showed round 1
    assert "japan" not in game.submissions
    assert game.submit(tokens["japan"], {"aid": 0.5}, 2).aid == 0.5


def test_the_teachers_aid_shock_halves_the_powers_aid(csp):
    game, _ = new_game(csp)
    ev = game.inject(game.teacher_token, {"kind": "aid", "power": "china"})
    assert ev["scale"] == 0.5 and "aid halved (China)" in ev["title"]
    sized = game.inject(game.teacher_token, {"kind": "aid", "power": "us", "scale": 1.5})
    assert sized["scale"] == 1.5 and "aid (United States)" in sized["title"]
