"""The documented limits of an ensemble: how many runs, how many steps.

Memory, disk and time grow with runs x steps x outputs (:mod:`sim.resources`); these bounds keep
a typo from asking for years of computing. The scenario file, ``--runs`` and :func:`sim.run`
share them.
"""

#: Most runs in an ensemble (a file's ``runs``, ``--runs``, ``sim.run(runs=...)``).
MAX_RUNS = 10_000_000
#: Most quarterly steps in a scenario's horizon: 1,000 quarters, 250 years.
MAX_STEPS = 1_000
#: Largest scenario or parameters file read, 4 MiB: the flagship is 20 kB; a larger file (or a
#: device such as /dev/zero) is refused before it is read into memory.
MAX_FILE_BYTES = 4 * 2**20
