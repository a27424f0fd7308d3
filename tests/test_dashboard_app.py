"""The dashboard page through ``solara.render``, without a browser: widgets, their events, results."""

from __future__ import annotations

import pytest

solara = pytest.importorskip("solara")

from sim.dashboard import app  # noqa: E402
from sim.dashboard.setting import RUNS  # noqa: E402


@pytest.fixture
def dash(monkeypatch):
    monkeypatch.delenv(app.SCENARIO_ENV, raising=False)
    box, rc = solara.render(app.Page(), handle_error=False)
    yield rc
    rc.close()


def _walk(rc):
    """Every widget on the page, depth first."""
    stack = [rc.container]
    while stack:
        w = stack.pop()
        yield w
        stack.extend(c for c in reversed(getattr(w, "children", []) or []) if not isinstance(c, str))


def _find(rc, **attrs):
    """Widgets whose DOM attributes include ``attrs`` (``class_`` matches one of their classes)."""
    out = []
    for w in _walk(rc):
        a = dict(getattr(w, "attributes", None) or {})
        classes = f"{a.get('class', '')} {getattr(w, 'class_', '') or ''}".split()
        if all(k == "class_" and val in classes or a.get(k) == val for k, val in attrs.items()):
            out.append(w)
    return out


def _one(rc, **attrs):
    found = _find(rc, **attrs)
    assert len(found) == 1, (attrs, len(found))
    return found[0]


def _html(rc, cls: str) -> str:
    """The inner HTML of the solara.HTML element with a class."""
    return _one(rc, class_=cls).unsafe_innerHTML


def _panel(rc, name: str) -> bytes:
    from ipywidgets import Image

    cell = _one(rc, **{"data-panel": name})
    stack = [cell]
    while stack:
        w = stack.pop()
        if isinstance(w, Image):
            return w.value
        stack.extend(c for c in getattr(w, "children", []) or [] if not isinstance(c, str))
    raise AssertionError(f"no picture in panel {name}")


def _actors_svg(rc) -> str:
    return _one(rc, **{"data-testid": "actors"}).unsafe_innerHTML


def _knob(rc, key: str):
    return _one(rc, **{"data-knob": key})


#: The panels of each view: the small state's (shown first) and the powers' (also read by the
#: browser tests).
SMALL_VIEW = (
    "alignment",
    "alignment_economic",
    "alignment_security",
    "alignment_diplomatic",
    "hedging",
    "influence",
)
POWERS_VIEW = ("aid", "presence", "pressure", "engagement", "tension_powers", "tension_small")


def _panels_shown(rc) -> set[str]:
    return {
        w.attributes["data-panel"]
        for w in _walk(rc)
        if "data-panel" in (getattr(w, "attributes", None) or {})
    }


def test_page_shows_knobs_events_panels_and_the_actors(dash):
    knobs = [w for w in _walk(dash) if "data-knob" in (getattr(w, "attributes", None) or {})]
    assert len(knobs) == 3 + 3 * 3 + 6 + 3  # how the powers decide, each power, priorities, partnership
    switches = [w for w in _walk(dash) if "data-event" in (getattr(w, "attributes", None) or {})]
    assert len(switches) == 18 and all(w.v_model for w in switches)
    assert _panels_shown(dash) == set(SMALL_VIEW)  # the small state's view first
    for panel in SMALL_VIEW:
        assert _panel(dash, panel)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2026Q4" in _actors_svg(dash) and ">Cambodia<" in _actors_svg(dash)
    status = _html(dash, "hedgesim-status")
    assert f"{RUNS} runs" in status and "seed 20231216" in status and "as loaded" in status
    table = _html(dash, "hedgesim-at-date")
    assert "sec." in table and "hedging index" in table and "divergence" in table


