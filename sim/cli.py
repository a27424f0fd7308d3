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
from typing import Any, NoReturn

import click

from sim.errors import HedgesimError
from sim.limits import MAX_RUNS
from sim.signals import Terminated, sigterm_raises


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn input errors into one line and exit code 2; Ctrl-C into exit code 130 and SIGTERM into
    exit code 143 (128 + 15), with nothing left behind and no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_raises():
                return fn(*args, **kwargs)
        except HedgesimError as err:
            click.echo(f"hedgesim: {err}", err=True)
            sys.exit(2)
        except Terminated:
            click.echo("hedgesim: terminated; nothing was written", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("\nhedgesim: interrupted; nothing was written", err=True)
            sys.exit(130)

    return wrapper


class _Group(click.Group):
    """The command group; it keeps the command line as typed, for the results' manifest, and says
    what is wrong with a command line in one line (``hedgesim: --runs: ...``), exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as err:
            err.show()  # no command at all: the help, as before
            sys.exit(err.exit_code)
        except click.UsageError as err:
            where = f"{err.ctx.info_name}: " if err.ctx is not None and err.ctx.parent is not None else ""
            click.echo(f"hedgesim: {where}{' '.join(err.format_message().split())}", err=True)
            sys.exit(2)
        except click.ClickException as err:
            err.show()
            sys.exit(err.exit_code)
        except click.exceptions.Abort:
            click.echo("hedgesim: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        argv = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["argv"] = argv
        return ctx


def command_line() -> str:
    """The command as typed, e.g. "hedgesim run scenarios/csp2023.toml --runs 100"."""
    ctx = click.get_current_context(silent=True)
    argv = ctx.find_root().meta.get("argv", sys.argv[1:]) if ctx else sys.argv[1:]
    return "hedgesim " + shlex.join(argv)


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of every command that writes a results folder: --no-figures, --force, --quiet."""
    options = [
        click.option("--no-figures", is_flag=True, help="Skip the figures (faster)."),
        click.option("--force", is_flag=True, help="Replace --out if it exists and is not empty."),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors, and no progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def set_option(text: str) -> Callable[..., Any]:
    """The ``--set KEY=VALUE`` option (repeatable); the command receives ``sets``."""
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=text)


def overridden(scenario: Any, sets: tuple[str, ...]) -> Any:
    """A scenario with the ``--set`` values applied."""
    from sim.scenario import parse_override

    return scenario.with_overrides(dict(parse_override(s) for s in sets))


def check_resources(scs: list[Any], runs: int | None, out: Path | None, quiet: bool, **options: Any) -> None:
    """Estimate memory, disk and time before any work; refuse what cannot fit, in one line, and
    say how long a long job will take."""
    from sim.resources import Estimate, check, estimate, size_text, time_text

    total = Estimate()
    for sc in scs:
        total.add(estimate(sc, runs or scs[0].scenario.runs, **options))
    what = scs[0].name if len(scs) == 1 else "-vs-".join(s.name for s in scs)
    check(total, what, out if out is not None else Path("results"))
    if total.seconds > 60 and not quiet:
        click.echo(
            f"hedgesim: this will take about {time_text(total.seconds)} on {total.processes} "
            f"process{'es' if total.processes > 1 else ''}, {size_text(total.memory)} of memory and "
            f"{size_text(total.disk)} of disk",
            err=True,
        )


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hedgesim")
def main() -> None:
    """Simulate how a small state hedges between great powers.

    Start with:  hedgesim run scenarios/csp2023.toml
    """


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@click.option(
    "--runs", type=click.IntRange(1, MAX_RUNS), help="Number of runs, at most 10^7 (default: the scenario's)."
)
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: the scenario's, else a fresh one)."
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Results folder (default: results/<name>/<time>/)."
)
@set_option("Change a value, e.g. --set inertia=0.3 or --set actors.japan.budget=200. Repeatable.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["npy", "csv", "netcdf", "parquet"]),
    default="npy",
    show_default=True,
    help="Format of the per-run trajectories (netcdf, parquet: pip install 'hedgesim[data]').",
)
@click.option(
    "--trajectories/--no-trajectories",
    default=None,
    help="Write every run's trajectories (default: when they take at most 512 MiB, "
    "88,768 runs of csp2023; the last line says whether they were written).",
)
@output_options
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
    from sim.chunks import cores

    if not no_figures:  # first: they start while the modules load and the ensemble runs
        from sim.figure_files import start_figure_workers

        start_figure_workers(min(2, cores()))
    try:
        from sim.ensemble import run as run_ensemble
        from sim.folders import check_folder, default_folder, folder_label, staging
        from sim.outputs import write_into
        from sim.scenario import load_scenario

        sc = overridden(load_scenario(scenario), sets)
        if out is not None:
            check_folder(out, force)  # before the work, not after
        if not no_figures:  # their titles, axes and keys, built by the worker while the runs run
            from sim.figure_files import prepare_figures

            prepare_figures(sc)
        options = dict(workers=workers, chunk_size=chunk_size, dask=dask)
        check_resources(
            [sc], runs, out, quiet, trajectories=trajectories, fmt=fmt, figures=not no_figures, **options
        )
    except BaseException:
        from sim.figure_files import stop_figure_workers

        stop_figure_workers()  # now, not joined at exit once started up
        raise
    folder = out if out is not None else default_folder(sc.name, folder_label(sc.overrides))
    command = command_line()
    # removed on error, Ctrl-C or SIGTERM: nothing half-written
    with staging(folder, force, reserved=out is None) as tmp:
        ens = run_ensemble(
            sc,
            runs=runs,
            seed=seed,
            progress=False if quiet else None,
            # a large ensemble's runs go straight into the folder when they are to be written
            store=tmp / "trajectories.npy" if trajectories else None,
            **options,
        )
        files = write_into(
            ens,
            tmp,
            fmt=fmt,
            figures=not no_figures,
            command=command,
            workers=min(2, cores()),
            trajectories=trajectories,
        )
    if not quiet:
        click.echo(digest(ens, folder, files, trajectories))


