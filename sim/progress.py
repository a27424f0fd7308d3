"""A progress bar on stderr: runs done, the rate and the time left (tqdm, which Mesa also uses).

It is shown only when asked and when stderr is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """Counts finished runs; a no-op unless ``show`` and stderr is a terminal."""

    def __init__(self, label: str, runs: int, show: bool | None = None, delay: float = 0.5):
        self.bar: Any = None
        if show is False or not sys.stderr.isatty():
            return
        from tqdm import tqdm

        class Bar(tqdm):
            # no monitor thread: a process without threads of its own forks its workers
            # (sim.chunks.pool_context); the monitor only tunes how often a slow bar redraws
            monitor_interval = 0

        self.bar = Bar(
            total=runs,
            desc=label,
            unit=" runs",
            unit_scale=True,
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=0.2,
            delay=delay,  # short runs finish before any bar appears
            bar_format="{desc}: {bar} {n_fmt}/{total_fmt} runs · {rate_fmt} · ETA {remaining}",
        )

    def __call__(self, runs: int) -> None:
        if self.bar is not None:
            self.bar.update(runs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
