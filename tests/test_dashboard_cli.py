"""``hedgesim dashboard``: bad input ends in one line and exit code 2, before any server starts."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sim.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["dashboard", *args])


def test_missing_scenario_file_is_one_line_and_exit_2(tmp_path):
    result = _run(str(tmp_path / "nope.toml"), "--no-browser")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "nope.toml: no such file" in result.output


def test_a_bad_scenario_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 3\n")
    result = _run(str(bad), "--no-browser")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "bad.toml" in result.output


@pytest.mark.parametrize("port", ["0", "70000", "http", "-1"])
def test_a_bad_port_is_one_line_and_exit_2(port):
    result = _run("--port", port, "--no-browser")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "--port" in result.output


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = _run("--port", str(port), "--no-browser")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "another --port" in result.output


def test_help_names_the_dashboard_and_does_not_import_solara():
    code = (
        "import sys; from click.testing import CliRunner; from sim.cli import main; "
        "r = CliRunner().invoke(main, ['dashboard', '--help']); print(r.output); "
        "print('solara loaded' if 'solara' in sys.modules else 'solara not loaded')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--port" in out and "--host" in out and "127.0.0.1" in out
    assert "solara not loaded" in out


@pytest.mark.slow
def test_ctrl_c_stops_the_server_cleanly(tmp_path):
    pytest.importorskip("solara")
    import signal
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port), "--no-browser"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out and "stopped" in out
    assert "Traceback" not in out