@main.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="A.toml B.toml [C.toml ...]")
@click.option(
    "--runs", type=click.IntRange(1, MAX_RUNS), help="Runs per scenario, at most 10^7 (default: the first's)."
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    help="One seed for all (default: the first scenario's, else a fresh one).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Results folder (default: results/<a>-vs-<b>/<time>/)."
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="DATE",
    help="Date of the difference table, e.g. 2024Q4 (default: the last). Repeatable.",
)
@set_option("Change a value in every scenario compared, e.g. --set inertia=0.3. Repeatable.")
@output_options
@ensemble_options
@friendly
def compare(
    scenarios: tuple[str, ...],
    runs: int | None,
    seed: int | None,
    out: Path | None,
    at: tuple[str, ...],
    sets: tuple[str, ...],
    no_figures: bool,
    force: bool,
    quiet: bool,
    workers: int | None,
    dask: str | None,
    chunk_size: int | None,
) -> None:
    """Compare scenarios, run by run, against the first one.

    Every scenario is run with the same seed and number of runs, so run k of each draws the same
    random numbers (common random numbers): a difference comes from what the scenarios change,
    not from the luck of the draw. Writes overlay figures, differences.csv and differences.md.
    """
    from sim.comparison import compare as compare_scenarios
    from sim.comparison import parse_at, write_comparison_into
    from sim.errors import HedgesimError
    from sim.folders import check_folder, default_folder, folder_label, staging
    from sim.scenario import load_scenario

    if len(scenarios) < 2:
        raise HedgesimError(f"compare: expected two or more scenario files, found {len(scenarios)}")
    scs = [overridden(load_scenario(s), sets) for s in scenarios]
    parse_at(at, scs[0].dates, label="--at")  # bad dates fail before any work
    if out is not None:
        check_folder(out, force)
    options = dict(workers=workers, chunk_size=chunk_size, dask=dask)
    check_resources(scs, runs, out, quiet, trajectories=False, figures=not no_figures, paired=True, **options)
    name = "-vs-".join(s.name for s in scs)
    folder = out if out is not None else default_folder(name, folder_label(scs[0].overrides))
    with staging(folder, force, reserved=out is None) as tmp:
        # large ensembles keep their runs in the staging folder, so a killed comparison leaves
        # nothing that the next run does not clean
        progress = False if quiet else None
        comp = compare_scenarios(
            scs, runs=runs, seed=seed, at=list(at), progress=progress, stores=tmp, **options
        )
        # the command that repeats this comparison exactly: the runs and the seed actually used
        words = [
            "compare",
            *scenarios,
            "--runs",
            str(comp.runs),
            "--seed",
            str(comp.seed),
            "--out",
            str(folder),
        ]
        words += [w for d in comp.at for w in ("--at", d)] + [w for x in sets for w in ("--set", x)]
        command = "hedgesim " + " ".join(shlex.quote(w) for w in words)
        write_comparison_into(comp, tmp, figures=not no_figures, command=command)
        text = "" if quiet else comp.text()
        for k in range(len(scs)):
            (tmp / f"trajectories-{k}.npy").unlink(missing_ok=True)  # read; not part of the results
    if not quiet:
        click.echo(text)
        extra = "" if no_figures else ", figures/"
        click.echo(f"Results in {folder}/ (differences.csv, differences.md, summary.csv{extra})")


