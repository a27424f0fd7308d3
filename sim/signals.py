"""SIGTERM handled like Ctrl-C: it raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main
thread, so the program unwinds as after Ctrl-C: workers stopped, staging folders removed, one line.

While worker processes start, a SIGTERM waits (:func:`sigterm_deferred`): raised in the middle of
sending a new process its start-up data, it would leave that process to die with a traceback
("EOFError: Ran out of input"). It is raised as soon as the block ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is (see the module's text)."""


_state = {"defer": 0, "pending": False}


def _on_sigterm(signum: int, frame: Any) -> None:
    if _state["defer"]:
        _state["pending"] = True
        return
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block (when in the main thread), SIGTERM raises :class:`Terminated`."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
    _state["pending"] = False
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def sigterm_deferred() -> Iterator[None]:
    """A SIGTERM that arrives within the block is raised when the block ends (see the module's text)."""
    _state["defer"] += 1
    try:
        yield
    finally:
        _state["defer"] -= 1
        if not _state["defer"] and _state["pending"]:
            _state["pending"] = False
            raise Terminated
