"""How long a class waits for a round: prints figures, asserts nothing. Loopback only.

Target (issue "The classroom game"): with 30 connected clients, a round closes and every page
shows the new quarter within 1 s of the last submission.

1. In process: 30 client threads wait on the game as the pages do (:meth:`Game.wait`), and each,
   once woken, builds what its page shows (the briefing and the outcomes); the time from the last
   team's submission to the last client ready, for several rounds.
2. In the browser (when /usr/bin/chromium exists): ``hedgesim classroom`` on 127.0.0.1, 30 pages
   in one headless Chromium (seven or eight students per team, and the teacher); every team
   submits, and the time from the last team's click to the moment the last page shows the new
   round (each page notes that moment itself, with a MutationObserver, on the machine's clock),
   and to the moment the server drew the last page (the status line's ``data-drawn``).

    .venv/bin/python benchmarks/classroom_latency.py [--clients 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def in_process(clients: int, rounds: int) -> list[float]:
    import sim
    from sim.classroom.app import _briefing
    from sim.classroom.game import Game

    game = Game(sim.load_scenario(sim.bundled_scenarios()["csp2023"]), timer=0)
    tokens = {r: game.join(game.join_code, r) for r in game.roles}
    game.briefing(game.small)  # warm: imports and the first ensemble
    out = []
    for _ in range(rounds):
        n = len(game.rounds)
        ready: list[float] = []
        lock = threading.Lock()

        def page(role: str, n: int = n, ready: list[float] = ready, lock: threading.Lock = lock) -> None:
            version = game.public
            for _ in range(100):  # bounded: 100 wake-ups at most
                version = game.wait(version, 5.0, public=True)
                if len(game.rounds) > n:
                    break
            _briefing(game, game.briefing(role))
            [r.bands for r in game.rounds]
            with lock:
                ready.append(time.perf_counter())

        threads = [
            threading.Thread(target=page, args=(game.roles[k % len(game.roles)],)) for k in range(clients)
        ]
        for t in threads:
            t.start()
        game.pause(game.teacher_token, False)  # the teacher starts the round
        for role in game.roles[:-1]:
            game.submit(tokens[role], {})
        t0 = time.perf_counter()
        game.submit(tokens[game.roles[-1]], {})  # the last submission closes the round
        for t in threads:
            t.join(timeout=30)
        out.append(max(ready) - t0)
    return out


#: In a page: note the time (ms since the epoch, the machine's clock) when the status shows round n.
WATCH = """n => {
  window.__shown = null;
  const seen = () => document.querySelector(`[data-testid=status][data-round='${n}']`);
  const check = () => { if (window.__shown === null && seen()) window.__shown = Date.now(); };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
  check();
}"""


def in_browser(clients: int, rounds: int) -> list[tuple[float, float]] | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tempfile.mkdtemp(prefix="hedgesim-bench-")
    log = Path(cwd) / "server.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "classroom",
            "scenarios/csp2023.toml",
            "--port",
            str(port),
            "--timer",
            "0",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            text = log.read_text()
            if "teacher:" in text:
                break
            time.sleep(0.1)
        teacher_url = re.search(r"teacher:\s+(\S+)", text)[1]
        code = re.search(r"join code (\w+)", text)[1]
        base = f"http://127.0.0.1:{port}/"
        flags = "--no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
        out = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=flags.split())
            teacher = browser.new_context().new_page()
            teacher.goto(teacher_url)
            teacher.locator("[data-testid=code]").wait_for(timeout=120_000)
            roles = ["china", "japan", "us", "cambodia"]
            first: dict[str, object] = {}
            pages = [teacher]
            for k in range(clients - 1):
                role = roles[k % len(roles)]
                page = browser.new_context().new_page()
                if role not in first:
                    page.goto(f"{base}?code={code}")
                    page.locator(f"[data-role={role}]").click()
                    page.locator("[data-testid=submit]").wait_for(timeout=120_000)
                    first[role] = page
                else:
                    page.goto(first[role].url)  # another student of the same team
                    page.locator("[data-testid=submit]").wait_for(timeout=120_000)
                pages.append(page)
            for n in range(1, rounds + 1):
                teacher.locator("[data-testid=pause]").click()  # the teacher starts the round
                teacher.locator("[data-testid=status]", has_text="paused").wait_for(state="detached")
                for role in roles[:-1]:
                    first[role].locator("[data-testid=submit]").click()
                    first[role].locator("[data-testid=message]").wait_for(timeout=30_000)
                teacher.locator("[data-testid=teams]").get_by_text("submitted").nth(2).wait_for(
                    timeout=30_000
                )
                for page in pages:  # each page notes the moment it shows the new round
                    page.evaluate(WATCH, n + 1)
                t0 = time.time() * 1000
                first[roles[-1]].locator("[data-testid=submit]").click()  # the last submission
                for page in pages:
                    page.locator(f"[data-testid=status][data-round='{n + 1}']").wait_for(timeout=60_000)
                shown = [page.evaluate("window.__shown") for page in pages]
                drawn = [
                    float(page.locator("[data-testid=status]").get_attribute("data-drawn")) for page in pages
                ]
                out.append(((max(shown) - t0) / 1000, max(drawn) - t0 / 1000))
            browser.close()
        return out
    finally:
        server.terminate()
        server.wait(timeout=20)


def show(label: str, xs: list[float]) -> None:
    print(f"{label:<60} median {statistics.median(xs):.3f} s  max {max(xs):.3f} s  (n={len(xs)})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    show(
        f"in process: last submission to {args.clients} clients ready", in_process(args.clients, args.rounds)
    )
    measured = in_browser(args.clients, args.rounds)
    if measured is None:
        print("browser: /usr/bin/chromium not found, skipped")
        return
    show(f"browser: last submission to {args.clients} pages on the new round", [m[0] for m in measured])
    show("  of which: to the server's last page drawn", [m[1] for m in measured])
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
