"""The dashboard's logic without a browser: knobs, settings, export, panels and the actors picture."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

pytest.importorskip("solara")

import sim  # noqa: E402
from sim.dashboard import actors, charts  # noqa: E402
from sim.dashboard.setting import RUNS, Setting, all_knobs, knobs, load_text  # noqa: E402
from sim.errors import ScenarioError  # noqa: E402


def test_knobs_cover_the_powers_decisions_each_power_and_the_small_states_priorities(csp2023):
    groups = knobs(csp2023)
    assert [title for title, _ in groups] == [
        "How the powers decide",
        "China",
        "Japan",
        "United States",
        "Cambodia's priorities",
        "What a top-tier partnership changes",
    ]
    keys = set(all_knobs(csp2023))
    assert {"scenario.decisions", "parameters.standing_value", "parameters.rivalry"} <= keys
    for p in ("china", "japan", "us"):
        assert {f"actors.{p}.budget", f"actors.{p}.interest", f"actors.{p}.conditionality"} <= keys
    for w in ("aid", "overdependence", "protection", "threat", "regime", "entrapment"):
        assert f"parameters.weight_{w}" in keys
    for channel in ("credibility", "security", "trust"):
        assert f"parameters.tier_{channel}" in keys
    fields = set(type(csp2023.parameters).model_fields)
    for key in keys:  # every knob sets something the model still has
        head, _, name = key.partition(".")
        if head == "parameters":
            assert name in fields, key
    sc = Setting(csp2023)
    for knob in all_knobs(csp2023).values():
        assert knob.label and knob.help
        value = sc.value(knob)
        if knob.choices:
            assert value in {v for v, _ in knob.choices}, knob.key
        else:
            assert knob.low <= value <= knob.high, knob.key  # the scenario's value is on the slider


@pytest.mark.parametrize("name", sorted(sim.bundled_scenarios()))
def test_every_bundled_scenario_has_its_values_on_the_sliders(name):
    sc = sim.load_scenario(sim.bundled_scenarios()[name])
    setting = Setting(sc)
    for knob in all_knobs(sc).values():
        if not knob.choices:
            assert knob.low <= setting.value(knob) <= knob.high, (name, knob.key)


def test_a_choice_of_decisions_changes_what_the_powers_do(csp2023):
    s = Setting(csp2023).with_value("scenario.decisions", "historical")
    assert s.values == (("scenario.decisions", "historical"),)
    assert s.scenario().scenario.decisions == "historical"
    assert not s.with_value("scenario.decisions", "both").changed()  # back to the file's choice
    both = sim.run(csp2023, runs=20, seed=s.seed)
    history = sim.run(s.scenario(), runs=20, seed=s.seed)
    # with history only, China's engagement stays where it started; deciding, China moves it
    assert not np.array_equal(history.values("china.engagement"), both.values("china.engagement"))
    assert np.all(history.values("china.engagement") == history.values("china.engagement")[:, :1])


def test_setting_records_changes_and_forgets_them_when_moved_back(csp2023):
    s = Setting(csp2023).with_value("actors.us.budget", 0.0)
    assert s.values == (("actors.us.budget", 0.0),) and s.changed()
    assert s.scenario().actors["us"].budget == 0.0
    assert not s.with_value("actors.us.budget", 56.0).changed()
    off = s.with_event("Japan-Cambodia CSP", False)
    assert "Japan-Cambodia CSP" not in {e.title for e in off.scenario().events}
    assert off.with_event("Japan-Cambodia CSP", True).off == frozenset()
    assert not off.reset().changed()


def test_exported_toml_loads_and_reproduces_the_setting(csp2023, tmp_path):
    s = (
        Setting(csp2023)
        .with_value("actors.us.budget", 0.0)
        .with_value("parameters.weight_protection", 80.0)
        .with_value("scenario.decisions", "strategic")
        .with_event("Chinese corvettes at Ream", False)
    )
    path = tmp_path / "export.toml"
    path.write_text(s.export_toml(), encoding="utf-8")
    back = sim.load_scenario(path)
    assert back.scenario.runs == RUNS and back.scenario.seed == s.seed
    assert back.name == "csp2023-dashboard"
    on_screen = sim.run(s.scenario(), runs=RUNS, seed=s.seed)
    again = sim.run(back)  # the file's own runs and seed
    assert np.array_equal(on_screen.data, again.data)
    assert back.scenario.decisions == "strategic" and back.parameters.weight_protection == 80.0
    assert "actors.us.budget = 0" in path.read_text()
    assert 'scenario.decisions = "strategic"' in path.read_text()


def test_load_text_reads_an_upload_that_extends_a_bundled_scenario():
    text = (
        '[scenario]\nextends = "csp2023.toml"\ndrop_events = ["Japan-Cambodia CSP"]\n'
        'name = "mine"\ntitle = "Mine"\n'
    )
    sc = load_text("mine.toml", text)
    assert sc.name == "mine" and len(sc.events) == 17
    with pytest.raises(ScenarioError, match=r"^bad\.toml:1: TOML syntax error"):
        load_text("bad.toml", "[scenario\n")


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_panel_shows_the_change_and_redraws_the_same_setting_identically(csp2023):
    s = Setting(csp2023)
    base = sim.run(csp2023, runs=RUNS, seed=s.seed)
    no_aid = sim.run(s.with_value("actors.us.budget", 0.0).scenario(), runs=RUNS, seed=s.seed)
    canvas = charts.PanelCanvas(base, "aid")
    first = _pixels(canvas.png(base))
    changed = _pixels(canvas.png(no_aid))
    assert _pixels(canvas.png(base)).tobytes() == first.tobytes()  # nothing left over from the last draw
    assert (first != changed).any(axis=2).sum() > 200  # the US line moved
    assert first.shape == (round(charts.SIZE[1] * charts.DPI), round(charts.SIZE[0] * charts.DPI), 3)


def test_aid_panel_rescales_when_aid_outgrows_it(csp2023):
    s = Setting(csp2023)
    base = sim.run(csp2023, runs=50, seed=s.seed)
    more = sim.run(s.with_value("actors.china.budget", 470.0).scenario(), runs=50, seed=s.seed)
    canvas = charts.PanelCanvas(base, "aid")
    canvas.png(base)
    low = canvas.top
    canvas.png(more)
    assert canvas.top > low >= float(base.values("china.aid").max())
    assert canvas.top >= float(more.values("china.aid").max())


def test_cursor_moves_across_the_axes(csp2023):
    dates = csp2023.dates
    left, _, width, _ = charts.AXES
    assert charts.cursor_left(dates, 0) == pytest.approx(left)
    assert charts.cursor_left(dates, len(dates) - 1) == pytest.approx(left + width)


def test_actors_picture_draws_values_as_widths_and_colours(csp2023):
    values = {
        "china.influence": 0.8,
        "japan.influence": 0.2,
        "us.influence": 0.0,
        "tension.china-us": 0.9,
        "japan.tier": 1.0,
    }
    svg = actors.svg(csp2023, values, "2023Q3")
    for name in ("Cambodia", "China", "Japan", "United States"):
        assert f">{name}<" in svg
    import re

    widths = {
        m[2]: float(m[1])
        for m in re.finditer(r'stroke-width="([\d.]+)" marker-end="url\(#head-(\w+)\)"', svg)
    }
    assert widths["china"] > widths["japan"] > widths["us"]
    assert actors.tension_colour(0.9) != actors.tension_colour(0.0)
    assert 'data-tension="0.900"' in svg
    assert 'data-tier="1">tier 1<' in svg


def test_medians_at_gives_the_summarys_medians(csp2023):
    ens = sim.run(csp2023, runs=30, seed=2)
    values = actors.medians_at(ens, 5)
    summary = ens.summary()
    at5 = summary[summary.step == 5].set_index("variable").p50
    assert set(values) == set(ens.variables)
    for name in ("japan.influence", "cambodia.alignment.security.china", "cambodia.hedging.fallback"):
        assert values[name] == pytest.approx(at5[name], abs=1e-12)


def test_every_panel_draws_its_lines_for_every_bundled_scenario():
    for name, path in sim.bundled_scenarios().items():
        ens = sim.run(sim.load_scenario(path), runs=5, seed=1)
        for panel, _ in charts.PANELS:
            lines, title, ylabel = charts.panel_lines(ens, panel)
            assert lines and title and ylabel, (name, panel)
            for var, _, _ in lines:
                assert var in ens.variables, (name, panel, var)
    assert {view for _, view in charts.PANELS} == set(charts.VIEWS)
    assert [sum(v == view for _, v in charts.PANELS) for view in charts.VIEWS] == [6, 6]


def test_the_new_panels_show_the_dimensions_the_hedging_parts_and_the_decisions(csp2023):
    ens = sim.run(csp2023, runs=5, seed=1)
    lines = {p: [v for v, _, _ in charts.panel_lines(ens, p)[0]] for p, _ in charts.PANELS}
    assert lines["alignment_security"] == [f"cambodia.alignment.security.{p}" for p in csp2023.powers]
    assert lines["hedging"] == [
        "cambodia.hedging_index",
        "cambodia.hedging.divergence",
        "cambodia.hedging.ambiguity",
        "cambodia.hedging.fallback",
    ]
    for instrument in ("aid", "presence", "pressure", "engagement"):
        assert lines[instrument] == [f"{p}.{instrument}" for p in csp2023.powers]


def test_an_opened_file_extends_only_bundled_scenarios_and_reveals_nothing(tmp_path):
    """Whatever an upload names in ``extends`` (absolute, ../, existing or not), the error is the
    same and shows nothing of another file: neither its contents nor whether it exists."""
    secret = tmp_path / "secret.toml"
    secret.write_text('[scenario]\ntitle = 42  # SECRET-LINE\nname = "SECRET-VALUE"\n')
    targets = [str(secret), str(tmp_path / "nothere.toml"), "/etc/passwd", "/etc", "../../../../etc/hostname"]
    targets += [f"../{'../' * 8}{str(secret).lstrip('/')}", "csp2023.toml/../../" + secret.name]
    messages = set()
    for target in targets:
        with pytest.raises(ScenarioError) as err:
            load_text("mine.toml", f'[scenario]\nextends = "{target}"\nname = "mine"\n')
        message = str(err.value)
        assert "SECRET" not in message and "no such" not in message.lower(), message
        assert message.startswith(
            "mine.toml: scenario.extends: a file opened in the dashboard can extend only"
        )
        messages.add(re.sub(r'found ".*" \(text\)$', "found <target>", message))
    assert len(messages) == 1, messages


def test_an_opened_file_has_a_size_and_a_step_limit():
    from sim.dashboard.setting import MAX_BYTES, MAX_STEPS

    base = '[scenario]\nextends = "csp2023.toml"\nname = "long"\n'
    with pytest.raises(
        ScenarioError, match=r"^big\.toml: is too large \(257 KiB\); the dashboard opens files up to 256 KiB$"
    ):
        load_text("big.toml", base + "#" * (MAX_BYTES + 1024))
    with pytest.raises(ScenarioError, match=r"^long\.toml: scenario\.end: 403 quarters .* at most 400"):
        load_text("long.toml", base + 'end = "2120Q4"\n')
    assert MAX_STEPS >= sim.load_scenario("scenarios/history_2010.toml").steps
    assert load_text("ok.toml", base + 'end = "2119Q4"\n').steps == MAX_STEPS - 1
