"""The classroom dashboard: ``hedgesim dashboard [SCENARIO]``, a Solara app in the browser.

Widgets over the plain API and nothing more: a setting (the scenario, changed values, events
switched off) becomes a scenario with :meth:`Scenario.with_overrides` and
:meth:`Scenario.without_events`, runs with :func:`sim.run`, and is drawn with :mod:`sim.plots`.

* :mod:`sim.dashboard.setting`  what a class changes: knobs (sliders) and events, as overrides
* :mod:`sim.dashboard.charts`   the figures: current setting against the baseline, and the actors
* :mod:`sim.dashboard.app`      the Solara page
* :mod:`sim.dashboard.server`   starting the server on localhost, offline

Nothing here is imported by ``import sim`` or ``hedgesim --help``.
"""
