"""How long the dashboard takes to show a change: prints figures, asserts nothing.

1. In process: the update behind every slider move or event switch (run 200 runs, draw the six
   panels of the view on screen, here the powers' view with the aid panel), for a series of US
   aid budgets.
2. In the browser (when /usr/bin/chromium exists): from a key press on the slider to the new
   picture in the page, through the web socket, with `hedgesim dashboard` on localhost.

    .venv/bin/python benchmarks/dashboard_latency.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def in_process(n: int = 20) -> list[float]:
    import sim
    from sim.dashboard import app, charts
    from sim.dashboard.setting import Setting
    from sim.scenario import bundled_scenarios

    setting = Setting(sim.load_scenario(bundled_scenarios()["csp2023"]))
    panels = charts.canvases(app.baseline(setting))
    app.compute(setting, panels, "powers")  # warm: imports, first drawing of each frame
    times = []
    for k in range(n):
        changed = setting.with_value("actors.us.budget", float(k * 5 % 110))
        t0 = time.perf_counter()
        app.compute(changed, panels, "powers")
        times.append(time.perf_counter() - t0)
    return times


def in_browser(n: int = 10) -> tuple[list[float], list[float]] | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tempfile.mkdtemp(prefix="hedgesim-bench-")
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port), "--no-browser"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        flags = "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
        flags += " --disable-sync --no-first-run"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags.split())
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("[data-view=powers]").wait_for(timeout=60_000)
            page.locator("[data-view=powers]").click()
            page.locator("[data-panel=aid] img").wait_for(timeout=60_000)
            knob = page.locator("[role=slider][data-knob='actors.us.budget']")
            wall, server_side = [], []
            for k in range(n):
                before = page.locator("[data-panel=aid] img").get_attribute("src")
                knob.focus()
                t0 = time.perf_counter()
                page.keyboard.press("ArrowLeft" if k % 2 == 0 else "ArrowRight")
                page.wait_for_function(
                    "b => document.querySelector('[data-panel=aid] img').getAttribute('src') !== b",
                    arg=before,
                    timeout=15_000,
                )
                wall.append(time.perf_counter() - t0)
                server_side.append(float(page.locator("[data-testid=seconds]").inner_text()))
            browser.close()
        return wall, server_side
    finally:
        server.terminate()
        server.wait(timeout=20)


def show(label: str, xs: list[float]) -> None:
    xs = sorted(xs)
    print(
        f"{label:<48} median {statistics.median(xs):.3f} s  max {xs[-1]:.3f} s  (n={len(xs)})",
        flush=True,
    )


def main() -> None:
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    show("update in process (200 runs, 6 panels of a view)", in_process())
    measured = in_browser()
    if measured is None:
        print("browser: /usr/bin/chromium not found, skipped")
        return
    wall, server_side = measured
    show("update on the server, as the page reports it", server_side)
    show("key press to new picture in the browser", wall)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
