"""The dashboard page (Solara): knobs and events on the left, live ensemble plots on the right.

The plots come in two views of six panels: the small state (its alignment in each dimension and
their mean, the hedging index with its three parts, the powers' influence) and the powers (what
each decided: aid, presence, pressure, engagement; and the tension that followed).

Every change to a knob or an event reruns the ensemble (:data:`RUNS` runs) with the seed of the
baseline, so both share their random numbers (common random numbers: run k draws the same noise
in both, and a difference is the change's, not luck's). State lives in this page; numbers come
from :func:`sim.run`, :meth:`Ensemble.summary` and :mod:`sim.plots`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import reacton.ipyvuetify as rv
import solara
import solara.lab

import sim.kernel  # noqa: F401 (a long-lived server: the compiled step, loaded once, serves it all)
from sim.dashboard import actors, charts, drivers
from sim.dashboard.setting import MAX_BYTES, RUNS, Knob, Setting, knobs, load_text
from sim.errors import HedgesimError, one_line

#: The scenario to open first (set by ``hedgesim dashboard SCENARIO``).
SCENARIO_ENV = "HEDGESIM_DASHBOARD_SCENARIO"
#: Seconds per step when playing.
PLAY_DELAY = 0.6

CSS = """
.hedgesim { font-size: 15px; color: #222; }
.hedgesim-header { background: #26384d !important; color: white; padding: 8px 16px; gap: 16px;
                   align-items: center; flex-wrap: nowrap; }
.hedgesim-header h1 { font-size: 20px; font-weight: 600; margin: 0; color: white; }
.hedgesim-header .v-select { flex: 1 1 360px; min-width: 160px; max-width: 430px; }
.hedgesim-header .v-btn { letter-spacing: 0; padding: 0 12px !important; }
.hedgesim-header .v-input, .hedgesim-header .v-select__selection { color: white !important; }
.hedgesim-left .v-tabs-bar { position: sticky; top: 0; z-index: 2; }
.hedgesim-left .v-tab { min-width: 0; padding: 0 6px; font-size: 13px; letter-spacing: 0; }
.hedgesim-left .v-slide-group__prev, .hedgesim-left .v-slide-group__next { display: none !important; }
.hedgesim-left { width: 330px; min-width: 330px; border-right: 1px solid #ddd; background: #fafafa;
                 height: calc(100vh - 64px); overflow-y: auto; }
.hedgesim-main { padding: 8px 12px; height: calc(100vh - 64px); overflow-y: auto; flex: 1; }
.hedgesim-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 10px; }
.hedgesim-cell { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 4px;
                 position: relative; }
.hedgesim-cell img { width: 100%; display: block; }
.hedgesim-cursor { position: absolute; width: 2px; background: rgba(38, 56, 77, 0.55);
                   pointer-events: none; }
