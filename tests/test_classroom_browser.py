"""The classroom game in real browsers: a teacher and four teams, each in its own Chromium context.

One game, played through the pages only: three rounds, one team late in the second (the timer
runs out and the model decides for it), a laptop closed and opened again mid-round, the third
round undone and played again, the debrief drawn and the game exported; the exported scenario,
run again, gives the numbers the pages showed. Every request that the pages make to anything but
the app itself fails the test. Chromium is Debian's (tests/test_dashboard_browser.py says how it
is found).
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

pytest.importorskip("solara")
pytest.importorskip("playwright")

from playwright.sync_api import expect  # noqa: E402

import sim  # noqa: E402

# Debian's Chromium with the same flags as the dashboard's browser tests (a session fixture)
from .test_dashboard_browser import browser_type_launch_args  # noqa: E402, F401

TIMER = 6  # seconds: short, so that the late team's round does not hold the test up
RUNS = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``hedgesim classroom csp2023`` on a free port of 127.0.0.1: (base url, teacher url, code)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tmp_path_factory.mktemp("classroom")
    scenario = sim.bundled_scenarios()["csp2023"]
    args = ["classroom", str(scenario), "--port", str(port), "--timer", str(TIMER), "--runs", str(RUNS)]
    log = open(cwd / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while True:
        text = (cwd / "server.log").read_text()
        teacher = re.search(r"teacher:\s+(\S+)", text)
        if teacher:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError(f"classroom did not start:\n{text}")
        time.sleep(0.2)
    code = re.search(r"join code (\w+)", text)[1]
    yield f"http://127.0.0.1:{port}/", teacher[1], code
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


class Outside:
    """Every request for anything but the app's own address, refused and remembered."""

    def __init__(self, base: str):
        self.netloc, self.seen = urlsplit(base).netloc, []

    def __call__(self, route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.netloc or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.seen.append(url)
            route.abort()


@pytest.fixture
def contexts(browser):
    """The browser contexts a test opens, closed when it ends: the page of a stopped server keeps
    trying to reconnect, and would take the cores from the tests after it."""
    opened = []
    yield opened
    for context in opened:
        context.close()


def _page(contexts: list, browser, outside: Outside, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    contexts.append(context)
    context.route("**/*", outside)
    page = context.new_page()
    page.goto(url)
    return page


def _choose(page, field: str, value: str) -> None:
    page.locator(f"[data-field={field}]").get_by_role("button", name=value, exact=True).click()


def _round(page, n: int, timeout: int = 30_000) -> None:
    page.locator(f"[data-testid=status][data-round='{n}']").wait_for(timeout=timeout)


def _cell(page, round_: int) -> str:
    return page.locator("[data-testid=results] tr").nth(round_).inner_text()


def test_a_class_plays_three_rounds(browser, contexts, server, tmp_path):
    base, teacher_url, code = server
    outside = Outside(base)
    teacher = _page(contexts, browser, outside, teacher_url)
    teacher.locator("[data-testid=code]").wait_for(timeout=60_000)
    assert teacher.locator("[data-testid=code]").inner_text() == code
    assert f"?code={code}" in teacher.locator("[data-testid=link]").inner_text()

    # four teams join through the students' link; a wrong code is refused in one line
    teams = {}
    for role in ("china", "japan", "us", "cambodia"):
        page = _page(contexts, browser, outside, f"{base}?code={code if role != 'us' else 'WRONG1'}")
        page.locator(f"[data-role={role}]").click()
        if role == "us":
            assert "join code: not this class's code" in page.locator("[data-testid=error]").inner_text()
            page.get_by_label("Join code").fill(code)
            page.locator(f"[data-role={role}]").click()
        page.locator("[data-testid=submit]").wait_for(timeout=30_000)
        assert "team=" in page.url
        teams[role] = page
    token = {r: p.url.split("team=")[1] for r, p in teams.items()}
    # a team joined is closed to the code: another student cannot take it over and read its choice
    late = _page(contexts, browser, outside, f"{base}?code={code}")
    late.locator("[data-role=china]").wait_for(timeout=30_000)
    assert late.locator("[data-role=china]").is_disabled()
    assert f"team={token['china']}" in teams["china"].locator("[data-testid=team-link]").inner_text()

    # a team cannot act for another or step: its page has no teacher's controls, and a team token
    # in the teacher's address opens no teacher's page
    assert teams["us"].locator("[data-testid=step]").count() == 0
    intruder = _page(contexts, browser, outside, f"{base}?teacher={token['us']}")
    intruder.locator("[data-testid=error]").wait_for(timeout=30_000)
    assert intruder.locator("[data-testid=step], [data-testid=undo]").count() == 0

    def play(n: int, late: str | None = None) -> None:
        """Round n: every team but ``late`` submits while the timer is paused, then it starts."""
        _choose(teams["china"], "presence", "expand")
        _choose(teams["japan"], "offer", "yes")
        _choose(teams["us"], "governance", "criticise")
        _choose(teams["us"], "aid", "0.75")
        _choose(teams["cambodia"], "framework", "Japan")
        for role, page in teams.items():
            if role != late:
                page.locator("[data-testid=submit]").click()
                page.locator("[data-testid=message].ok").wait_for()
        teacher.locator("[data-testid=teams]").get_by_text("submitted").nth(2 if late else 3).wait_for()
        if n == 2:  # Japan's laptop is closed and opened again: the same team, its choice selected
            url = teams["japan"].url
            teams["japan"].context.close()
            teams["japan"] = _page(contexts, browser, outside, url)
            teams["japan"].locator("[data-field=offer] .v-btn--active", has_text="yes").wait_for(
                timeout=30_000
            )
            assert "Japan" in teams["japan"].locator("h1").inner_text()
        teacher.locator("[data-testid=pause]").click()  # start the timer: the round closes
        for page in (teacher, *teams.values()):
            _round(page, n + 1, timeout=(TIMER + 30) * 1000)
        teacher.locator("[data-testid=status]", has_text="paused").wait_for()  # the next waits

    play(1)
    # a bad submission leaves the server up and says what is wrong, in one line
    _choose(teams["china"], "aid", "1.5")
    teams["china"].locator("[data-testid=submit]").click()
    assert (
        "China: aid: x1.5 would commit" in teams["china"].locator("[data-testid=message].error").inner_text()
    )
    _choose(teams["china"], "aid", "1")
    play(2, late="cambodia")
    assert "the model for Cambodia (late)" in _cell(teacher, 2)
    play(3)
    third = _cell(teacher, 3)

    # undo the third round, then play it again: the same choices give the same numbers
    teacher.locator("[data-testid=undo]").click()
    for page in (teacher, *teams.values()):
        _round(page, 3)
    # header and two rounds; the table may be redrawn a moment after the status line, so wait
    expect(teacher.locator("[data-testid=results] tr")).to_have_count(3)
    play(3)
    assert _cell(teacher, 3) == third
    assert _cell(teams["japan"], 3) == third  # every page shows the same outcome

    # the debrief, and the export that reproduces it
    teacher.locator("[data-testid=debrief]").click()
    teacher.locator("[data-testid=debrief-figure] img").wait_for(timeout=60_000)
    teacher.screenshot(path=str(tmp_path / "debrief.png"), full_page=True)
    with teacher.expect_download() as got:
        teacher.get_by_text("Game as a scenario (TOML)").click()
    exported = tmp_path / "game.toml"
    got.value.save_as(exported)
    with teacher.expect_download() as got:
        teacher.get_by_text("Results (CSV)").click()
    csv = got.value.path().read_text()
    again = sim.run(sim.load_scenario(exported), progress=False)
    assert (again.runs, again.dates[-1]) == (RUNS, "2020Q4")
    assert again.summary().to_csv(index=False) == csv
    table = teacher.locator("[data-testid=debrief-table]").inner_text()
    row = next(line for line in table.splitlines() if line.startswith("alignment toward Japan"))
    shown = float(row.split("\t")[1])
    assert shown == pytest.approx(float(again.quantiles("cambodia.alignment.japan")[2, -1]), abs=5e-4)
    png = teacher.locator("[data-testid=debrief-figure] img").screenshot()
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size[0] > 400
    assert np.isfinite(again.values("cambodia.hedging_index")).all()
    assert outside.seen == [], f"requests not served by the app: {outside.seen[:3]}"
