"""Every kind of bad scenario ends with one line naming file, key and problem; exit code 2; no
traceback; nothing written."""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

from sim.cli import main

from .conftest import SCENARIOS

FLAGSHIP = (SCENARIOS / "csp2023.toml").read_text()


def edit(old: str, new: str) -> str:
    assert old in FLAGSHIP, old
    return FLAGSHIP.replace(old, new, 1)


def without_table(name: str) -> str:
    return re.sub(rf"\n\[actors\.{name}\].*?(?=\n\[)", "\n", FLAGSHIP, flags=re.S)


CASES = {
    # name: (file text, expected fragments of the one line: key path and problem)
    "toml syntax": (edit("runs = 500", "runs = 500 ]"), [":16:", "TOML syntax error"]),
    "unknown key": (
        edit("interest = 0.9", "interst = 0.9"),
        ["actors.china.interst", "did you mean 'interest'"],
    ),
    "unknown table": (FLAGSHIP + "\n[extras]\nx = 1\n", ["extras", "unknown table"]),
    "wrong type": (edit("budget = 235.0", 'budget = "lots"'), ["actors.china.budget", 'found "lots"']),
    "boolean for number": (edit("budget = 235.0", "budget = true"), ["actors.china.budget", "found true"]),
    "out of range": (
        edit("interest = 0.9", "interest = 1.9"),
        ["actors.china.interest", "from 0 to 1", "1.9"],
    ),
    "negative runs": (edit("runs = 500", "runs = -5"), ["scenario.runs", ">= 1"]),
    "nan": (edit("interest = 0.9", "interest = nan"), ["actors.china.interest", "finite"]),
    "infinite": (edit("budget = 235.0", "budget = inf"), ["actors.china.budget", "finite"]),
    "nan in a distribution": (
        edit("inertia = { low = 0.15, high = 0.25 }", "inertia = { low = nan, high = 0.25 }"),
        ["parameters.inertia", "finite"],
    ),
    "unknown actor in event": (edit('power = "japan"', 'power = "korea"'), ["events[2].power", "'korea'"]),
    "small state as event power": (
        edit('power = "japan"', 'power = "cambodia"'),
        ["events[2].power", "small state"],
    ),
    "unknown actor in tension": (
        edit("china-us = 0.5", "china-korea = 0.5"),
        ["tension.china-korea", "'korea'"],
    ),
    "unknown shock target": (
        edit('target = "tension.cambodia-us"', 'target = "tension.cambodia-mars"'),
        ["events[0].target", "tension"],
    ),
    "event outside horizon": (
        edit('date = "2026-01"', 'date = "2027-01"'),
        ["events[17].date", "outside the horizon"],
    ),
    "bad date": (edit('start = "2020Q1"', 'start = "2020Q5"'), ["scenario.start", '"2023Q3"']),
    "end before start": (edit('end = "2026Q4"', 'end = "2019Q4"'), ["scenario.end", "after start"]),
    "duplicate actor": (FLAGSHIP + '\n[actors.china]\nrole = "great_power"\n', ["Cannot declare", "twice"]),
    "duplicate dyad": (edit("china-us = 0.5", "china-us = 0.5\nus-china = 0.4"), ["given twice"]),
    "no small state": (without_table("cambodia"), ["actors", "no small state"]),
    "no power": (without_table("china").replace("[actors.japan]", "[actors.x]"), ["actors"]),
    "one power only": (
        re.sub(r"\n\[actors\.(japan|us)\].*?(?=\n\[)", "\n", FLAGSHIP, flags=re.S),
        ["actors", 'expected at least two actors with role = "great_power", found 1'],
    ),
    "shares do not sum to 1": (
        edit(
            "alignment.security = { china = 0.55, japan = 0.25, us = 0.20 }",
            "alignment.security = { china = 0.55, japan = 0.25, us = 0.30 }",
        ),
        ["actors.cambodia.alignment.security", "sum to 1"],
    ),
    "unknown event kind": (edit('kind = "port_call"', 'kind = "port_cal"'), ["events[2].kind", "port_cal"]),
    "bad tier": (edit("tier = 1\n", "tier = 4\n"), ["events[4].tier", "found 4"]),
    "inverted range": (
        edit("inertia = { low = 0.15, high = 0.25 }", "inertia = { low = 0.35, high = 0.25 }"),
        ["parameters.inertia", "low <= high"],
    ),
    "unknown distribution": (
        edit("inertia = { low = 0.15, high = 0.25 }", "inertia = { min = 0.1 }"),
        ["parameters.inertia", "distribution"],
    ),
    "bad actor id": (
        FLAGSHIP.replace("actors.us]", "actors.US]").replace("us = ", "US = "),
        ["actors.US", "lowercase"],
    ),
    "400-digit integer": (
        edit("budget = 235.0", f"budget = {'9' * 400}"),
        ["actors.china.budget", "400-digit"],
    ),
    "5000-digit integer": (
        edit("runs = 500", f"runs = {'9' * 5000}"),
        [":16:", "scenario.runs", "thousands of digits"],
    ),
    "nesting 3,000 deep": (
        edit("[parameters]", "[parameters]\nx = " + "[" * 3000 + "]" * 3000),
        ["parameters.x", "nested too deeply"],
    ),
    "nesting 3,000 deep inline": (
        edit("[parameters]", "[parameters]\nx = " + "{a = " * 3000 + "1" + "}" * 3000),
        ["parameters.x", "nested too deeply"],
    ),
    "NUL in extends": (
        edit("runs = 500", 'runs = 500\nextends = "a\\u0000b.toml"'),
        ["scenario.extends", "NUL"],
    ),
    "extends name too long": (
        edit("runs = 500", f'runs = 500\nextends = "{"a" * 5000}.toml"'),
        ["scenario.extends", "too long"],
    ),
    # strict types: no text -> number, boolean -> number or float -> whole number coercion
    "runs as text": (edit("runs = 500", 'runs = "5"'), ["scenario.runs", 'found "5" (text)']),
    "runs as float": (edit("runs = 500", "runs = 5.0"), ["scenario.runs", "whole number", "5.0"]),
    "seed as text": (edit("seed = 20231216", 'seed = "1"'), ["scenario.seed", 'found "1" (text)']),
    "tier as boolean": (
        edit("tier = { china = 1,", "tier = { china = true,"),
        ["actors.cambodia.tier.china", "expected 1, 2 or 3, found true (a boolean)"],
    ),
    "event tier as boolean": (edit("tier = 1\n", "tier = true\n"), ["events[4].tier", "found true"]),
    "duration as text": (
        FLAGSHIP
        + '\n[[events]]\nkind = "aid"\npower = "japan"\ndate = "2021Q1"\ntitle = "x"\nduration = "16"\n',
        ["events[18].duration", 'found "16" (text)'],
    ),
    "duration as float": (
        FLAGSHIP
        + '\n[[events]]\nkind = "aid"\npower = "japan"\ndate = "2021Q1"\ntitle = "x"\nduration = 16.0\n',
        ["events[18].duration", "whole number"],
    ),
    "newline in a value": (
        edit("budget = 235.0", 'budget = """lots\nof money"""'),
        ["actors.china.budget", "lots\\nof money"],
    ),
    "newline in a key": (edit("runs = 500", 'runs = 500\n"a\\nb" = 1'), ["scenario.a\\nb: unknown key"]),
    "empty file": ("", ["is empty"]),
    "blank file": ("\n  \n", ["is empty"]),
    "not text": (b"\xff\xfe\x00", ["not UTF-8"]),
}


