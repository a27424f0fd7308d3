"""Start the dashboard's web server on localhost, offline.

Solara's server is started directly with uvicorn (as ``solara run`` does) so that nothing is asked
of the internet: no version check against PyPI, no usage statistics, and every script, style
sheet and font comes from the installed ``solara-assets`` package, not from a CDN.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import webbrowser

from sim.errors import HedgesimError

#: Environment for an offline Solara: no telemetry, production assets. The assets proxy stays on:
#: it is what serves the files of solara-assets from this server (off, the page asks the CDN).
OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_MODE": "production",
    "SOLARA_THEME_SHOW_BANNER": "False",
}


class DashboardError(HedgesimError):
    """The dashboard cannot start (a port in use, a missing package)."""


def check_address(host: str, port: int) -> None:
    """Fail with one line when the port is out of range or already taken."""
    if not 1 <= port <= 65535:
        raise DashboardError(f"--port: expected a port from 1 to 65535, found {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise DashboardError(f"--host: cannot use {host!r} (unknown host)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as err:
            raise DashboardError(
                f"--port: cannot listen on {host}:{port} ({err.strerror}); try another --port"
            ) from None


def serve(scenario: str | None, host: str, port: int, open_browser: bool = True) -> None:
    """Run the dashboard until interrupted. ``scenario``: a file to open first (default csp2023)."""
    from importlib.util import find_spec

    if find_spec("solara") is None or find_spec("uvicorn") is None:
        raise DashboardError("the dashboard needs its extra packages: pip install 'hedgesim[dashboard]'")
    check_address(host, port)
    for key, value in OFFLINE_ENV.items():  # before Solara reads its settings, at import
        os.environ.setdefault(key, value)
    if scenario is not None:
        os.environ["HEDGESIM_DASHBOARD_SCENARIO"] = os.path.abspath(scenario)
    else:
        os.environ.pop("HEDGESIM_DASHBOARD_SCENARIO", None)
    os.environ["SOLARA_APP"] = "sim.dashboard.app"
    import warnings

    import uvicorn
    from solara.server import settings

    # plain http on localhost: Solara warns, at every page load, that cookies fall back to samesite=lax
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning")
    server = _quiet_server(uvicorn.Server)(config)
    print(f"hedgesim dashboard on {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Thread(target=_open_when_up, args=(server, url), daemon=True).start()
    server.run()
    print("hedgesim dashboard stopped", flush=True)


def _quiet_server(base: type) -> type:
    """uvicorn's Server, stopped by Ctrl-C or SIGTERM without re-raising the signal afterwards
    (which ends in a traceback from the app's lifespan); a second Ctrl-C forces the exit."""

    class Server(base):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def capture_signals(self):  # noqa: ANN202 (uvicorn's signature)
            def stop(*_: object) -> None:
                if self.should_exit:
                    self.force_exit = True
                self.should_exit = True

            signals = (signal.SIGINT, signal.SIGTERM)
            old = {s: signal.signal(s, stop) for s in signals}
            try:
                yield
            finally:
                for s, handler in old.items():
                    signal.signal(s, handler)

    return Server


def _open_when_up(server: object, url: str) -> None:
    import time

    for _ in range(300):
        if getattr(server, "started", False):
            webbrowser.open(url)
            return
        time.sleep(0.1)
