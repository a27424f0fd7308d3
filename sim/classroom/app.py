"""The classroom's pages (Solara), all over one shared :class:`~sim.classroom.game.Game`.

The address says who is looking: ``/?teacher=TOKEN`` the teacher's page, ``/?team=TOKEN`` a team's
page, anything else the join page (``/?code=CODE`` fills in the join code). A browser holds only its
token, in the address, so a student who closes the laptop and opens the link again is back in the
same team with the same choices; everything else lives in the server's one game. Each page waits on
the game's change counter in its own thread (:meth:`Game.wait`) and redraws when it moves, so every
page shows a closed round at once.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import parse_qs

import reacton.ipyvuetify as rv
import solara

import sim.kernel  # noqa: F401 (a long-lived server: the compiled step, loaded once, serves it all)
from sim.classroom import debrief
from sim.classroom.game import AID_STEPS, GOVERNANCE, PRESENCE_MOVES, SHOCK_KINDS, Game, PowerChoice, current
from sim.errors import HedgesimError

CSS = """
.classroom { font-size: 15px; color: #222; padding: 10px 18px; max-width: 1280px; }
.classroom h1 { font-size: 22px; margin: 4px 0 8px 0; color: #26384d; }
.classroom h2 { font-size: 17px; margin: 10px 0 4px 0; color: #26384d; }
.classroom table { border-spacing: 0; font-variant-numeric: tabular-nums; font-size: 14px; }
.classroom td, .classroom th { padding: 2px 10px 2px 0; text-align: left; }
.classroom .code { font-size: 30px; font-weight: 700; letter-spacing: 4px; color: #26384d; }
.classroom .error { color: #b3261e; font-weight: 600; }
.classroom .ok { color: #1b6e2e; font-weight: 600; }
.classroom .status { font-weight: 600; }
.classroom .help { font-size: 13px; color: #555; }
.classroom .v-btn { text-transform: none; letter-spacing: 0; }
"""


def _query(search: str | None) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(search or "").items() if v}


def _e(text: Any) -> str:
    return html.escape(str(text))


def Line(text: str, kind: str, testid: str, **attributes: str) -> Any:  # noqa: N802 (an element)
    """A line of text with a test id (solara.Text takes no attributes)."""
    attrs = {"data-testid": testid, **{f"data-{k}": v for k, v in attributes.items()}}
    return solara.HTML(tag="div", unsafe_innerHTML=_e(text), classes=[kind], attributes=attrs)


@solara.component
def Page():
    router = solara.use_router()
    query = _query(router.search)
    game = current()
    solara.Style(CSS)
    solara.Title("hedgesim classroom")
    teacher = "teacher" in query and game.is_teacher(query["teacher"])
    version = _use_game_version(game, teacher)
    with solara.Column(classes=["classroom"], gap="6px"):
        if teacher:
            TeacherPage(game, query["teacher"], version)
        elif "team" in query and query["team"] in game.tokens:
            TeamPage(game, query["team"], version)
        else:
            JoinPage(game, query.get("code", ""), bad="team" in query or "teacher" in query)


def _use_game_version(game: Game, teacher: bool) -> int:
    """The game's change counter, kept current by a thread that waits on it: every change for the
    teacher's page (and a tick a second while the timer runs, so that the countdown shows), the
    public ones for the others (:meth:`Game.wait`)."""
    public = not teacher
    version, set_version = solara.use_state(game.public if public else game.version)
    tick, set_tick = solara.use_state(0)

    def follow(cancel: Any) -> None:
        seen = game.public if public else game.version
        while not cancel.is_set():
            now = game.wait(seen, 1.0, public=public)
            if now != seen:
                seen = now
                set_version(now)
            elif teacher and not game.paused and game.left() is not None:
                set_tick(lambda t: t + 1)

    solara.use_thread(follow, dependencies=[], intrusive_cancel=False)
    return version * 1_000_000 + tick


# ---- join ----------------------------------------------------------------------------------------
@solara.component
def JoinPage(game: Game, code: str, bad: bool):
    router = solara.use_router()
    typed, set_typed = solara.use_state(code)
    error, set_error = solara.use_state("This link is not valid (any more): join again." if bad else "")

    def join(role: str) -> None:
        try:
            token = game.join(typed, role)
        except HedgesimError as err:
            set_error(str(err))
            return
        router.push(f"?team={token}")

    solara.HTML(tag="h1", unsafe_innerHTML=f"hedgesim classroom · {_e(game.base.scenario.title)}")
    solara.InputText("Join code", value=typed, on_value=set_typed, continuous_update=True)
    solara.Text("Pick your team:", style="font-weight: 600")
    with solara.Row(gap="8px"):
        for role in game.roles:
            taken = role in game.seats  # a joined team is entered by its own link, not by the code
            solara.Button(
                f"{game.names[role]}{' (joined)' if taken else ''}",
                on_click=lambda role=role: join(role),
                color="#26384d",
                dark=not taken,
                disabled=taken,
                attributes={"data-role": role},
            )
    if error:
        Line(error, "error", "error")


# ---- a team --------------------------------------------------------------------------------------
@solara.component
def TeamPage(game: Game, token: str, version: int):
    """A team's page. The form is a component of its own whose arguments change only with the round,
    so that another team's move redraws nothing here."""
    role = game.role_of(token)
    message, set_message = solara.use_state((0, "", ""))
    brief = solara.use_memo(lambda: game.briefing(role), [version])
    solara.HTML(tag="h1", unsafe_innerHTML=f"{_e(game.names[role])} · {_e(game.base.scenario.title)}")
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"Your team's link, for teammates and for coming back: <b>{_e(game.address)}?team={_e(token)}</b>"
        ),
        attributes={"data-testid": "team-link"},
    )
    Status(game, version)
    with solara.Row(gap="24px", style="flex-wrap: wrap; align-items: flex-start"):
        with solara.Column(gap="4px", style="min-width: 360px"):
            solara.HTML(tag="h2", unsafe_innerHTML="Briefing")
            solara.HTML(
                tag="div", unsafe_innerHTML=_briefing(game, brief), attributes={"data-testid": "briefing"}
            )
            news = game.news() if not game.over else []
            if news:
                solara.HTML(tag="h2", unsafe_innerHTML="What happened in history this round")
                items = "".join(f"<li>{_e(d)}: {_e(t)} <i>({_e(k)})</i></li>" for d, k, t in news)
                solara.HTML(tag="ul", unsafe_innerHTML=items)
        if not game.over:
            with solara.Column(gap="4px", style="min-width: 360px", classes=["choice"]):
                solara.HTML(tag="h2", unsafe_innerHTML=f"Your choice for round {game.current}")
                ChoiceForm(game, token, game.current, set_message)
                number, kind, text = message
                if text and number == game.current:
                    Line(text, kind, "message")
                solara.Text(
                    "Your choice stays hidden from the other teams until the round closes. Each item is a "
                    "change from now. If the timer runs out before you submit, the model decides for you.",
                    classes=["help"],
                )
    Results(game, version)


@solara.component
def ChoiceForm(game: Game, token: str, number: int, on_message: Any):
    """The menu of a team for round ``number`` and the Submit button. Every item is a change (aid
    x1.25 raises it again), so a new round starts from "no change", or from what the team has
    submitted in it (a reopened laptop shows it)."""
    role = game.role_of(token)
    is_power = role in game.powers
    kept, set_form = solara.use_state({})
    form = kept if kept.get("_round") == number else {"_round": number}

    def field(key: str, default: Any) -> Any:
        if key in form:
            return form[key]
        mine = game.submissions.get(role)
        if mine is not None:
            value = getattr(mine, key)
            return list(value) if isinstance(value, tuple) else value
        return default

    def put(key: str, value: Any) -> None:
        # from the state as it is when the click arrives, not as this drawing saw it
        set_form(lambda kept: {**(kept if kept.get("_round") == number else {"_round": number}), key: value})

    def submit() -> None:
        data = {k: field(k, d) for k, d in _defaults(is_power).items()}
        try:
            game.submit(token, data, number)
            on_message((number, "ok", "Submitted: you may change it until the round closes."))
        except HedgesimError as err:
            on_message((number, "error", str(err)))

    if is_power:
        Toggle(
            "Aid (times the present flow)",
            "aid",
            [f"{a:g}" for a in AID_STEPS],
            f"{field('aid', 1.0):g}",
            lambda v: put("aid", float(v)),
        )
        Toggle(
            "Security presence",
            "presence",
            list(PRESENCE_MOVES),
            field("presence", "hold"),
            lambda v: put("presence", v),
        )
        Toggle(
            "Governance",
            "governance",
            list(GOVERNANCE),
            field("governance", "quiet"),
            lambda v: put("governance", v),
        )
        Toggle(
            "Offer a partnership upgrade",
            "offer",
            ["no", "yes"],
            "yes" if field("offer", False) else "no",
            lambda v: put("offer", v == "yes"),
        )
    else:
        names = [game.names[p] for p in game.powers]
        keys = dict(zip(names, game.powers, strict=True))
        accepted = [game.names[p] for p in field("accept", [])]
        with solara.Div(attributes={"data-field": "accept"}):
            solara.Text("Accept an upgrade offered by", style="font-weight: 600")
            solara.ToggleButtonsMultiple(
                accepted, values=names, on_value=lambda v: put("accept", [keys[n] for n in v])
            )
        for key, label in (("access", "Grant naval access to"), ("framework", "Sign a framework with")):
            chosen = field(key, None)
            Toggle(
                label,
                key,
                ["nobody", *names],
                game.names[chosen] if chosen else "nobody",
                lambda v, key=key: put(key, keys.get(v)),
            )
    solara.Button("Submit", on_click=submit, color="#26384d", dark=True, attributes={"data-testid": "submit"})


def _defaults(is_power: bool) -> dict[str, Any]:
    if is_power:
        return {"aid": 1.0, "presence": "hold", "governance": "quiet", "offer": False}
    return {"accept": [], "access": None, "framework": None}


@solara.component
def Toggle(label: str, key: str, values: list[str], value: str, on_value: Any):
    with solara.Div(attributes={"data-field": key}):
        solara.Text(label, style="font-weight: 600")
        solara.ToggleButtonsSingle(value, values=values, on_value=on_value, dense=True)


def _briefing(game: Game, b: dict[str, Any]) -> str:
    if "budget" in b:
        rows = [
            ("Aid budget", f"{b['budget']:.0f} USD m a quarter"),
            ("Aid now (median)", f"{b['aid']:.0f} USD m a quarter"),
            ("Security presence", f"{b['presence']:.2f}"),
            ("Governance pressure", f"{b['pressure']:.2f}"),
            ("Engagement", f"{b['engagement']:.2f}"),
            ("Your influence", f"{b['influence']:.2f}"),
            ("Partnership tier", f"{b['tier']} (1 = comprehensive strategic)"),
        ]
    else:
        rows = [(f"Alignment toward {game.names[p]}", f"{v:.2f}") for p, v in b["alignment"].items()]
        rows += [(f"Tier with {game.names[p]}", str(t)) for p, t in b["tiers"].items()]
        rows.append(("Naval access granted", ", ".join(game.names[p] for p in b["granted"]) or "none"))
    return (
        "<table>" + "".join(f"<tr><td>{_e(a)}</td><td><b>{_e(v)}</b></td></tr>" for a, v in rows) + "</table>"
    )


@solara.component
def Status(game: Game, version: int):
    if game.over:
        text = f"The game is over: {len(game.rounds)} rounds played."
    else:
        first, last = game.round_dates(game.current)
        from sim.quantities import format_date

        dates = format_date(first) + ("" if first == last else f"–{format_date(last)}")
        left = game.left()
        clock = "" if left is None else f" · {int(left) // 60}:{int(left) % 60:02d} left"
        text = f"Round {game.current} of {game.total_rounds} ({dates}){' · paused' if game.paused else clock}"
    teams = game.teams()
    done = [game.names[r] for r in teams if r in game.submissions]
    text += f" · submitted: {len(done)} of {len(teams)} teams"
    # data-drawn: when the server drew this line (seconds since the epoch), for the benchmark
    Line(text, "status", "status", round=str(game.current), drawn=f"{time.time():.3f}")


@solara.component
def Results(game: Game, version: int):
    if not game.rounds:
        return
    solara.HTML(tag="h2", unsafe_innerHTML="Outcomes: medians [5th–95th percentile of runs]")
    small = game.small
    head = (
        "<tr><th>Round</th><th>Outcome at</th>"
        + "".join(f"<th>{_e(game.names[small])} toward {_e(game.names[p])}</th>" for p in game.powers)
        + "<th>Hedging index</th><th>Decided by</th></tr>"
    )
    body = ""
    for r in game.rounds:
        cells = [
            f"{r.bands[f'{small}.alignment.{p}'][1]:.2f} [{r.bands[f'{small}.alignment.{p}'][0]:.2f}–"
            f"{r.bands[f'{small}.alignment.{p}'][2]:.2f}]"
            for p in game.powers
        ]
        h = r.bands[f"{small}.hedging_index"]
        cells.append(f"{h[1]:.2f} [{h[0]:.2f}–{h[2]:.2f}]")
        late = [game.names[k] for k, v in r.by.items() if v == "model"]
        who = "teams" + (f"; the model for {', '.join(late)} (late)" if late else "")
        body += f"<tr><td>{r.number}</td><td>{_e(r.last)}</td>" + "".join(f"<td>{c}</td>" for c in cells)
        body += f"<td>{_e(who)}</td></tr>"
    solara.HTML(tag="table", unsafe_innerHTML=head + body, attributes={"data-testid": "results"})


# ---- the teacher ---------------------------------------------------------------------------------
@solara.component
def TeacherPage(game: Game, token: str, version: int):
    message, set_message = solara.use_state((0, "", ""))  # (round, kind, text): shown in its round
    kind, set_kind = solara.use_state(SHOCK_KINDS[0])
    power, set_power = solara.use_state(game.powers[0])
    shown, set_shown = solara.use_state(False)

    def act(f: Any, done: str) -> None:
        try:
            f()
            set_message((game.current, "ok", done))
        except HedgesimError as err:
            set_message((game.current, "error", str(err)))

    url = f"{game.address}?code={game.join_code}"
    solara.HTML(tag="h1", unsafe_innerHTML=f"Teacher · {_e(game.base.scenario.title)}")
    with solara.Row(gap="24px", style="align-items: center; flex-wrap: wrap"):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f"Join code <span class='code' data-testid='code'>{_e(game.join_code)}</span>",
        )
        solara.HTML(tag="div", unsafe_innerHTML=f"Link for students: <b data-testid='link'>{_e(url)}</b>")
    Status(game, version)
    teams = "".join(
        f"<li data-team='{r}'>{_e(game.names[r])}: "
        + (
            "no team (the scenario plays it)"
            if r not in game.teams()
            else ("submitted" if r in game.submissions else "thinking…")
        )
        + "</li>"
        for r in game.roles
    )
    solara.HTML(tag="ul", unsafe_innerHTML=teams, attributes={"data-testid": "teams"})
    with solara.Row(gap="8px"):
        solara.Button(
            "Start timer" if game.paused else "Pause",
            color="#26384d",
            dark=True,
            on_click=lambda: act(
                lambda: game.pause(token, not game.paused),
                "Timer " + ("started" if game.paused else "paused"),
            ),
            attributes={"data-testid": "pause"},
        )
        solara.Button(
            "Close the round now",
            color="#26384d",
            dark=True,
            disabled=game.over,
            on_click=lambda: act(lambda: game.step(token), "Round closed"),
            attributes={"data-testid": "step"},
        )
        solara.Button(
            "Undo the last round",
            outlined=True,
            disabled=not game.rounds,
            on_click=lambda: act(lambda: game.undo(token), "Last round undone"),
            attributes={"data-testid": "undo"},
        )
    with solara.Row(gap="8px", style="align-items: center; flex-wrap: wrap"):
        solara.Text("Shock for this round:", style="font-weight: 600")
        with solara.Div(attributes={"data-field": "shock-kind"}):
            solara.ToggleButtonsSingle(kind, values=list(SHOCK_KINDS), on_value=set_kind, dense=True)
        with solara.Div(attributes={"data-field": "shock-power"}):
            solara.ToggleButtonsSingle(power, values=game.powers, on_value=set_power, dense=True)
        solara.Button(
            "Inject",
            outlined=True,
            disabled=game.over,
            on_click=lambda: act(
                lambda: game.inject(token, {"kind": kind, "power": power}), f"Shock added: {kind}, {power}"
            ),
            attributes={"data-testid": "inject"},
        )
    if game.shocks:
        solara.Text("Shocks this round: " + "; ".join(s["title"] for s in game.shocks), classes=["help"])
    number, kind_, text = message
    if text and number == game.current:
        Line(text, kind_, "message")
    Results(game, version)
    if game.rounds:
        with solara.Row(gap="8px"):
            solara.Button(
                "Debrief",
                color="#26384d",
                dark=True,
                on_click=lambda: set_shown(True),
                attributes={"data-testid": "debrief"},
            )
            solara.FileDownload(
                lambda: game.export_toml(),
                filename=f"{game.base.name}-class.toml",
                label="Game as a scenario (TOML)",
                mime_type="application/toml",
            )
            solara.FileDownload(
                lambda: game.export_csv(),
                filename=f"{game.base.name}-class-summary.csv",
                label="Results (CSV)",
                mime_type="text/csv",
            )
        if shown:
            Debrief(game, version)


@solara.component
def Debrief(game: Game, version: int):
    made = solara.use_memo(lambda: _debrief(game), [version])
    png, rows = made
    solara.HTML(
        tag="h2",
        unsafe_innerHTML=f"Debrief: rounds 1 to {len(game.rounds)}, to {game.rounds[-1].last}",
    )
    with solara.Div(attributes={"data-testid": "debrief-figure"}):
        solara.Image(png, width="100%")
    head = (
        "<tr><th>At the last quarter played (median)</th>"
        + "".join(f"<th>{_e(debrief.LABELS[k])}</th>" for k in debrief.PATHS)
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{v[k]:.3f}</td>" for k in debrief.PATHS) + "</tr>"
        for label, v in rows
    )
    solara.HTML(tag="table", unsafe_innerHTML=head + body, attributes={"data-testid": "debrief-table"})


def _debrief(game: Game) -> tuple[bytes, list[tuple[str, dict[str, float]]]]:
    ens = debrief.ensembles(game)
    return debrief.png(debrief.figure(game, ens)), debrief.table(game, ens)


@solara.component
def Layout(children: list[Any] = []):  # noqa: B006 (Solara's signature)
    """No app bar or footer."""
    return rv.Html(tag="div", children=children)


__all__ = ["Layout", "Page", "PowerChoice"]