.hedgesim-knob-label { font-weight: 600; font-size: 14px; }
.hedgesim-knob-value { font-variant-numeric: tabular-nums; font-weight: 600; color: #26384d; }
.hedgesim-knob-value.changed { color: #b3261e; }
.hedgesim-help { font-size: 12.5px; color: #555; line-height: 1.3; }
.hedgesim-event { border-bottom: 1px solid #eee; padding: 4px 2px; }
.hedgesim-event.off { opacity: 0.55; }
.hedgesim-event .v-input--selection-controls { margin-top: 0; padding-top: 0; }
.hedgesim-event .v-label { color: #222 !important; font-size: 15px; }
.hedgesim-status { font-size: 14px; color: #333; }
.hedgesim-status b { color: #26384d; }
.hedgesim-error { color: #b3261e; font-weight: 600; }
.hedgesim-now li { margin-bottom: 2px; }
.hedgesim-table { width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; border-spacing: 0; }
.hedgesim-table th { text-align: left; color: #555; font-weight: 600; font-size: 11.5px; padding-right: 3px; }
.hedgesim-table td { padding-right: 4px; }
.hedgesim-table td:first-child { white-space: nowrap; }
.hedgesim-views { gap: 6px; flex-wrap: nowrap; align-items: center; }
.hedgesim-views .v-btn { letter-spacing: 0; text-transform: none; font-size: 14px; }
.hedgesim-knob-label.changed { color: #b3261e; }
"""


def _bundled() -> dict[str, tuple[Path, str]]:
    """Bundled scenarios by name: (path, title)."""
    from sim.scenario import bundled_scenarios, load_scenario

    out = {}
    for name, path in bundled_scenarios().items():
        try:
            out[name] = (path, load_scenario(path).scenario.title)
        except HedgesimError:
            continue
    return out


def _first() -> tuple[str, Any]:
    """The scenario to open: ``hedgesim dashboard``'s argument, else the flagship csp2023."""
    from sim.scenario import bundled_scenarios, load_scenario

    path = os.environ.get(SCENARIO_ENV)
    if path:
        return f"file: {Path(path).name}", load_scenario(path)
    bundled = bundled_scenarios()
    name = "csp2023" if "csp2023" in bundled else next(iter(bundled))
    return name, load_scenario(bundled[name])


def baseline(setting: Setting) -> Any:
    """The unchanged scenario's ensemble: the same runs and seed as every change."""
    import sim

    return sim.run(setting.base, runs=RUNS, seed=setting.seed, progress=False)


def simulate(setting: Setting) -> dict[str, Any]:
    """Run the setting's ensemble: the ensemble and the seconds it took."""
    import sim

    t0 = time.perf_counter()
    current = sim.run(setting.scenario(), runs=RUNS, seed=setting.seed, progress=False)
    return {"ens": current, "seconds": time.perf_counter() - t0}


def draw(ens: Any, panels: dict[str, charts.PanelCanvas], view: str) -> dict[str, Any]:
    """Draw the panels of one view for an ensemble over the baseline's: PNGs and the seconds taken.

    Only the view on screen is drawn; the other one is drawn when it is chosen."""
    t0 = time.perf_counter()
    pngs = {p: panels[p].png(ens) for p, where in charts.PANELS if where == view}
    return {"pngs": pngs, "seconds": time.perf_counter() - t0}


def compute(
    setting: Setting, panels: dict[str, charts.PanelCanvas] | None = None, view: str = charts.VIEWS[0]
) -> dict[str, Any]:
    """Run the setting's ensemble and draw one view's panels over the baseline's: what a change costs."""
    if panels is None:
        panels = charts.canvases(baseline(setting))
    ran = simulate(setting)
    drawn = draw(ran["ens"], panels, view)
    return {"ens": ran["ens"], "pngs": drawn["pngs"], "seconds": ran["seconds"] + drawn["seconds"]}


@solara.component_vue("open_file.vue")
def OpenFile(label: str, max_bytes: int, event_opened: Callable[[dict], None]):
    pass


@solara.component
def KnobSlider(knob: Knob, value: float, changed: bool, on_commit: Callable[[str, float | str], None]):
    """A slider that reruns the ensemble when it is let go (not on every pixel of a drag)."""
    local, set_local = solara.use_state(value)
    solara.use_effect(lambda: set_local(value), [value])
    fmt = "{:.0f}" if knob.step >= 1 else "{:.1f}" if knob.step >= 0.5 else "{:.2f}"
    with solara.Column(gap="0px", style="margin-bottom: 10px"):
        with solara.Row(justify="space-between", style="align-items: baseline"):
            solara.Text(knob.label, classes=["hedgesim-knob-label"])
            solara.Text(
                f"{fmt.format(local)}{' ' + knob.unit if knob.unit and knob.step >= 0.5 else ''}",
                classes=["hedgesim-knob-value", *(["changed"] if changed else [])],
            )
        slider = rv.Slider(
            v_model=local,
            on_v_model=lambda x: set_local(float(x)),
            min=knob.low,
            max=knob.high,
            step=knob.step,
            hide_details=True,
            dense=True,
            color="#26384d",
            attributes={"data-knob": knob.key, "aria-label": knob.label},
        )
        rv.use_event(slider, "change", lambda *args: on_commit(knob.key, float(args[2])))
        solara.Text(knob.help, classes=["hedgesim-help"])


@solara.component
def KnobChoice(knob: Knob, value: str, changed: bool, on_commit: Callable[[str, float | str], None]):
    """A choice among named values (a drop-down): the ensemble reruns on each choice."""
    with solara.Column(gap="0px", style="margin-bottom: 10px"):
        solara.Text(knob.label, classes=["hedgesim-knob-label", *(["changed"] if changed else [])])
        rv.Select(
            v_model=value,
            on_v_model=lambda x: on_commit(knob.key, str(x)),
            items=[{"value": v, "text": text} for v, text in knob.choices],
            dense=True,
            hide_details=True,
            color="#26384d",
            attributes={"data-knob": knob.key, "aria-label": knob.label},
        )
        solara.Text(knob.help, classes=["hedgesim-help"])


@solara.component
def KnobGroup(title: str, group: list[Knob], setting: Setting, on_commit: Callable[[str, float | str], None]):
    changed = {k for k, _ in setting.values}
    solara.Text(title, style="font-size: 16px; font-weight: 700; margin: 6px 0 8px 0; display: block")
    for knob in group:
        control = KnobChoice if knob.choices else KnobSlider
        control(knob, setting.value(knob), knob.key in changed, on_commit)


@solara.component
def EventList(setting: Setting, on_switch: Callable[[str, bool], None]):
    sc = setting.base
    names = {k: a.name for k, a in sc.actors.items()}
    off = len(setting.off)
    solara.Text(
        f"{len(sc.events) - off} of {len(sc.events)} events on. Switch one off to see the world without it.",
        classes=["hedgesim-help"],
    )
    for ev in sorted(sc.events, key=lambda e: sc.event_step(e)):
        on = ev.title not in setting.off
        who = names.get(ev.target_power() or "", "")
        when = sc.dates[sc.event_step(ev)]
        detail = " · ".join(x for x in (f"{when} ({ev.date})", ev.kind.replace("_", " "), who) if x)
        with solara.Column(gap="0px", classes=["hedgesim-event", "" if on else "off"]):
            rv.Switch(
                v_model=on,
                on_v_model=lambda x, t=ev.title: on_switch(t, bool(x)),
                label=ev.title,
                dense=True,
                hide_details=True,
                color="#26384d",
                attributes={"data-event": ev.title},
            )
            solara.HTML(
                tag="div", unsafe_innerHTML=f"{_text(detail)}{_source(ev.source)}", classes=["hedgesim-help"]
            )


def _text(s: str) -> str:
    """Text from a scenario, safe inside HTML (a title may hold ``<img onerror=...>``)."""
    from html import escape

    return escape(s, quote=True)


def _source(source: str | None) -> str:
    """An event's source: a link when it is a web address (http or https only, never ``javascript:``),
    else its text."""
    from urllib.parse import urlsplit

    if not source:
        return ""
    if urlsplit(source.strip()).scheme.lower() in ("http", "https"):
        return f' · <a href="{_text(source.strip())}" target="_blank" rel="noopener noreferrer">source</a>'
    return f" · source: {_text(source)}"


@solara.component
def TimeControls(step: solara.Reactive[int], playing: solara.Reactive[bool], dates: list[str]):
    last = len(dates) - 1

    def play():
        if not playing.value and step.value >= last:
            step.set(0)
        playing.set(not playing.value)

    def loop(cancel: threading.Event) -> None:
        if not playing.value:
            return
        while not cancel.wait(PLAY_DELAY):
            if step.value >= last:
                playing.set(False)
                return
            step.set(step.value + 1)

    solara.use_thread(loop, dependencies=[playing.value], intrusive_cancel=False)
    with solara.Row(style="align-items: center; gap: 2px"):
        solara.Button(
            icon_name="mdi-skip-previous",
            icon=True,
            on_click=lambda: step.set(0),
            attributes={"data-testid": "to-start"},
        )
        solara.Button(
            icon_name="mdi-chevron-left", icon=True, on_click=lambda: step.set(max(0, step.value - 1))
        )
        solara.Button(
            icon_name="mdi-pause" if playing.value else "mdi-play",
            icon=True,
            on_click=play,
            attributes={"data-testid": "play"},
        )
        solara.Button(
            icon_name="mdi-chevron-right",
            icon=True,
            on_click=lambda: step.set(min(last, step.value + 1)),
            attributes={"data-testid": "step-forward"},
        )
        solara.Button(icon_name="mdi-skip-next", icon=True, on_click=lambda: step.set(last))
        solara.Text(f"{dates[step.value]}", style="font-weight: 700; font-size: 17px; margin-left: 6px")
    rv.Slider(
        v_model=step.value,
        on_v_model=lambda x: step.set(int(x)),
        min=0,
        max=last,
        step=1,
        hide_details=True,
        dense=True,
        color="#26384d",
        attributes={"data-testid": "time"},
    )


@solara.component
def Panel(png: bytes, left: float, panel: str):
    _, bottom, _, height = charts.AXES
    with solara.Div(classes=["hedgesim-cell"], attributes={"data-panel": panel}):
        with solara.Div(style="position: relative"):  # the cursor's percentages are of the picture
            solara.Image(png, width="100%")
            solara.HTML(
                tag="div",
                classes=["hedgesim-cursor"],
                style=f"left: {left * 100:.2f}%; top: {(1 - bottom - height) * 100:.2f}%; "
                f"height: {height * 100:.2f}%;",
            )


#: Columns of the table of values at the date, per view: (header, variable pattern, format).
NOW_COLUMNS = {
    "small": (
        ("influence", "{p}.influence", "{:.2f}"),
        ("mean", "{s}.alignment.{p}", "{:.2f}"),
        ("econ.", "{s}.alignment.economic.{p}", "{:.2f}"),
        ("sec.", "{s}.alignment.security.{p}", "{:.2f}"),
        ("dipl.", "{s}.alignment.diplomatic.{p}", "{:.2f}"),
    ),
    "powers": (
        ("aid $m", "{p}.aid", "{:.0f}"),
        ("presence", "{p}.presence", "{:.2f}"),
        ("pressure", "{p}.pressure", "{:.2f}"),
        ("engaged", "{p}.engagement", "{:.2f}"),
    ),
}


@solara.component
def NowList(setting: Setting, step: int, values: dict[str, float], view: str):
    """What happens at the date shown, and the key values then (those of the view shown)."""
    sc = setting.base
    names = {k: a.name for k, a in sc.actors.items()}
    now = [e for e in sc.events if sc.event_step(e) == step and e.title not in setting.off]
    items = "".join(f"<li>{_text(e.title)}</li>" for e in now) or "<li>no event this quarter</li>"
    small = sc.small
    columns = NOW_COLUMNS[view]
    head = "".join(f"<th>{h}</th>" for h, _, _ in columns)
    rows = "".join(
        f"<tr><td>{_text(names[p])}</td>"
        + "".join(f"<td>{fmt.format(values.get(v.format(p=p, s=small), 0))}</td>" for _, v, fmt in columns)
        + "</tr>"
        for p in sc.powers
    )
    if view == "small":
        parts = " + ".join(
            f"{part} {values.get(f'{small}.hedging.{part}', 0):.2f}" for part, _ in charts.HEDGING_PARTS
        )
        foot = (
            f"hedging index <b>{values.get(f'{small}.hedging_index', 0):.2f}</b>"
            f"<span class='hedgesim-help'> = ({parts}) / 3</span>"
        )
    else:
        threat = ", ".join(f"{_text(names[p])} {values.get(f'{small}.threat.{p}', 0):.3f}" for p in sc.powers)
        foot = f"threat {_text(names[small])} perceives: {threat}"
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"<b>{sc.dates[step]}: events</b><ul class='hedgesim-now'>{items}</ul>"
            "<b>Medians over the runs</b>"
            "<table class='hedgesim-table'>"
            f"<tr><th></th>{head}</tr>{rows}</table>"
            f"<div style='margin-top:6px'>{foot}</div>"
        ),
        classes=["hedgesim-cell", "hedgesim-at-date"],
        style="padding: 8px 10px; font-size: 14px",
    )


#: The buttons that switch the view of the panels: (view, label; {small} is the small state's name).
VIEW_LABELS = (("small", "{small}: alignment, hedging"), ("powers", "Powers: decisions"))


@solara.component
def Page():
    bundled = solara.use_memo(_bundled, [])
    first = solara.use_memo(_first, [])
    choice, set_choice = solara.use_state(first[0])
    setting, set_setting = solara.use_state(Setting(first[1]))
    error, set_error = solara.use_state("")
    step = solara.use_reactive(setting.base.steps)
    playing = solara.use_reactive(False)
    view, set_view = solara.use_state(charts.VIEWS[0])

    def open_base(label: str, sc: Any) -> None:
        playing.set(False)
        set_setting(Setting(sc))
        set_choice(label)
        set_error("")
        step.set(sc.steps)

    def choose(name: str) -> None:
        from sim.scenario import load_scenario

        if name in bundled:
            open_base(name, load_scenario(bundled[name][0]))

    def opened(info: dict) -> None:
        name = str(info.get("name", ""))
        try:
            sc = load_text(name, info.get("text"), info.get("size"))
        except HedgesimError as err:
            set_error(str(err))
        except Exception as err:  # noqa: BLE001 (a file from the page never shows a traceback there)
            set_error(one_line(f"{Path(name).name[:100]}: cannot be opened ({type(err).__name__})"))
        else:
            open_base(f"file: {one_line(sc.source)}", sc)

    def commit(key: str, value: float | str) -> None:
        set_setting(lambda s: s.with_value(key, value))

    def switch(title: str, on: bool) -> None:
        set_setting(lambda s: s.with_event(title, on))

    panels = solara.use_memo(lambda: charts.canvases(baseline(setting)), [setting.base])
    ran = solara.use_memo(lambda: simulate(setting), [setting])
    ens = ran["ens"]
    drawn = solara.use_memo(lambda: draw(ens, panels, view), [ens, view])
    seconds = ran["seconds"] + drawn["seconds"]
    step_now = min(step.value, ens.steps)
    values = solara.use_memo(lambda: actors.medians_at(ens, step_now), [ens, step_now])

    sname = setting.base.actors[setting.base.small].name
    options = [{"value": k, "text": f"{k} · {title}"} for k, (_, title) in bundled.items()]
    if choice not in bundled:
        options.append({"value": choice, "text": choice})

    solara.Style(CSS)
    solara.Title(f"hedgesim · {setting.base.scenario.title}")
    with solara.Column(gap="0px", classes=["hedgesim"], style="height: 100vh"):
        with solara.Row(classes=["hedgesim-header"]):
            solara.HTML(tag="h1", unsafe_innerHTML="hedgesim")
            rv.Select(
                v_model=choice,
                on_v_model=choose,
                items=options,
                label="Scenario",
                dense=True,
                hide_details=True,
                dark=True,
                attributes={"data-testid": "scenario"},
            )
            OpenFile(label="Open a file", max_bytes=MAX_BYTES, event_opened=opened)
            solara.Button(
                "Reset all",
                icon_name="mdi-restore",
                outlined=True,
                dark=True,
                disabled=not setting.changed(),
                on_click=lambda: set_setting(setting.reset()),
                attributes={"data-testid": "reset"},
            )
            name = f"{setting.base.name}{'-dashboard' if setting.changed() else ''}"
            solara.FileDownload(
                lambda: setting.export_toml(),
                filename=f"{name}.toml",
                label="Scenario (TOML)",
                mime_type="application/toml",
            )
            solara.FileDownload(
                lambda: ens.summary().to_csv(index=False),
                filename=f"{name}-summary.csv",
                label="Results (CSV)",
                mime_type="text/csv",
            )
        with solara.Row(gap="0px", style="flex: 1; min-height: 0"):
            with solara.Column(classes=["hedgesim-left"], style="padding: 0 12px 12px 12px"):
                with solara.lab.Tabs(grow=True, color="#26384d"):
                    groups = knobs(setting.base)
                    with solara.lab.Tab("Powers"):
                        for title, group in groups[:-2]:
                            KnobGroup(title, group, setting, commit)
                    with solara.lab.Tab(sname):
                        KnobGroup(*groups[-2], setting, commit)
                        solara.Text(
                            "A weight says how much the small state cares about one reason when it chooses "
                            "how to align in a dimension; 0 means it ignores that reason.",
                            classes=["hedgesim-help"],
                        )
                        KnobGroup(*groups[-1], setting, commit)
                        solara.Text(
                            "A partnership tier raises no influence by itself: it works only through these "
                            "three channels (0 switches a channel off).",
                            classes=["hedgesim-help"],
                        )
                    with solara.lab.Tab(f"Events ({len(setting.base.events) - len(setting.off)})"):
                        EventList(setting, switch)
            with solara.Column(classes=["hedgesim-main"], gap="8px"):
                if error:
                    solara.Text(error, classes=["hedgesim-error"])
                changes = len(setting.values) + len(setting.off)
                status = (
                    f"<b>{_text(setting.base.scenario.title)}</b> · {ens.runs} runs · seed {ens.seed} · "
                    + (
                        f"<b>{changes} change{'s' if changes != 1 else ''}</b> from the scenario"
                        if changes
                        else "as loaded"
                    )
                    + f" · updated in <span data-testid='seconds'>{seconds:.2f}</span> s"
                )
                with solara.Row(classes=["hedgesim-views"]):
                    solara.HTML(
                        tag="div", unsafe_innerHTML=status, classes=["hedgesim-status"], style="flex: 1"
                    )
                    for v, label in VIEW_LABELS:
                        solara.Button(
                            label.format(small=sname),
                            color="#26384d",
                            outlined=v != view,
                            dark=v == view,
                            on_click=lambda v=v: set_view(v),
                            attributes={"data-view": v},
                        )
                with solara.Div(classes=["hedgesim-grid"]):
                    with solara.Div(classes=["hedgesim-cell"], style="grid-row: span 2; padding: 8px"):
                        TimeControls(step, playing, ens.dates)
                        solara.HTML(
                            tag="div",
                            unsafe_innerHTML=actors.svg(setting.base, values, ens.dates[step_now]),
                            attributes={"data-testid": "actors"},
                        )
                        solara.Text(
                            "Panels: solid lines are the medians of the runs with your changes, bands the "
                            "middle 50% and 90% of runs, dashed lines the scenario as loaded (same random "
                            "numbers); dotted lines mark events.",
                            classes=["hedgesim-help"],
                            style="display: block; margin-top: 4px",
                        )
                    left = charts.cursor_left(ens.dates, step_now)
                    for panel, where in charts.PANELS:
                        if where == view:
                            Panel(drawn["pngs"][panel], left, panel)
                    NowList(setting, step_now, values, view)
                with solara.Div(classes=["hedgesim-cell"], style="padding: 8px"):
                    drivers.Drivers(ens.scenario)


@solara.component
def Layout(children: list[Any] = []):  # noqa: B006 (Solara's signature)
    """No app bar or footer: the page draws its own header."""
    return rv.Html(tag="div", children=children)
