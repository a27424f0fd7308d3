"""The classroom game: ``hedgesim classroom SCENARIO``, teams of students play the powers and the
small state, one round a quarter (or a year), in their browsers.

The game never touches the model. A team's choices for a round are dated scenario events (an aid
change, a port call, a criticism, a partnership upgrade, naval access...), so the game is a
scenario that grows by one round of events at a time; after each round the ensemble is re-run from
the start with the same seed (common random numbers), undo drops the last round, and the export is
that scenario file, which ``hedgesim run`` and ``compare`` reproduce exactly.

* :mod:`sim.classroom.game`     the game: teams, rounds, choices, timer, undo, shocks, export
* :mod:`sim.classroom.debrief`  the class's path against the model's own play and history
* :mod:`sim.classroom.app`      the Solara pages (join, team, teacher)
* :mod:`sim.classroom.server`   starting the server on localhost, offline

Nothing here is imported by ``import sim`` or ``hedgesim --help``.
"""