@main.command("scenarios")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@friendly
def list_scenarios(folder: Path | None) -> None:
    """List the bundled scenarios (or those in FOLDER) with their titles."""
    from sim.errors import HedgesimError
    from sim.scenario import bundled_scenarios, load_scenario

    found = bundled_scenarios(folder)
    if not found:
        raise HedgesimError(f"{folder or 'scenarios/'}: no .toml scenario files")
    bad = []
    shown = {p: _short(p) for p in found.values()}
    width = max(len(s) for s in shown.values())
    for path in found.values():
        try:
            sc = load_scenario(path)
        except HedgesimError as err:
            bad.append(str(err))
            continue
        click.echo(f"{shown[path]:<{width}}  {sc.scenario.title}")
    for line in bad:
        click.echo(f"hedgesim: {line}", err=True)
    if bad:
        sys.exit(2)


def _short(path: Path) -> str:
    """A path relative to the working folder where it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@main.command()
@click.argument("baseline", metavar="A.toml")
@click.argument("scenario", metavar="B.toml")
@click.option("--runs", type=click.IntRange(min=1), help="Paired runs per variant (default: A's).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: A's, else a fresh one).")
@click.option("--at", "at", metavar="DATE", help="Date to explain, e.g. 2026Q4 (default: the last).")
@click.option("--output", "outputs", multiple=True, metavar="NAME", help="An output to explain (repeatable).")
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="A mechanism to switch off (repeatable)."
)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Also write the table as CSV.")
@friendly
def explain(
    baseline: str,
    scenario: str,
    runs: int | None,
    seed: int | None,
    at: str | None,
    outputs: tuple[str, ...],
    channels: tuple[str, ...],
    csv_path: Path | None,
) -> None:
    """Split the difference B - A by mechanism: which channels carry it?

    Each mechanism of [mechanisms] is switched off in both scenarios, one at a time, with common
    random numbers; the table gives each one's part of the difference (its share in brackets), the
    interaction and what no mechanism carries. They add up to the total.
    """
    from sim.explanation import explain as explain_difference
    from sim.scenario import load_scenario

    if csv_path is not None and csv_path.exists():
        raise HedgesimError(f"{csv_path}: exists; choose another --csv")
    a, b = load_scenario(baseline), load_scenario(scenario)
    result = explain_difference(a, b, runs, seed, at, list(outputs) or None, list(channels) or None)
    click.echo(result.text())
    if csv_path is not None:
        result.table.to_csv(csv_path, index_label="output")
        click.echo(f"Table in {csv_path}")


@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE.toml ...")
def validate(files: tuple[str, ...]) -> None:
    """Check scenario files without running them; exit code 2 if any is bad."""
    from sim.errors import HedgesimError
    from sim.scenario import load_scenario

    bad = 0
    for f in files:
        try:
            sc = load_scenario(f)
        except HedgesimError as err:
            click.echo(f"hedgesim: {err}", err=True)
            bad += 1
            continue
        click.echo(
            f"{f}: ok ({sc.name}: {len(sc.powers)} powers, {len(sc.events)} events, "
            f"{sc.dates[0]}..{sc.dates[-1]})"
        )
    if bad:
        sys.exit(2)


@main.command()
@click.argument("file", metavar="FILE.toml")
@friendly
def describe(file: str) -> None:
    """Print what a scenario assumes: actors, parameters and the dated timeline with sources."""
    from sim.describe import describe as describe_scenario
    from sim.scenario import load_scenario

    click.echo(describe_scenario(load_scenario(file)))


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors; scenarios/scenario.schema.json)."""
    from sim.scenario import json_schema_text

    click.echo(json_schema_text(), nl=False)