def run_cli(args, cwd):
    """Invoke the CLI in-process, from an empty working folder inside ``cwd``."""
    work = cwd / "work"
    work.mkdir(exist_ok=True)
    here = os.getcwd()
    os.chdir(work)
    try:
        res = CliRunner().invoke(main, args)
    finally:
        os.chdir(here)
    res.leftovers = sorted(p.name for p in work.iterdir())
    return res


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_gives_one_line_and_exit_2(tmp_path, case):
    text, fragments = CASES[case]
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    res = run_cli(["run", str(path), "--out", str(out)], tmp_path)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert "Traceback" not in res.output
    assert lines[0].startswith(f"hedgesim: {path}")  # the file comes first
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    assert not out.exists()  # nothing written
    assert res.leftovers == []  # no results/ folder, no temporary folders


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_missing_file_or_directory(tmp_path, what):
    path = tmp_path / ("nothere.toml" if what == "missing" else "adir")
    if what == "directory":
        path.mkdir()
    res = run_cli(["run", str(path), "--out", str(tmp_path / "out")], tmp_path)
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and str(path) in res.output
    assert ("no such file" if what == "missing" else "is a directory") in res.output
    assert not (tmp_path / "out").exists()


def test_unreadable_file(tmp_path, monkeypatch):
    """Root reads any file, so permission is simulated: the error is reported, not raised."""
    from pathlib import Path

    path = tmp_path / "locked.toml"
    path.write_text(FLAGSHIP)

    opened = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    res = run_cli(["run", str(path)], tmp_path)
    assert res.exit_code == 2 and "cannot be read (Permission denied)" in res.output


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ("inertia=2", "--set inertia: expected a number from 0 to 1"),
        ("inertai=0.2", "--set inertai: unknown key (did you mean 'inertia'?)"),
        ("actors.japan.budget=-1", "--set actors.japan.budget: expected a number from 0"),
        ("novalue", "expected key=value"),
        ("scenario.runs=0", "--set scenario.runs: expected a value >= 1"),
        (f"inertia={'9' * 400}", "--set inertia: expected a number from 0 to 1, found a 400-digit number"),
        (f"inertia={'9' * 5000}", "--set: inertia: expected a number, found one with thousands of digits"),
        (f"inertia={'[' * 3000}{']' * 3000}", "--set: inertia: a value nested too deeply"),
        # read with the file: a change after reading would be ignored, so it is refused
        ("scenario.extends=no_csp.toml", "--set scenario.extends: is read with the file and cannot be set"),
        ('scenario.drop_events=["Ream"]', "--set scenario.drop_events: is read with the file"),
        ("scenario.parameters_file=p.toml", "--set scenario.parameters_file: is read with the file"),
    ],
)
def test_bad_override(tmp_path, setting, fragment):
    res = run_cli(
        ["run", str(SCENARIOS / "csp2023.toml"), "--set", setting, "--out", str(tmp_path / "o")], tmp_path
    )
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert fragment in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "drop, fragment",
    [
        (
            '"Ream naval base access; CSP"',
            'scenario.drop_events: expected a list of event titles (["A", "B"]), found',
        ),
        ('"Ream"', "scenario.drop_events: expected a list of event titles"),
        ("[1]", "scenario.drop_events[0]: expected an event title (text), found 1"),
    ],
)
def test_drop_events_must_be_a_list_of_titles(tmp_path, drop, fragment):
    """A string is refused, never used as a substring match over the titles."""
    path = tmp_path / "cf.toml"
    path.write_text(f'[scenario]\nextends = "{SCENARIOS / "csp2023.toml"}"\ndrop_events = {drop}\n')
    res = run_cli(["validate", str(path)], tmp_path)
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert fragment in res.output


