"""The documented limits of an ensemble: how many runs, how many steps.

Memory, disk and time grow with runs x steps x outputs (:mod:`sim.resources`); these bounds keep
a typo from asking for years of computing. The scenario file, ``--runs`` and :func:`sim.run`
share them.
"""

#: Most runs in an ensemble (a file's ``runs``, ``--runs``, ``sim.run(runs=...)``).
MAX_RUNS = 10_000_000
#: Most quarterly steps in a scenario's horizon: 1,000 quarters, 250 years.
MAX_STEPS = 1_000