@main.command()
@click.argument("scenario", metavar="[SCENARIO.toml]", required=False)
@click.option("--port", default="8765", metavar="PORT", show_default=True, help="Port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; the default lets only this computer in.",
)
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
@friendly
def dashboard(scenario: str | None, port: str, host: str, no_browser: bool) -> None:
    """Open the classroom dashboard in the browser: sliders, events and live ensemble bands.

    SCENARIO is the file to open first (default: the bundled csp2023). Works offline.
    """
    from sim.dashboard.server import DashboardError, serve
    from sim.scenario import load_scenario

    if not port.isdigit():
        raise DashboardError(f"--port: expected a port from 1 to 65535, found {port!r}")
    if scenario is not None:
        load_scenario(scenario)  # a bad file fails here, in one line, before the server starts
    serve(scenario, host, int(port), open_browser=not no_browser)


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@click.option("--port", default="8766", metavar="PORT", show_default=True, help="Port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 lets the classroom's machines in.",
)
@click.option(
    "--round",
    "length",
    type=click.Choice(["quarter", "year"]),
    default="quarter",
    show_default=True,
    help="How long a round is.",
)
@click.option(
    "--timer",
    default=300,
    type=click.IntRange(0, 86_400),
    show_default=True,
    help="Seconds a round stays open once started (0: no timer).",
)
@click.option(
    "--runs",
    default=100,
    type=click.IntRange(1, 10_000),
    show_default=True,
    help="Runs of the ensemble re-run after each round.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=None,
    help="Seed of the runs (default: the scenario's, else 1).",
)
@friendly
def classroom(
    scenario: str, port: str, host: str, length: str, timer: int, runs: int, seed: int | None
) -> None:
    """Start a classroom game: teams play the powers and the small state in their browsers.

    Prints the students' link with the join code, and the teacher's link. Works offline.
    """
    from sim.classroom.game import Game
    from sim.classroom.server import serve
    from sim.dashboard.server import DashboardError
    from sim.scenario import load_scenario

    if not port.isdigit():
        raise DashboardError(f"--port: expected a port from 1 to 65535, found {port!r}")
    game = Game(
        load_scenario(scenario), runs=runs, seed=seed, quarters=4 if length == "year" else 1, timer=timer
    )
    serve(game, host, int(port))