def test_the_powers_view_shows_what_each_power_decided(dash):
    _one(dash, **{"data-view": "powers"}).click()
    assert _panels_shown(dash) == set(POWERS_VIEW)
    for panel in POWERS_VIEW:
        assert _panel(dash, panel)[:8] == b"\x89PNG\r\n\x1a\n"
    table = _html(dash, "hedgesim-at-date")
    for header in ("aid $m", "presence", "pressure", "engaged", "threat Cambodia perceives"):
        assert header in table
    _one(dash, **{"data-view": "small"}).click()
    assert _panels_shown(dash) == set(SMALL_VIEW)


def test_moving_a_slider_reruns_and_moving_it_back_restores(dash):
    _one(dash, **{"data-view": "powers"}).click()
    before = _panel(dash, "aid")
    slider = _knob(dash, "actors.us.budget")
    slider.fire_event("change", 0.0)
    assert "1 change" in _html(dash, "hedgesim-status")
    assert _panel(dash, "aid") != before
    slider = _knob(dash, "actors.us.budget")
    assert slider.v_model == 0.0
    slider.fire_event("change", 56.0)
    assert "as loaded" in _html(dash, "hedgesim-status")
    assert _panel(dash, "aid") == before  # same setting, same noise: the same picture


def test_choosing_history_only_stops_the_powers_deciding(dash):
    _one(dash, **{"data-view": "powers"}).click()
    before = _panel(dash, "engagement")
    choice = _knob(dash, "scenario.decisions")
    assert choice.v_model == "both" and {i["value"] for i in choice.items} == {
        "historical",
        "strategic",
        "both",
    }
    choice.v_model = "historical"
    assert "1 change" in _html(dash, "hedgesim-status")
    assert _knob(dash, "scenario.decisions").v_model == "historical"
    assert _panel(dash, "engagement") != before


def test_a_partnership_channel_switched_off_moves_the_outcome(dash):
    before = _panel(dash, "alignment_economic")
    _knob(dash, "parameters.tier_credibility").fire_event("change", 0.0)
    assert "1 change" in _html(dash, "hedgesim-status")
    assert _panel(dash, "alignment_economic") != before


def test_switching_an_event_off_moves_the_outcome(dash):
    table = _html(dash, "hedgesim-at-date")  # the medians at the date shown
    before = {p: _panel(dash, p) for p in ("alignment", "alignment_economic", "hedging")}
    switch = _one(dash, **{"data-event": "Japan-Cambodia CSP"})
    switch.v_model = False
    assert "1 change" in _html(dash, "hedgesim-status")
    assert all(_panel(dash, p) != png for p, png in before.items())
    assert _html(dash, "hedgesim-at-date") != table
    assert any("Events (17)" in str(getattr(w, "children", "")) for w in _walk(dash))


def test_stepping_through_time_moves_the_picture(dash):
    assert "actors at 2026Q4" in _actors_svg(dash)
    time_slider = _one(dash, **{"data-testid": "time"})
    time_slider.v_model = 0
    assert "actors at 2020Q1" in _actors_svg(dash)
    _one(dash, **{"data-testid": "step-forward"}).click()
    assert "actors at 2020Q2" in _actors_svg(dash)


def test_opening_a_file_replaces_the_scenario_and_a_bad_one_says_why(dash):
    widgets = [w for w in _walk(dash) if hasattr(w, "vue_event_opened")]
    assert len(widgets) == 1
    text = (
        '[scenario]\nextends = "csp2023.toml"\ndrop_events = ["Japan-Cambodia CSP"]\n'
        'name = "mine"\ntitle = "Mine, without the CSP"\n'
    )
    widgets[0].vue_event_opened({"name": "mine.toml", "text": text})
    assert "Mine, without the CSP" in _html(dash, "hedgesim-status")
    switches = [w for w in _walk(dash) if "data-event" in (getattr(w, "attributes", None) or {})]
    assert len(switches) == 17
    widgets = [w for w in _walk(dash) if hasattr(w, "vue_event_opened")]
    widgets[0].vue_event_opened({"name": "broken.toml", "text": "[scenario]\nname = 3\n"})
    assert _one(dash, class_="hedgesim-error").children[0].startswith("broken.toml")


