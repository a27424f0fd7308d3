"""The dashboard's "what drives this?" panel: a tornado chart of a cheap Morris screen.

On a click, every mechanism parameter of the scenario as set on the page is moved +-50% around its
value in a Morris screen (:func:`sim.global_sensitivity.screen`: 4 trajectories, 4 runs per point,
a few hundred runs, seconds); the chart shows the ten that move the chosen outcome most, each bar
the mean effect of moving the parameter across its range.
"""

from __future__ import annotations

import io
import time
from typing import Any

import solara


def outcomes(scenario: Any) -> dict[str, str]:
    """The outcomes offered: metric -> label."""
    small = scenario.small
    names = {k: a.name for k, a in scenario.actors.items()}
    out = {f"{small}.hedging_index@end": f"{names[small]}'s hedging index at the end"}
    for p in scenario.powers:
        out[f"{small}.alignment.{p}@end"] = f"{names[small]}'s alignment with {names[p]} at the end"
    return out


def what_drives(scenario: Any, metric: str) -> dict[str, Any]:
    """The screen of one outcome: its tornado chart as PNG bytes, the indices and the seconds taken."""
    from sim.global_sensitivity import screen
    from sim.research_outputs import tornado

    t0 = time.perf_counter()
    indices = screen(scenario, metric)
    buf = io.BytesIO()
    tornado(indices).savefig(buf, format="png", dpi=90)
    return {"png": buf.getvalue(), "table": indices.table, "seconds": time.perf_counter() - t0}


@solara.component
def Drivers(scenario: Any):
    choices = outcomes(scenario)
    metric, set_metric = solara.use_state(next(iter(choices)))
    result, set_result = solara.use_state(None)
    if metric not in choices:
        metric = next(iter(choices))
    shown = result if result is not None and result["key"] == (id(scenario), metric) else None

    def run() -> None:
        set_result({"key": (id(scenario), metric), **what_drives(scenario, metric)})

    with solara.Div(attributes={"data-testid": "drivers"}):
        with solara.Row():
            solara.Select(
                label="What drives this?",
                values=list(choices),
                value=metric,
                on_value=set_metric,
                dense=True,
            )
            solara.Button(
                "Screen the parameters",
                icon_name="mdi-chart-bar",
                color="#26384d",
                outlined=True,
                on_click=run,
                attributes={"data-testid": "drivers-run"},
            )
        if shown is not None:
            solara.Image(shown["png"])
            solara.Text(
                f"A Morris screen of every parameter at ±50%, {shown['seconds']:.1f} s: bars are the mean "
                "change of the outcome across a parameter's range (blue: it rises).",
                classes=["hedgesim-help"],
            )