def digest(ens: Any, folder: Path, files: list[str], trajectories: bool | None = None) -> str:
    """A few lines: what ran (and with which --set), the key end values with their spread, where
    the files went, and whether the trajectories are among them."""
    from sim.outputs import trajectories_note
    from sim.scenario import override_text

    sc = ens.scenario
    names = {k: a.name for k, a in sc.actors.items()}
    origin = {"given": "given", "scenario": "from the scenario", "drawn": "drawn; pass --seed to repeat"}
    lines = [f"{sc.scenario.title}"]
    if sc.overrides:
        lines.append("with --set " + ", ".join(override_text(k, v) for k, v in sc.overrides.items()))
    lines += [
        f"{ens.runs} runs, {ens.dates[0]} to {ens.dates[-1]}, seed {ens.seed} ({origin[ens.seed_origin]}),"
        f" {ens.wall_time:.2f} s to run",
        f"At {ens.dates[-1]}: median [90% of runs]",
    ]

    def cell(var: str) -> str:
        lo, _, mid, _, hi = ens.quantiles(var)[:, -1]
        fmt = "{:.0f}" if var.endswith(".aid") else "{:.2f}"
        return f"{fmt.format(mid)} [{fmt.format(lo)}-{fmt.format(hi)}]"

    rows = [
        ("influence", [(names[p], f"{p}.influence") for p in sc.powers]),
        ("aid, USD m/q", [(names[p], f"{p}.aid") for p in sc.powers]),
        ("alignment (mean of dimensions)", [(names[p], f"{sc.small}.alignment.{p}") for p in sc.powers]),
        ("security alignment", [(names[p], f"{sc.small}.alignment.security.{p}") for p in sc.powers]),
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
    shown = ["summary.csv", "manifest.json"] + [f for f in files if f.startswith("trajectories")]
    shown += ["figures/"] if any(f.startswith("figures/") for f in files) else []
    note = trajectories_note(ens, trajectories)
    lines.append(f"Results in {folder}/ ({', '.join(shown)})" + (f"; {note}" if note else ""))
    return "\n".join(lines)


# ---- research tools: sim.parameters, sim.sweeps, sim.global_sensitivity -----------------------------


def research_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``sweep`` and ``sensitivity``: parameters, metrics, runs, seed, --against."""
    options = [
        click.option(
            "--param",
            "params",
            multiple=True,
            required=True,
            metavar="NAME=LOW:HIGH[:N]",
            help="A parameter and its range, as `hedgesim parameters` names it, e.g. inertia=0.1:0.4 "
            "(N: number of levels, with sweep --design grid only). Repeatable.",
        ),
        click.option(
            "--metric",
            "metrics",
            multiple=True,
            metavar="METRIC",
            help="An outcome per run: VAR@DATE, VAR@end or 'mean(VAR, FROM..TO)', e.g. "
            "japan.influence@2024Q4; VAR is a variable of a run's summary.csv "
            "(default: <small state>.hedging_index@end). Repeatable.",
        ),
        click.option(
            "--against",
            metavar="OTHER.toml",
            help="Measure each metric as the paired difference with this scenario (common random numbers).",
        ),
        click.option(
            "--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: the scenario's, else 1)."
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            help="Results folder (default: a new one under results/<name>-sweep/, or "
            "results/<name>-sobol/ or -morris/ for sensitivity).",
        ),
        set_option("Change a value of the scenario (and of --against) before the sweep. Repeatable."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@set_option("Change a value first, e.g. --set inertia=0.3. Repeatable.")
@friendly
def parameters(scenario: str, sets: tuple[str, ...]) -> None:
    """List every scalar a sweep can vary: its name (as --set and --param take it), value and valid range.

    Mechanism parameters and event magnitudes can differ run by run, so a sweep over them runs as one
    ensemble; actor values and tensions run one scenario per sample.
    """
    from sim.parameters import parameters as all_parameters
    from sim.scenario import load_scenario

    sc = overridden(load_scenario(scenario), sets)
    rows = all_parameters(sc)
    width = max(len(p.name) for p in rows)
    click.echo(f"{'name':<{width}}  {'value':<24}  {'valid range':<18}  meaning")
    for p in rows:
        value = f"{p.value:g}" if isinstance(p.value, float | int) else str(p.value)
        span = f"{p.low:g}..{p.high:g}"
        click.echo(f"{p.name:<{width}}  {value:<24}  {span:<18}  {p.description}")


def _against(against: str | None, sets: tuple[str, ...]) -> Any:
    from sim.scenario import load_scenario

    return overridden(load_scenario(against), sets) if against is not None else None


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@research_options
@click.option(
    "--design",
    type=click.Choice(["grid", "lhs", "sobol"]),
    default="lhs",
    show_default=True,
    help="Full grid, Latin hypercube or scrambled Sobol' sequence.",
)
@click.option(
    "--samples",
    type=click.IntRange(1, 10**6),
    default=None,
    help="Samples (lhs, sobol; default 64). A grid's size is its levels: NAME=LOW:HIGH:N.",
)
@click.option("--runs", type=click.IntRange(1, 10**5), default=10, show_default=True, help="Runs per sample.")
@output_options
@ensemble_options
@friendly
def sweep(
    scenario: str,
    params: tuple[str, ...],
    metrics: tuple[str, ...],
    against: str | None,
    seed: int | None,
    out: Path | None,
    sets: tuple[str, ...],
    design: str,
    samples: int,
    runs: int,
    no_figures: bool,
    force: bool,
    quiet: bool,
    workers: int | None,
    dask: str | None,
    chunk_size: int | None,
) -> None:
    """Run a scenario over a design of parameter values, several runs per sample.

    Writes sweep.csv (one row per sample: the parameters and each metric's mean with a 95% interval),
    runs.npy, manifest.json and a figure of each metric against each parameter.
    """
    from sim.folders import check_folder, default_folder, staging
    from sim.research_outputs import write_sweep_into
    from sim.scenario import load_scenario
    from sim.sweeps import sweep as run_sweep

    if design == "grid" and samples is not None:  # else it would be ignored
        raise HedgesimError(
            "--samples: is for --design lhs or sobol; a grid's size is its levels (NAME=LOW:HIGH:N)"
        )
    sc = overridden(load_scenario(scenario), sets)
    vs = _against(against, sets)
    if out is not None:
        check_folder(out, force)
    folder = out if out is not None else default_folder(f"{sc.name}-sweep")
    with staging(folder, force, reserved=out is None) as tmp:
        sw = run_sweep(
            sc,
            list(params),
            list(metrics) or None,
            design=design,
            samples=samples if samples is not None else 64,
            runs=runs,
            seed=seed,
            against=vs,
            workers=workers,
            dask=dask,
            chunk_size=chunk_size,
            progress=False if quiet else None,
        )
        files = write_sweep_into(sw, tmp, figures=not no_figures, command=command_line())
    if not quiet:
        click.echo(
            f"{sw.samples} samples x {sw.runs // sw.samples} runs ({sw.runs:,} runs), seed {sw.seed}, "
            f"{sw.wall_time:.1f} s"
        )
        click.echo(
            f"Results in {folder}/ ({', '.join(f for f in files if '/' not in f)}, figures/)"
            if not no_figures
            else f"Results in {folder}/ ({', '.join(files)})"
        )


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@research_options
@click.option(
    "--method",
    type=click.Choice(["sobol", "morris"]),
    default="sobol",
    show_default=True,
    help="Sobol' indices (variance-based) or a Morris screen (elementary effects).",
)
@click.option(
    "--samples",
    type=click.IntRange(2, 2**20),
    default=64,
    show_default=True,
    help="N: base samples (Sobol', a power of 2) or trajectories (Morris).",
)
@click.option("--runs", type=click.IntRange(1, 10**4), default=1, show_default=True, help="Runs per point.")
@click.option(
    "--no-second-order",
    is_flag=True,
    help="Sobol': skip the second-order indices (D + 2 points per base sample).",
)
@output_options
@ensemble_options
@friendly
def sensitivity(
    scenario: str,
    params: tuple[str, ...],
    metrics: tuple[str, ...],
    against: str | None,
    seed: int | None,
    out: Path | None,
    sets: tuple[str, ...],
    method: str,
    samples: int,
    runs: int,
    no_second_order: bool,
    no_figures: bool,
    force: bool,
    quiet: bool,
    workers: int | None,
    dask: str | None,
    chunk_size: int | None,
) -> None:
    """Which parameters drive an outcome: Sobol' indices or a Morris screen, with 95% intervals.

    Prints the indices (and the same from the first half of the samples, a convergence check), and
    with --runs > 1 how much of the outcome's variance is parametric and how much stochastic.
    Writes indices.csv, second_order.csv, sweep.csv, runs.npy, manifest.json and bar charts.
    """
    from sim.folders import check_folder, default_folder, staging
    from sim.global_sensitivity import sensitivity as run_sensitivity
    from sim.research_outputs import write_sensitivity_into
    from sim.scenario import load_scenario

    sc = overridden(load_scenario(scenario), sets)
    vs = _against(against, sets)
    if out is not None:
        check_folder(out, force)
    folder = out if out is not None else default_folder(f"{sc.name}-{method}")
    with staging(folder, force, reserved=out is None) as tmp:
        sa = run_sensitivity(
            sc,
            list(params),
            list(metrics) or None,
            method=method,
            samples=samples,
            runs=runs,
            seed=seed,
            against=vs,
            second_order=not no_second_order,
            workers=workers,
            dask=dask,
            chunk_size=chunk_size,
            progress=False if quiet else None,
        )
        files = write_sensitivity_into(sa, tmp, figures=not no_figures, command=command_line())
    if not quiet:
        click.echo(sa.text())
        click.echo(
            f"{sa.sweep.runs:,} runs in {sa.sweep.wall_time:.1f} s; results in {folder}/ "
            f"({', '.join(f for f in files if '/' not in f)})"
        )


@main.command()
@click.argument("folder", metavar="SWEEP_FOLDER", type=click.Path(path_type=Path))
@click.option(
    "--condition",
    required=True,
    metavar="'METRIC > X'",
    help="The cases of interest: one of the sweep's metrics (as given to --metric) against a number "
    "with >, >=, < or <=, e.g. 'cambodia.hedging_index@end > 0.6'.",
)
@click.option(
    "--boxes", type=click.IntRange(1, 10), default=1, show_default=True, help="Boxes to find in turn."
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Choose the densest box that still covers this share of the cases.",
)
@friendly
def discover(folder: Path, condition: str, boxes: int, min_coverage: float) -> None:
    """Scenario discovery: PRIM boxes of parameter ranges where a sweep's outcome meets a condition.

    Reads the results folder of `hedgesim sweep`; prints each box's ranges, coverage and density
    (needs: pip install 'hedgesim[ema]').
    """
    from sim.discovery import discover as find_boxes

    click.echo(find_boxes(folder, condition, boxes=boxes, min_coverage=min_coverage).text())


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@click.option(
    "--runs", type=click.IntRange(1, MAX_RUNS), help="Number of runs, at most 10^7 (default: the scenario's)."
)
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: the scenario's, else a fresh one)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder for the table and figure (default: results/<name>/<time>_check/).",
)
@set_option("Change a value, e.g. --set inertia=0.3. Repeatable.")
@output_options
@friendly
def check(
    scenario: str,
    runs: int | None,
    seed: int | None,
    out: Path | None,
    sets: tuple[str, ...],
    no_figures: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Check a scenario against history: the named patterns of sim/patterns.py over its ensemble.

    Prints pattern, expected, measured (mean over runs, with the 5th-95th percentile of the runs)
    and whether it holds; writes patterns.csv, manifest.json and check.png, a figure of the
    simulated bands against the observed points. Exit code 1 when a pattern not marked as a known
    failure does not hold.
    """
    from sim.folders import check_folder, default_folder, staging
    from sim.patterns import evaluate
    from sim.scenario import load_scenario

    sc = overridden(load_scenario(scenario), sets)
    if out is not None:
        check_folder(out, force)
    check_resources([sc], runs, out, quiet, trajectories=False, figures=not no_figures)
    report = evaluate(sc, runs=runs, seed=seed)
    folder = out if out is not None else default_folder(sc.name, "check")
    command = command_line()
    with staging(folder, force, reserved=out is None) as tmp:
        report.table().to_csv(tmp / "patterns.csv", index=False)
        (tmp / "manifest.json").write_text(report.manifest(command), encoding="utf-8")
        if not no_figures:
            from sim.pattern_plots import check_figure

            check_figure(report).savefig(tmp / "check.png", dpi=110)
    if not quiet:
        click.echo(report.text())
        click.echo(f"Table{'' if no_figures else ' and figure'} in {folder}")
    unexpected = [
        r.pattern.name for r in report.results if r.applies and not r.holds and not r.pattern.known_failure
    ]
    if unexpected:
        sys.exit(1)


@main.command()
@click.argument("scenario", metavar="SCENARIO.toml")
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME=LOW:HIGH",
    help="A parameter to fit and its uniform prior, e.g. weight_regime=0:3. Repeatable "
    "(default: weight_reciprocity=0:4 and weight_regime=0:6).",
)
@click.option(
    "--draws",
    type=click.IntRange(2, 100_000),
    default=600,
    show_default=True,
    help="Parameter values drawn from the priors, each run as an ensemble of --runs runs.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="Runs of each draw's ensemble.",
)
@click.option(
    "--accept",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.1,
    show_default=True,
    help="Share of the draws kept (the closest to the data).",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Seed (default: the scenario's).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Parameters file to write (default: parameters/<name>.toml next to the scenario).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@friendly
def calibrate(
    scenario: str,
    parameters: tuple[str, ...],
    draws: int,
    runs: int,
    accept: float,
    seed: int | None,
    out: Path | None,
    force: bool,
) -> None:
    """Fit parameters to UN voting agreement in 1999-2011 by ABC rejection; test on 2012-2015.

    Prints the posterior ranges, the fit and the held-out error next to two naive forecasts, and
    writes a parameters file that a scenario includes with `parameters_file` in [scenario].
    """
    from sim.calibration import calibrate as fit
    from sim.calibration import check_target, parse_prior, write_parameters
    from sim.scenario import load_scenario

    priors = [parse_prior(p) for p in parameters] or None
    sc = load_scenario(scenario)
    target = out if out is not None else Path(scenario).parent / "parameters" / f"{sc.name}.toml"
    check_target(target, force)
    cal = fit(sc, priors, draws=draws, runs=runs, accept=accept, seed=seed)
    write_parameters(cal, target, force)
    click.echo(cal.text())
    click.echo(f"Parameters in {target}")


def entry() -> NoReturn:
    """The ``hedgesim`` command: :func:`main`, then a quick exit.

    Once a command has returned, its files are closed and renamed into place; what Python does
    next, freeing every module and object it made (Mesa, pandas, numpy's arrays: about 0.35 s, a
    tenth of a default run), changes nothing on disk or on the screen. So, when no thread or child
    process is left (the kernel's idle threads are stopped first), the process runs its exit
    handlers, flushes its output and ends there (``os._exit``) with the command's exit code.
    Otherwise, or under a profiler, tracer or debugger (whose report comes after), Python exits as
    usual: it joins the threads and child processes left. ``python -m sim.cli`` and in-process
    callers (``main(..., standalone_mode=False)``, click's test runner) keep the usual exit.
    """
    import atexit
    import os

    try:
        main()
        code: Any = 0
    except SystemExit as done:
        code = done.code
    if not (code is None or isinstance(code, int)) or _watched():
        sys.exit(code)
    kernel = sys.modules.get("sim.kernel")  # loaded by this command if it used the kernel
    if kernel is not None:
        kernel.stop_threads()
    if _still_running():
        sys.exit(code)
    atexit._run_exitfuncs()  # CPython's own (3.12-3.14), as at a normal exit; they are then cleared
    code = code or 0
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed
            continue
        try:
            stream.flush()
        except BrokenPipeError:  # ``hedgesim ... | head``: what was left unread does not matter
            pass
        except (OSError, ValueError):  # a full disk, say: as Python's exit reports it
            code = code or 120
    os._exit(code)


def _watched() -> bool:
    """Whether a profiler, tracer, debugger or coverage tool watches this process."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python >= 3.12: cProfile, pdb, coverage use it
    return monitoring is not None and any(monitoring.get_tool(i) is not None for i in range(6))


def _still_running() -> bool:
    """Whether a thread (not a daemon) or a child process is alive besides this main thread."""
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return True
    mp = sys.modules.get("multiprocessing")
    return bool(mp is not None and mp.active_children())


if __name__ == "__main__":  # pragma: no cover
    main()
