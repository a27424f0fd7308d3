"""Every command in the documentation works as written on a fresh clone: no bare ``hedgesim``
(not on PATH until the venv is activated), options that exist, scenario files that exist."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from sim.cli import main

from .conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "results" / "README.md"]
SUBCOMMANDS = sorted(main.commands)
#: Placeholders that stand for a user's own value in the docs.
PLACEHOLDERS = {"FILE", "FILE.toml", "my.toml", "SCENARIO", "tcp://<host>:8786", "tcp://scheduler:8786"}


def code(path) -> list[str]:
    """Code spans and the lines of code blocks in a Markdown file."""
    text = path.read_text()
    lines = [
        ln for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S) for ln in block.splitlines()
    ]
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return lines + re.findall(r"`([^`\n]+)`", text.replace("\n", " "))


def commands(path) -> list[str]:
    """hedgesim commands with arguments (a bare `hedgesim run` in a sentence names the command)."""
    pattern = rf"(?:^|\s)((?:\S*/)?hedgesim (?:{'|'.join(SUBCOMMANDS)})\b[^#]*)"
    return [m.strip() for snippet in code(path) for m in re.findall(pattern, snippet)]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_commands_run_as_written(path):
    for command in commands(path):
        argv = shlex.split(command)
        argv = argv[: next((i for i, a in enumerate(argv) if a in (">", "|", "&&", ";")), len(argv))]
        if argv[0] == "hedgesim" and len(argv) > 2:
            pytest.fail(f"{path.name}: `{command}` needs `.venv/bin/hedgesim` (hedgesim is not on PATH)")
        if argv[0] != ".venv/bin/hedgesim":
            continue
        try:
            ctx = main.make_context("hedgesim", argv[1:])
            name, sub, rest = main.resolve_command(ctx, argv[1:])
            sub.make_context(name, rest, parent=ctx)
        except click.UsageError as err:
            pytest.fail(f"{path.name}: `{command}`: {err}")
        for arg in rest:
            if arg.endswith(".toml") and "/" in arg and arg not in PLACEHOLDERS and "*" not in arg:
                assert (ROOT / arg).exists(), f"{path.name}: `{command}`: no file {arg}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_cited_by_the_docs_exist(path):
    """A Markdown file the docs cite, as a link or in parentheses ("(`case.md`)"), is in the repository."""
    text = path.read_text().replace("\n", " ")
    names = set(re.findall(r"\(`([\w./-]+\.md)`\)", text))
    names |= set(re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)", text))
    for name in names:
        assert (path.parent / name).exists(), f"{path.relative_to(ROOT)} cites {name}, not in the repository"


def test_reversed_tension_keys_are_read_as_the_docs_say(toy):
    """`blue-red` sets the same dyad as `red-blue` (docs/scenarios.md, section 6)."""
    a = toy("red-blue = 0.6\n").tension_of("blue", "red")
    b = toy("blue-red = 0.6\n").tension_of("blue", "red")
    assert a == b == 0.6
    text = (ROOT / "docs" / "scenarios.md").read_text()
    assert "is not read" not in text and "either order" in text
