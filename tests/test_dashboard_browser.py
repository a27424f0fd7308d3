"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a local server.

Never ``playwright install``: the browser is /usr/bin/chromium (``apt-get install chromium``, which
.ci/run does). Without it these tests are skipped, unless HEDGESIM_REQUIRE_BROWSER=1 (set by CI)
makes that a failure. Screenshots go to tmp_path.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

pytest.importorskip("solara")
pytest.importorskip("playwright")

import sim  # noqa: E402

from .test_dashboard_app import POWERS_VIEW, SMALL_VIEW  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("HEDGESIM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {"executable_path": str(CHROMIUM), "args": FLAGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": VIEWPORT, "accept_downloads": True}


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    """``hedgesim dashboard`` on a free port of 127.0.0.1, run from a temporary folder."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    """The dashboard started on a scenario whose texts hold script (tests.conftest.HOSTILE)."""
    from .conftest import HOSTILE

    path = tmp_path_factory.mktemp("hostile") / "hostile.toml"
    path.write_text(HOSTILE)
    yield from _serve(tmp_path_factory, str(path))


def _serve(tmp_path_factory, *args: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tmp_path_factory.mktemp("server")
    log = open(cwd / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "dashboard", *args, "--port", str(port), "--no-browser"],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(f"dashboard did not start:\n{(cwd / 'server.log').read_text()}") from None
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _open(page, url: str) -> None:
    page.goto(url)
    _wait_panels(page, SMALL_VIEW, timeout=60_000)


def _wait_panels(page, panels: tuple[str, ...], timeout: int = 15_000) -> None:
    for panel in panels:
        page.locator(f"[data-panel={panel}] img").wait_for(timeout=timeout)
    page.locator("[data-testid=actors] svg").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-panel] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )


def _src(page, panel: str) -> str:
    return page.locator(f"[data-panel={panel}] img").get_attribute("src")


def _wait_changed(page, panel: str, before: str) -> None:
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).getAttribute('src') !== before",
        arg=[f"[data-panel={panel}] img", before],
        timeout=15_000,
    )


def _alignment_on_screen(page, power: str) -> float:
    row = page.locator(".hedgesim-at-date tr", has_text=power)
    return float(row.locator("td").nth(2).inner_text())


_CELL = (
    "([power, text, same]) => { const row = [...document.querySelectorAll('.hedgesim-at-date tr')]"
    ".find(r => r.innerText.includes(power)); const now = row && row.cells[2].innerText;"
    " return same ? now === text : now !== text; }"
)


def _wait_alignment(page, power: str, text: str, same: bool) -> None:
    """Wait until the table shows (or no longer shows) a value: its parts arrive one by one."""
    page.wait_for_function(_CELL, arg=[power, text, same], timeout=15_000)


def _show(page, view: str) -> None:
    """Switch the panels to a view and wait for its pictures."""
    page.locator(f"[data-view={view}]").click()
    _wait_panels(page, SMALL_VIEW if view == "small" else POWERS_VIEW)


def _check_screenshot(
    path: Path, page, viewport: dict[str, int] = VIEWPORT, panels: tuple[str, ...] = SMALL_VIEW
) -> None:
    """Not blank, and every part of the layout on screen, inside the page, with no overlaps."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (viewport["height"], viewport["width"])
    inked = (pixels < 235).any(axis=2)
    assert inked.mean() > 0.15, "the page is mostly blank"
    assert len(np.unique(pixels.reshape(-1, 3) // 8, axis=0)) > 100, "the page has too few colours"
    parts = {
        "header": ".hedgesim-header",
        "scenario choice": "[data-testid=scenario]",
        "open file": ".hedgesim-open-file",
        "knobs": ".hedgesim-left",
        "status": ".hedgesim-status",
        "actors": "[data-testid=actors] svg",
        "time slider": ".v-slider:has([data-testid=time])",
        "play": "[data-testid=play]",
        "values at the date": ".hedgesim-at-date",
        "export scenario": "button:has-text('Scenario (TOML)')",
        "export results": "button:has-text('Results (CSV)')",
        "views": "[data-view=powers]",
        **{f"panel {p}": f"[data-panel={p}] img" for p in panels},
    }
    boxes = {}
    for name, selector in parts.items():
        el = page.locator(selector).first
        assert el.is_visible(), f"{name} is not visible"
        box = el.bounding_box()
        assert box and box["width"] > 10 and box["height"] > 10, f"{name} has no size"
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1, f"{name} sticks out"
        boxes[name] = box
        if name.startswith("panel") or name == "actors":
            x, y = int(box["x"]), int(box["y"])
            crop = inked[y : y + int(box["height"]), x : x + int(box["width"])]
            assert crop.size == 0 or crop.mean() > 0.03, f"{name} is blank in the screenshot"
    cells = [b for n, b in boxes.items() if n.startswith("panel")]
    for i, a in enumerate(cells):
        for b in cells[i + 1 :]:
            overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert overlap_x <= 1 or overlap_y <= 1, "two panels overlap"
    assert page.evaluate(
        "() => [...document.querySelectorAll('[data-panel] img')].every(i => i.naturalWidth > 300)"
    )


def test_slider_event_export_and_time_in_the_browser(page, dashboard_url, tmp_path):
    _open(page, dashboard_url)
    first = tmp_path / "dashboard.png"
    page.screenshot(path=first)
    _check_screenshot(first, page)
    assert "as loaded" in page.locator(".hedgesim-status").inner_text()
    assert page.locator("[data-panel=aid]").count() == 0  # the powers' panels wait for their view

    # A slider: the US gives no aid. The aid panel is redrawn.
    _show(page, "powers")
    powers = tmp_path / "dashboard-powers.png"
    page.screenshot(path=powers)
    _check_screenshot(powers, page, panels=POWERS_VIEW)
    assert "engaged" in page.locator(".hedgesim-at-date").inner_text()
    before = _src(page, "aid")
    knob = page.locator("[role=slider][data-knob='actors.us.budget']")
    knob.focus()
    page.keyboard.press("Home")
    _wait_changed(page, "aid", before)
    page.wait_for_function("() => document.querySelector('.hedgesim-status').innerText.includes('1 change')")
    # the update's time is shown; benchmarks/dashboard_latency.py measures it (a timed test fails under load)
    assert float(page.locator("[data-testid=seconds]").inner_text()) > 0
    assert knob.get_attribute("aria-valuenow") == "0"

    # An event off: no Japan-Cambodia CSP. Cambodia's alignment toward Japan moves (down).
    _show(page, "small")
    japan_before = _alignment_on_screen(page, "Japan")
    before = _src(page, "alignment")
    page.get_by_role("tab", name=re.compile("Events")).click()
    page.locator(".hedgesim-event label", has_text=re.compile("^Japan-Cambodia CSP$")).click()
    _wait_changed(page, "alignment", before)
    page.wait_for_function("() => document.querySelector('.hedgesim-status').innerText.includes('2 changes')")
    _wait_alignment(page, "Japan", f"{japan_before:.2f}", same=False)
    japan_after = _alignment_on_screen(page, "Japan")
    assert japan_after < japan_before - 0.01

    # Export the scenario: it loads and reproduces what is on screen.
    with page.expect_download() as download:
        page.locator("button:has-text('Scenario (TOML)')").click()
    exported = tmp_path / "exported.toml"
    download.value.save_as(exported)
    sc = sim.load_scenario(exported)
    assert sc.actors["us"].budget == 0.0
    assert "Japan-Cambodia CSP" not in {e.title for e in sc.events}
    ens = sim.run(sc)
    assert round(float(np.median(ens.final("cambodia.alignment.japan"))), 2) == japan_after

    # Export the results: the CSV holds the same medians.
    with page.expect_download() as download:
        page.locator("button:has-text('Results (CSV)')").click()
    csv = tmp_path / "results.csv"
    download.value.save_as(csv)
    import pandas as pd

    table = pd.read_csv(csv)
    assert list(table.columns) == [
        "date",
        "step",
        "variable",
        "mean",
        "sd",
        "p05",
        "p25",
        "p50",
        "p75",
        "p95",
    ]
    last = table[(table.variable == "cambodia.alignment.japan") & (table.step == ens.steps)]
    assert float(last.p50.iloc[0]) == pytest.approx(float(np.median(ens.final("cambodia.alignment.japan"))))

    # Load the export back through the page: the same outcome, now as the scenario "as loaded".
    page.set_input_files("[data-testid=open-file]", exported)
    page.wait_for_function("() => document.querySelector('.hedgesim-status').innerText.includes('(changed)')")
    page.wait_for_function("() => document.querySelector('.hedgesim-status').innerText.includes('as loaded')")
    _wait_alignment(page, "Japan", f"{japan_after:.2f}", same=True)

    # Time: back to the start, play, see the picture move on by itself, pause.
    actors = page.locator("[data-testid=actors] svg")
    page.locator("[data-testid=to-start]").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=actors] svg')"
        ".getAttribute('aria-label') === 'actors at 2020Q1'"
    )
    page.locator("[data-testid=play]").click()
    page.wait_for_function(
        "() => /actors at 2020Q[34]|actors at 202[1-6]/.test("
        "document.querySelector('[data-testid=actors] svg').getAttribute('aria-label'))",
        timeout=15_000,
    )
    page.locator("[data-testid=play]").click()
    assert actors.get_attribute("aria-label") != "actors at 2020Q1"
    second = tmp_path / "dashboard-changed.png"
    page.screenshot(path=second)
    _check_screenshot(second, page)