def test_reset_returns_to_the_scenarios_values(dash):
    _knob(dash, "parameters.weight_aid").fire_event("change", 4.0)
    _one(dash, **{"data-event": "US arms embargo"}).v_model = False
    assert "2 changes" in _html(dash, "hedgesim-status")
    _one(dash, **{"data-testid": "reset"}).click()
    assert "as loaded" in _html(dash, "hedgesim-status")
    assert _knob(dash, "parameters.weight_aid").v_model == 2.5
    assert _one(dash, **{"data-event": "US arms embargo"}).v_model is True


def test_choosing_another_bundled_scenario(dash):
    choice = _one(dash, **{"data-testid": "scenario"})
    assert "no_ream" in {item["value"] for item in choice.items}
    choice.v_model = "no_ream"
    assert "no Chinese naval access at Ream" in _html(dash, "hedgesim-status")
    switches = [w for w in _walk(dash) if "data-event" in (getattr(w, "attributes", None) or {})]
    assert len(switches) == 16


def _unsafe_markup(html: str) -> list[str]:
    """What in a piece of HTML could run script: script tags, on* attributes, javascript: links."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "img", "iframe", "object"):
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                    found.append(f"<{tag} {name}={value}>")

    Parser().feed(html)
    return found


def _page_html(rc) -> str:
    return "".join(getattr(w, "unsafe_innerHTML", "") or "" for w in _walk(rc))


def _check_escaped(rc) -> None:
    html = _page_html(rc)
    assert _unsafe_markup(html) == [], _unsafe_markup(html)
    assert "&lt;img src=x onerror=" in html  # the title is shown, as text
    assert "source: javascript:window.__xss=6" in html  # shown as text, not as a link
    assert 'href="https://example.org/?q=&quot;&gt;&lt;script&gt;' in html  # a web source stays a link


def test_scenario_text_from_the_command_line_is_escaped(monkeypatch, tmp_path):
    from .conftest import HOSTILE

    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE)
    monkeypatch.setenv(app.SCENARIO_ENV, str(path))
    box, rc = solara.render(app.Page(), handle_error=False)
    try:
        _check_escaped(rc)
    finally:
        rc.close()


def test_scenario_text_from_an_opened_file_is_escaped(dash):
    from .conftest import HOSTILE

    [opener] = [w for w in _walk(dash) if hasattr(w, "vue_event_opened")]
    opener.vue_event_opened({"name": "hostile.toml", "text": HOSTILE})
    _check_escaped(dash)


@pytest.mark.parametrize(
    "info, fragment",
    [
        ({"name": "deep.toml", "text": "a = " + "[" * 5000}, "deep.toml:"),
        ({"name": "big.toml", "size": 10**9}, "big.toml: is too large (976562 KiB)"),
        ({"name": "nl.toml", "text": '[scenario]\nname = "a\\nb"\n'}, 'found "a\\nb" (text)'),
        ({"name": "x.toml", "text": '[scenario]\nextends = "/etc/passwd"\n'}, "only a bundled scenario"),
    ],
)
def test_an_opened_file_that_cannot_be_used_gives_one_line_in_the_page(dash, info, fragment):
    [opener] = [w for w in _walk(dash) if hasattr(w, "vue_event_opened")]
    opener.vue_event_opened(info)
    [message] = _one(dash, class_="hedgesim-error").children
    assert fragment in message and "\n" not in message, message
    assert "Traceback" not in message


def test_what_drives_this_draws_a_tornado_on_demand(dash):
    assert not _images(_one(dash, **{"data-testid": "drivers"}))  # nothing until asked
    _one(dash, **{"data-testid": "drivers-run"}).click()
    [png] = _images(_one(dash, **{"data-testid": "drivers"}))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def _images(root):
    from ipywidgets import Image

    stack, out = [root], []
    while stack:
        w = stack.pop()
        if isinstance(w, Image):
            out.append(w.value)
        stack.extend(c for c in getattr(w, "children", []) or [] if not isinstance(c, str))
    return out
