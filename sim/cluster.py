"""Chunks of runs on a dask.distributed cluster (the optional extra ``hedgesim[dask]``).

The scheduler is one the user started (``dask scheduler``, a ``LocalCluster``, or dask-jobqueue
on an HPC system); hedgesim only connects to it as a client. Each chunk is one task, computed on a
worker by :func:`sim.chunks.simulate` (passed in, so this module imports nothing above it),
exactly as a local process would, so the results are byte-identical to a local run. The workers
need the same hedgesim installed (and its dependencies); they do not need the scenario file,
which travels with the tasks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sim.errors import HedgesimError

if TYPE_CHECKING:
    import numpy as np

    from sim.scenario import Scenario

#: Seconds to wait for the scheduler before giving up.
CONNECT_TIMEOUT = 10


def client_for(address: str):  # noqa: ANN201 (distributed.Client, an optional import)
    """A client of the scheduler at ``address``, or a one-line error saying what is wrong."""
    try:
        from distributed import Client
    except ImportError:
        raise HedgesimError(
            "--dask: dask.distributed is not installed; install the extra: pip install 'hedgesim[dask]'"
        ) from None
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    try:  # checked first: a Client made from a malformed address hangs 20 s on exit, then a traceback
        scheme, where = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown protocol {scheme!r}")
        if scheme in ("tcp", "tls"):
            parse_host_port(where)
    except ValueError as err:
        raise HedgesimError(
            f"--dask: expected a scheduler address such as tcp://HOST:8786, found {address!r} ({err})"
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise HedgesimError(f"--dask: cannot reach a Dask scheduler at {address!r} ({err})") from None


def run_on_dask(
    address: str,
    simulate: Callable[[Scenario, int, int, int], np.ndarray],
    spec: Scenario,
    seed: int,
    spans: list[tuple[int, int]],
) -> Iterator[tuple[int, np.ndarray]]:
    """Compute ``simulate(spec, seed, start, stop)`` for each chunk on the cluster; yield (start,
    record) as each one arrives."""
    client = client_for(address)
    from distributed import as_completed

    tag = uuid.uuid4().hex[:12]  # task names unique to this call, as one scheduler may serve many
    futures = []
    try:
        [remote_spec] = client.scatter([spec], broadcast=True, hash=False)
        futures = [
            client.submit(simulate, remote_spec, seed, a, b, key=f"hedgesim-{tag}-{a}-{b}") for a, b in spans
        ]
        start_of = {f.key: a for f, (a, _) in zip(futures, spans, strict=True)}
        with client.as_current():  # as_completed finds its client here, not in a global default
            for fut in as_completed(futures):
                yield start_of[fut.key], fut.result()
                fut.release()
    finally:
        for fut in futures:
            fut.cancel()
        client.close()