def test_bad_extends(tmp_path):
    (tmp_path / "a.toml").write_text('[scenario]\nextends = "nothere.toml"\n')
    res = run_cli(["run", str(tmp_path / "a.toml")], tmp_path)
    assert res.exit_code == 2 and "scenario.extends: no such scenario file 'nothere.toml'" in res.output
    (tmp_path / "b.toml").write_text(
        f'[scenario]\nextends = "{SCENARIOS / "csp2023.toml"}"\ndrop_events = ["nope"]\n'
    )
    res = run_cli(["run", str(tmp_path / "b.toml")], tmp_path)
    assert res.exit_code == 2 and "has no event titled 'nope'" in res.output
    (tmp_path / "c.toml").write_text('[scenario]\nextends = "c.toml"\n')
    res = run_cli(["run", str(tmp_path / "c.toml")], tmp_path)
    assert res.exit_code == 2 and "extends itself" in res.output


def test_out_that_cannot_be_made_gives_one_line(tmp_path, monkeypatch):
    """--out below a file, with a name too long for the file system, on a read-only file system."""
    import errno
    from pathlib import Path

    (tmp_path / "afile").write_text("x")
    cases = {
        "below a file": (tmp_path / "afile" / "out", "afile is a file, not a folder"),
        "name too long": (tmp_path / ("x" * 300), "File name too long"),
        "read-only": (tmp_path / "ro" / "out", "Read-only file system"),
    }
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):  # root writes anywhere: a read-only mount is simulated
        if "ro" in self.parts:
            raise OSError(errno.EROFS, "Read-only file system")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    for command in (
        ["run", str(SCENARIOS / "csp2023.toml")],
        ["compare", *[str(SCENARIOS / "csp2023.toml")] * 2],
    ):
        for name, (out, reason) in cases.items():
            res = run_cli([*command, "--runs", "3", "-q", "--out", str(out)], tmp_path)
            assert res.exit_code == 2, (name, res.output)
            assert res.output.count("\n") == 1 and "Traceback" not in res.output, res.output
            assert str(out) in res.output and reason in res.output and "--out" in res.output, res.output
            assert res.leftovers == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "work"]


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("default_out", [True, False])
def test_full_disk_while_writing_gives_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, command, default_out
):
    import errno

    import pandas as pd

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    args = [command, str(SCENARIOS / "csp2023.toml")] + (
        [str(SCENARIOS / "no_csp.toml")] if command == "compare" else []
    )
    args += ["--runs", "3", "-q", "--no-figures"] + (
        [] if default_out else ["--out", str(tmp_path / "work" / "o")]
    )
    res = run_cli(args, tmp_path)
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert "No space left on device" in res.output and "nothing was written" in res.output
    assert (
        res.leftovers == []
        or res.leftovers == ["results"]
        and not any((tmp_path / "work/results").rglob("*.*"))
    )


@pytest.mark.parametrize("what", ["huge", "endless"])
def test_a_file_too_large_to_be_a_scenario_is_refused_unread(tmp_path, what):
    """A file of megabytes (or a device that never ends) is not read whole into memory."""
    if what == "endless":
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path = "/dev/zero"
    else:
        path = tmp_path / "huge.toml"
        path.write_text(FLAGSHIP + "# filler\n" * 600_000)
    res = run_cli(["describe", str(path)], tmp_path)
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and str(path) in res.output and "larger than" in res.output