def test_page_requests_nothing_off_localhost(page, dashboard_url, tmp_path):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    small = {"width": 1280, "height": 800}  # a common projector: the layout still fits
    page.set_viewport_size(small)
    _open(page, dashboard_url)
    shot = tmp_path / "dashboard-1280.png"
    page.screenshot(path=shot)
    _check_screenshot(shot, page, small)
    page.get_by_role("tab", name=re.compile("Events")).click()
    page.locator("[data-testid=play]").click()
    page.wait_for_timeout(1500)
    page.locator("[data-testid=play]").click()
    here = urlsplit(dashboard_url).netloc
    assert seen, "no requests were recorded"
    elsewhere = sorted(
        {u for u in seen if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != here}
    )
    assert not elsewhere, f"the page asked for something off localhost: {elsewhere}"


def _no_script_ran(page) -> None:
    page.get_by_role("tab", name=re.compile("Events")).click()
    page.wait_for_timeout(500)  # an <img onerror> fires as soon as the image fails to load
    assert page.evaluate("() => window.__xss") is None, "text from the scenario ran as script"
    assert page.locator(".hedgesim-status img, .hedgesim-event img, .hedgesim-event script").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0


def test_script_in_a_scenario_never_runs_in_the_page(page, hostile_url, tmp_path):
    """A title such as <img src=x onerror=...> shows as text, from the command line or opened."""
    from .conftest import HOSTILE

    _open(page, hostile_url)
    assert '<img src=x onerror="window.__xss=1">' in page.locator(".hedgesim-status").inner_text()
    _no_script_ran(page)
    opened = tmp_path / "opened.toml"
    opened.write_text(HOSTILE.replace("window.__xss", "window.__xss_opened"))
    page.set_input_files("[data-testid=open-file]", opened)
    page.wait_for_function(
        "() => document.querySelector('.hedgesim-status').innerText.includes('__xss_opened=1')"
    )
    _no_script_ran(page)
    assert page.evaluate("() => window.__xss_opened") is None
