"""The debrief: the class's path against the model's own play and the historical scenario.

Three ensembles over the quarters played, each with the game's seed and runs, so run k of each
meets the same luck (common random numbers; Law 2015, section 11.2) and a difference between the
lines is what the players decided, not chance:

* **class**: the game as played (:meth:`Game.scenario`, the file the export writes);
* **model**: the scenario with every power choosing by the model's rule and no dated policy moves
  of the powers (``decisions = "strategic"``);
* **history**: the scenario's dated events alone (``decisions = "historical"``).

The figure draws, for each power, the small state's alignment toward it (mean of the three
dimensions; Kuik 2008's hedging spectrum is about how far it leans), and the hedging index: median
lines and 50% bands.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from sim.classroom.game import Game, GameError
from sim.plots import PALETTE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The three paths, in the order drawn, with their line styles.
PATHS = {"class": "-", "model": "--", "history": ":"}
LABELS = {"class": "the class", "model": "the model's own play", "history": "history (dated events only)"}


def ensembles(game: Game) -> dict[str, Any]:
    """The class's, the model's and history's ensembles over the quarters played."""
    with game.lock:
        if not game.rounds:
            raise GameError("debrief: no round has been played")
        end = game.round_dates(len(game.rounds))[1]
        out = {"class": game.ensemble}
        for name, decisions in (("model", "strategic"), ("history", "historical")):
            sc = game.base.with_overrides({"scenario.decisions": decisions})
            out[name] = game.simulate(game.truncated(sc, end))
        return out


def table(game: Game, ens: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """Medians at the last quarter played: (variable label, {path: value})."""
    small, rows = game.small, []
    names = [(f"{small}.alignment.{p}", f"alignment toward {game.names[p]}") for p in game.powers]
    names += [(f"{small}.hedging_index", "hedging index")]
    names += [(f"{p}.influence", f"influence of {game.names[p]}") for p in game.powers]
    for var, label in names:
        rows.append((label, {k: float(e.quantiles(var)[2, -1]) for k, e in ens.items()}))
    return rows


def figure(game: Game, ens: dict[str, Any]) -> Figure:
    """One panel per power (alignment toward it) and one for the hedging index."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from sim.plots import quarter_x

    small = game.small
    panels = [(f"{small}.alignment.{p}", f"Alignment toward {game.names[p]}") for p in game.powers]
    panels.append((f"{small}.hedging_index", "Hedging index"))
    fig = Figure(figsize=(3.2 * len(panels), 3.7), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    x = quarter_x(ens["class"].dates)
    for ax, (var, title) in zip(axes, panels, strict=True):
        for k, (path, style) in enumerate(PATHS.items()):
            q = ens[path].quantiles(var)
            colour = PALETTE[k]
            ax.fill_between(x, q[1], q[3], color=colour, alpha=0.15, linewidth=0, step="post")
            ax.step(
                x,
                q[2],
                where="post",
                color=colour,
                linestyle=style,
                linewidth=2.2 - 0.5 * k,
                label=LABELS[path],
            )
        ax.set_title(title, fontsize=11)
        dates = ens["class"].dates
        every = max(1, len(dates) // 4)
        ax.set_xticks(x[::every], dates[::every], fontsize=8)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"{game.base.scenario.title}\nthe class against the model and history, {len(game.rounds)} round"
        f"{'s' if len(game.rounds) != 1 else ''} (medians and 50% bands, {game.runs} runs, seed {game.seed})",
        fontsize=11,
    )
    return fig


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()
