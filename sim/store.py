"""Where an ensemble's numbers live: in memory, or in a ``.npy`` file written chunk by chunk.

A small ensemble is one array in memory, shape (variable, step, run), as the model records it. A
large one (over :data:`IN_MEMORY_LIMIT`) goes straight to disk, so memory does not grow with the
number of runs: a :class:`TrajectoryFile` is an ordinary ``.npy`` file in the results folder's
layout (variable, run, step), float64, which ``np.load(path, mmap_mode="r")`` opens lazily in a
notebook. Each finished chunk of runs is written into its place with positioned writes (no memory
map, so the writer's resident memory stays at one chunk), by whichever process computed it.

The file's bytes are those of ``np.save`` on the assembled array (same header, same layout), so
one process or many, chunked one way or another, give byte-identical files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Ensembles whose numbers take more than this many bytes are kept on disk, not in memory
#: (csp2023 takes 6,048 bytes per run, 27 outputs x 28 dates, so 88,768 runs).
IN_MEMORY_LIMIT = 512 * 2**20

#: Rows of a statistics block are read this many runs at a time: a piece (2.3 MB for csp2023)
#: stays in cache while it is transposed, which is ten times faster than larger pieces.
_PIECE = 1 << 13


def nbytes(variables: int, steps: int, runs: int) -> int:
    """Bytes of an ensemble's numbers: variables x (steps + 1) x runs float64."""
    return variables * (steps + 1) * runs * 8


class TrajectoryFile:
    """A float64 ``.npy`` file of shape (variables, runs, steps + 1), written a chunk at a time.

    Create it once with :meth:`create` (the header, and the file sized to its full length), then
    any process may :meth:`write` the chunk of runs it computed, in any order.
    """

    def __init__(self, path: str | Path, variables: int, runs: int, steps1: int, offset: int):
        self.path, self.shape, self.offset = Path(path), (variables, runs, steps1), offset

    @classmethod
    def create(cls, path: str | Path, variables: int, runs: int, steps1: int) -> TrajectoryFile:
        from numpy.lib.format import open_memmap

        mm = open_memmap(path, mode="w+", dtype=np.float64, shape=(variables, runs, steps1))
        offset = mm.offset
        del mm  # the file is sized (sparse) and its header written; nothing is touched
        return cls(path, variables, runs, steps1, offset)

    @classmethod
    def open(cls, path: str | Path) -> TrajectoryFile:
        """An existing trajectory file (a results folder's trajectories.npy)."""
        from numpy.lib import format as npy

        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
        if fortran or dtype != np.float64 or len(shape) != 3:
            raise ValueError(f"{path}: expected a C-ordered float64 array of 3 axes")
        return cls(path, *shape, offset)

    def __getstate__(self) -> dict:
        return {"path": str(self.path), "shape": self.shape, "offset": self.offset}

    def __setstate__(self, st: dict) -> None:
        self.path, self.shape, self.offset = Path(st["path"]), tuple(st["shape"]), st["offset"]

    def write(self, start: int, record: np.ndarray) -> None:
        """Write runs start.. from a model record of shape (variables, steps + 1, n)."""
        V, R, T1 = self.shape  # noqa: N806
        if record.shape != (V, T1, record.shape[2]) or start + record.shape[2] > R:
            raise ValueError(f"a chunk of shape {record.shape} at run {start} does not fit {self.path}")
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for v in range(V):
                block = np.ascontiguousarray(record[v].T)  # (n, steps + 1)
                os.pwrite(fd, block.data, self.offset + (v * R + start) * T1 * 8)
        finally:
            os.close(fd)

    def rows(self, v: int, t0: int, t1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Variable v at steps t0..t1-1 for every run, shape (t1 - t0, runs), read in pieces
        (into ``out``, a buffer of that shape, when given)."""
        V, R, T1 = self.shape  # noqa: N806
        out = np.empty((t1 - t0, R)) if out is None else out
        piece = np.empty((min(_PIECE, R), T1))
        with open(self.path, "rb", buffering=0) as f:
            for r0 in range(0, R, _PIECE):
                r1 = min(r0 + _PIECE, R)
                buf = piece[: r1 - r0]
                f.seek(self.offset + (v * R + r0) * T1 * 8)
                f.readinto(memoryview(buf).cast("B"))
                out[:, r0:r1] = buf[:, t0:t1].T
        return out

    def variable(self, v: int) -> np.ndarray:
        """Variable v, shape (runs, steps + 1): one contiguous read."""
        V, R, T1 = self.shape  # noqa: N806
        at = self.offset + v * R * T1 * 8
        return np.fromfile(self.path, dtype=np.float64, count=R * T1, offset=at).reshape(R, T1)

    def memmap(self) -> np.ndarray:
        """The whole file as a read-only memory map, shape (variables, runs, steps + 1)."""
        return np.load(self.path, mmap_mode="r")
