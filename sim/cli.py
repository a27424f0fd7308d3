"""The ``hedgesim`` command: thin wrappers that parse, call the Python API and print.

Imports of numpy, Mesa and matplotlib happen inside the commands, so ``hedgesim --help`` is quick.
Any problem with the user's input ends the program with one line on stderr and exit code 2.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from sim.errors import HedgesimError


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn input errors into one line and exit code 2; Ctrl-C into exit code 130, no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HedgesimError as err:
            click.echo(f"hedgesim: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("\nhedgesim: interrupted; nothing was written", err=True)
            sys.exit(130)

    return wrapper


def ensemble_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that runs ensembles: --workers, --dask, --chunk-size.

    The command receives ``workers``, ``dask`` and ``chunk_size`` and passes them to
    :func:`sim.run`, which gives the same numbers, bit for bit, whatever their values.
    """
    options = [
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            help="Local processes (default: 1 for small ensembles, all cores for large ones).",
        ),
        click.option(
            "--dask",
            metavar="ADDRESS",
            help="Run on a Dask scheduler, e.g. tcp://host:8786 (needs: pip install 'hedgesim[dask]').",
        ),
        click.option(
            "--chunk-size",
            type=click.IntRange(min=1),
            help="Runs per chunk of work (default: 4096). Results do not depend on it.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hedgesim")
def main() -> None:
    """Simulate how a small state hedges between great powers.

    Start with:  hedgesim run scenarios/csp2023.toml
    """


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@click.option("--runs", type=click.IntRange(min=1), help="Number of runs (default: the scenario's).")
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: the scenario's, else a fresh one)."
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Results folder (default: results/<name>/<time>/)."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a value, e.g. --set inertia=0.3 or --set actors.japan.budget=200. Repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npy", "csv"]),
    default="npy",
    show_default=True,
    help="Format of the per-run trajectories.",
)
@click.option(
    "--trajectories/--no-trajectories",
    default=None,
    help="Write every run's trajectories (default: when they take at most 512 MiB, "
    "about 100,000 runs of csp2023).",
)
@click.option("--no-figures", is_flag=True, help="Skip the figures (faster).")
@click.option("--force", is_flag=True, help="Replace --out if it exists and is not empty.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors, and no progress bar.")
@ensemble_options
@friendly
def run(
    scenario: str,
    runs: int | None,
    seed: int | None,
    out: Path | None,
    sets: tuple[str, ...],
    fmt: str,
    trajectories: bool | None,
    no_figures: bool,
    force: bool,
    quiet: bool,
    workers: int | None,
    dask: str | None,
    chunk_size: int | None,
) -> None:
    """Run a scenario's ensemble and write its results folder.

    The folder holds manifest.json, summary.csv, every run's trajectories and figures/.
    """
    import os

    from sim.ensemble import run as run_ensemble
    from sim.outputs import check_folder, default_folder, staging, write_into
    from sim.scenario import load_scenario, parse_override

    sc = load_scenario(scenario)
    overrides = dict(parse_override(s) for s in sets)
    sc = sc.with_overrides(overrides)
    folder = out if out is not None else default_folder(sc.name)
    check_folder(folder, force)  # before the work, not after
    command = "hedgesim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with staging(folder, force) as tmp:  # removed on error or Ctrl-C: nothing half-written
        ens = run_ensemble(
            sc,
            runs=runs,
            seed=seed,
            progress=False if quiet else None,
            workers=workers,
            dask=dask,
            chunk_size=chunk_size,
            store=tmp / "trajectories.npy",
        )
        write_into(
            ens,
            tmp,
            fmt=fmt,
            figures=not no_figures,
            command=command,
            workers=min(2, os.cpu_count() or 1),
            trajectories=trajectories,
        )
    if not quiet:
        click.echo(digest(ens, folder))


def digest(ens: Any, folder: Path) -> str:
    """A few lines: what ran, the key end values with their spread, where the files went."""
    sc = ens.scenario
    names = {k: a.name for k, a in sc.actors.items()}
    origin = {"given": "given", "scenario": "from the scenario", "drawn": "drawn; pass --seed to repeat"}
    lines = [
        f"{sc.scenario.title}",
        f"{ens.runs} runs, {ens.dates[0]} to {ens.dates[-1]}, seed {ens.seed} ({origin[ens.seed_origin]}),"
        f" {ens.wall_time:.1f} s",
        f"At {ens.dates[-1]}: median [90% of runs]",
    ]

    def cell(var: str) -> str:
        lo, _, mid, _, hi = ens.quantiles(var)[:, -1]
        fmt = "{:.0f}" if var.endswith(".aid") else "{:.2f}"
        return f"{fmt.format(mid)} [{fmt.format(lo)}-{fmt.format(hi)}]"

    rows = [
        ("influence", [(names[p], f"{p}.influence") for p in sc.powers]),
        ("aid, USD m/q", [(names[p], f"{p}.aid") for p in sc.powers]),
        ("alignment", [(names[p], f"{sc.small}.alignment.{p}") for p in sc.powers]),
    ]
    width = max(len(n) for n in names.values())
    for label, cells in rows:
        lines.append(f"  {label}")
        lines += [f"    {n:<{width}}  {cell(v)}" for n, v in cells]
    lines.append(f"  hedging index  {cell(f'{sc.small}.hedging_index')}")
    dyads = sorted(
        (v for v in ens.variables if v.startswith("tension.")), key=lambda v: -float(ens.quantiles(v)[2, -1])
    )[:3]
    lines.append("  highest tension  " + ", ".join(f"{v.removeprefix('tension.')} {cell(v)}" for v in dyads))
    lines.append(f"Results in {folder}/ (summary.csv, manifest.json, figures/)")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
