"""Start the classroom's game server: one game, Solara's pages, offline, on localhost by default.

The server is the dashboard's (:mod:`sim.dashboard.server`: uvicorn, Solara in production mode, no
telemetry, every file from the installed ``solara-assets``), with the game's pages as the app. A
thread closes a round when its timer runs out.
"""

from __future__ import annotations

import os
import threading
import warnings

from sim.classroom.game import Game, set_current
from sim.dashboard.server import OFFLINE_ENV, DashboardError, _quiet_server, check_address

#: Seconds between two looks at the round's timer.
TICK = 0.25


def address(host: str, port: int) -> str:
    """The address students type: this machine's name on the network when it listens on all."""
    import socket

    if host in ("0.0.0.0", "::"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = socket.gethostname()
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"


def serve(game: Game, host: str, port: int) -> None:
    """Run the game's server until interrupted."""
    from importlib.util import find_spec

    if find_spec("solara") is None or find_spec("uvicorn") is None:
        raise DashboardError(
            "the classroom needs the dashboard's packages: pip install 'hedgesim[dashboard]'"
        )
    check_address(host, port)
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["SOLARA_APP"] = "sim.classroom.app"
    import uvicorn
    from solara.server import settings

    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    game.address = address(host, port)
    set_current(game)
    game.briefing(game.small)  # the first ensemble, before the first page asks for it
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(TICK):
            try:
                game.tick()
            except Exception as err:  # noqa: BLE001 (a bad round must not stop the timer thread)
                print(f"hedgesim classroom: {err}", flush=True)

    threading.Thread(target=ticker, daemon=True).start()
    local = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    print(f"hedgesim classroom on {local}  (Ctrl-C to stop)", flush=True)
    print(f"students: {game.address}?code={game.join_code}  (join code {game.join_code})", flush=True)
    print(f"teacher:  {local}?teacher={game.teacher_token}", flush=True)
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning")
    _quiet_server(uvicorn.Server)(config).run()
    stop.set()
    print("hedgesim classroom stopped", flush=True)
