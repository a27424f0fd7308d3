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


def test_knobs_cover_each_power_and_the_small_states_weights(csp2023):
    groups = knobs(csp2023)
    assert [title for title, _ in groups] == ["China", "Japan", "United States", "Cambodia's priorities"]
    keys = set(all_knobs(csp2023))
    for p in ("china", "japan", "us"):
        assert {f"actors.{p}.budget", f"actors.{p}.conditionality", f"actors.{p}.presence"} <= keys
    for w in ("economy", "security", "regime", "diversification"):
        assert f"parameters.weight_{w}" in keys
    for knob in all_knobs(csp2023).values():
        assert knob.unit and knob.help
        value = Setting(csp2023).value(knob)
        assert knob.low <= value <= knob.high, knob.key  # the scenario's value is on the slider


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
        .with_value("parameters.weight_security", 3.0)
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
    assert "actors.us.budget = 0" in path.read_text()


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
    values = {"china.influence": 0.8, "japan.influence": 0.2, "us.influence": 0.0, "tension.china-us": 0.9}
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


def test_medians_at_reads_the_summary(csp2023):
    ens = sim.run(csp2023, runs=30, seed=2)
    values = actors.medians_at(ens.summary(), 5)
    assert values["japan.influence"] == pytest.approx(np.median(ens.values("japan.influence")[:, 5]))


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
