"""What a class changes in a scenario: the knobs (sliders and choices) and the events switched off.

A :class:`Setting` is the scenario as loaded plus changed values (dotted keys, as for
:meth:`Scenario.with_overrides`) and the titles of the events switched off. Its :meth:`scenario`
is an ordinary validated :class:`Scenario`, so what the dashboard shows is what ``sim.run`` gives,
and what it exports is what ``hedgesim run`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sim.quantities import Dist
from sim.scenario import Scenario

#: Runs per ensemble in the dashboard: bands are steady at this size and an update takes well under 1 s.
RUNS = 200
#: Seed when the scenario gives none: fixed, so the baseline and every change share their noise.
DEFAULT_SEED = 1


@dataclass(frozen=True)
class Knob:
    """One control: the value it sets, its range (or its choices), its unit and a line a student can read.

    A knob with ``choices`` is a choice among named values (a drop-down); any other is a slider.
    """

    key: str  # dotted path, as for Scenario.with_overrides
    label: str
    unit: str
    help: str
    low: float = 0.0
    high: float = 1.0
    step: float = 0.05
    choices: tuple[tuple[str, str], ...] = ()  # (value, what it means)

    def value_in(self, scenario: Scenario) -> float | str | Dist:
        """The knob's value in a scenario (a parameter's default where the file gives none)."""
        node: Any = scenario
        for part in self.key.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return node


#: How the powers' policies move (``scenario.decisions``), as a class reads the choice.
DECISIONS = (
    ("historical", "history: the dated events only"),
    ("strategic", "strategy: the powers choose"),
    ("both", "both: events, and choices besides"),
)

#: The small state's priorities: (parameter, label, what it means, slider top), each a weight at unit
#: temperature (docs/ODD.md, section 7).
PRIORITIES = (
    ("weight_aid", "Aid", "Economic: how much the credible aid a power gives counts.", 10.0),
    ("weight_overdependence", "Dominance denial", "Economic: the cost of depending on one power.", 10.0),
    (
        "weight_protection",
        "Protection",
        "Security: protection a power offers against the others' threat.",
        150.0,
    ),
    (
        "weight_threat",
        "Threat",
        "Security: the threat a power poses (its might and presence, times its hostility).",
        10.0,
    ),
    (
        "weight_regime",
        "Regime security",
        "Security and diplomacy: non-interference valued; pressure and tension hurt.",
        10.0,
    ),
    ("weight_entrapment", "Entrapment", "Security: risk of being dragged into a power's rivalries.", 10.0),
)

#: What a top-tier partnership changes (the only places a tier enters the model), 0 to 1 each.
PARTNERSHIP = (
    ("tier_credibility", "Aid credibility", "Share of a partner's aid discounted outside the top tier."),
    ("tier_security", "Security cooperation", "Reach a top-tier partner has without presence of its own."),
    ("tier_trust", "Trust", "Share of a top-tier partner's hostility the small state discounts."),
)


def _top(value: float, top: float) -> float:
    """A slider's top: ``top``, or twice the scenario's value where that is larger."""
    return top if value <= top else float(round(2 * value, -1 if value > 10 else 0))


def knobs(scenario: Scenario) -> list[tuple[str, list[Knob]]]:
    """The controls for a scenario, in groups: how the powers decide, one group per great power,
    the small state's priorities, and what a partnership changes (the last two on their own tab)."""
    groups: list[tuple[str, list[Knob]]] = []
    standing = scenario.parameters.standing_value
    standing = standing.mean if isinstance(standing, Dist) else float(standing)
    rivalry = scenario.parameters.rivalry
    rivalry = rivalry.mean if isinstance(rivalry, Dist) else float(rivalry)
    groups.append(
        (
            "How the powers decide",
            [
                Knob(
                    "scenario.decisions",
                    "Who moves the powers",
                    "",
                    "History replays the record; strategy lets each power choose its aid, presence, "
                    "pressure and engagement every quarter.",
                    choices=DECISIONS,
                ),
                Knob(
                    "parameters.standing_value",
                    "Value of standing",
                    "budget-quarters",
                    "What full standing with the small state is worth to a power (0: it spends nothing).",
                    0.0,
                    _top(standing, 40.0),
                    0.5,
                ),
                Knob(
                    "parameters.rivalry",
                    "Rivalry",
                    "",
                    "How much more standing is worth to a power whose rival is ahead (0: none).",
                    0.0,
                    _top(rivalry, 5.0),
                    0.1,
                ),
            ],
        )
    )
    for p in scenario.powers:
        actor = scenario.actors[p]
        budget = float(actor.budget)  # type: ignore[union-attr]
        top = max(100.0, 2 * budget)
        top = float(round(top, -1)) if top > 100 else top
        groups.append(
            (
                actor.name,
                [
                    Knob(
                        f"actors.{p}.budget",
                        "Aid budget",
                        "USD m / quarter",
                        "The most aid and investment it can commit each quarter.",
                        0.0,
                        top,
                        1.0,
                    ),
                    Knob(
                        f"actors.{p}.interest",
                        "Strategic interest",
                        "0 to 1",
                        "How much it cares about the small state: what it will spend on its standing there.",
                        0.0,
                        1.0,
                        0.05,
                    ),
                    Knob(
                        f"actors.{p}.conditionality",
                        "Conditionality",
                        "0 to 1",
                        "How much it values good governance: what drives its pressure (0: no strings).",
                        0.0,
                        1.0,
                        0.05,
                    ),
                ],
            )
        )
    small = scenario.actors[scenario.small].name

    def weight(key: str) -> float:
        v = getattr(scenario.parameters, key)
        return v.mean if isinstance(v, Dist) else float(v)

    groups.append(
        (
            f"{small}'s priorities",
            [
                Knob(
                    f"parameters.{k}",
                    label,
                    "",
                    text,
                    0.0,
                    _top(weight(k), top),
                    1.0 if top > 20 else 0.1,
                )
                for k, label, text, top in PRIORITIES
            ],
        )
    )
    groups.append(
        (
            "What a top-tier partnership changes",
            [
                Knob(f"parameters.{k}", label, "0 to 1", text, 0.0, 1.0, 0.05)
                for k, label, text in PARTNERSHIP
            ],
        )
    )
    return groups


def all_knobs(scenario: Scenario) -> dict[str, Knob]:
    return {k.key: k for _, group in knobs(scenario) for k in group}


@dataclass(frozen=True)
class Setting:
    """A scenario as loaded, the values changed from it and the events switched off."""

    base: Scenario
    values: tuple[tuple[str, float | str], ...] = ()
    off: frozenset[str] = field(default_factory=frozenset)

    @property
    def seed(self) -> int:
        return self.base.scenario.seed if self.base.scenario.seed is not None else DEFAULT_SEED

    def changed(self) -> bool:
        return bool(self.values or self.off)

    def with_value(self, key: str, value: float | str) -> Setting:
        """The setting with one knob moved; moving it back to the scenario's value removes the change."""
        rest = tuple((k, v) for k, v in self.values if k != key)
        knob = all_knobs(self.base).get(key)
        original = knob.value_in(self.base) if knob else None
        if isinstance(value, str):
            if value == original:
                return replace(self, values=rest)
        elif isinstance(original, int | float) and abs(float(original) - value) < 1e-12:
            return replace(self, values=rest)
        else:
            value = float(value)
        return replace(self, values=tuple(sorted((*rest, (key, value)))))

    def with_event(self, title: str, on: bool) -> Setting:
        return replace(self, off=self.off - {title} if on else self.off | {title})

    def reset(self) -> Setting:
        return Setting(self.base)

    def value(self, knob: Knob) -> float | str:
        """What the knob shows: the changed value, else the scenario's (a distribution's mean)."""
        for k, v in self.values:
            if k == knob.key:
                return v
        original = knob.value_in(self.base)
        if isinstance(original, str):
            return original
        return original.mean if isinstance(original, Dist) else float(original)

    def scenario(self, runs: int | None = None) -> Scenario:
        """The changed scenario, validated (``runs`` and the seed written in, when runs is given)."""
        sc = self.base.without_events(*sorted(self.off)) if self.off else self.base
        changes: dict[str, Any] = dict(self.values)
        if runs is not None:
            changes |= {"scenario.runs": runs, "scenario.seed": self.seed}
        return sc.with_overrides(changes)

    def export_toml(self, runs: int = RUNS) -> str:
        """A scenario file of this setting that ``sim.load_scenario`` reads and ``sim.run`` reproduces."""
        sc = self.scenario(runs)
        changes = [f"  {k} = {_shown(v)}" for k, v in self.values] + [
            f"  event off: {t}" for t in sorted(self.off)
        ]
        if self.changed():
            sc = sc.with_overrides(
                {"scenario.name": f"{sc.name}-dashboard", "scenario.title": f"{sc.scenario.title} (changed)"}
            )
        header = (
            f"Exported from the hedgesim dashboard: {self.base.name} ({self.base.source})\n"
            + (f"Changes from it:\n{chr(10).join(changes)}\n" if changes else "No changes from it.\n")
            + f"Run it again with: hedgesim run <this file>  ({runs} runs, seed {self.seed})"
        )
        return sc.to_toml(header)


def _shown(value: float | str) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value:g}"


#: Limits on a file opened in the page (a classroom server must not be made to read or compute
#: without bound): its size, and the quarters from start to end (100 years; the bundled history
#: has 67).
MAX_BYTES = 256 * 1024
MAX_STEPS = 400


def load_text(name: str, text: str | None, size: int | None = None) -> Scenario:
    """A scenario from a file's text (an upload), validated like a file on disk, within the limits of
    a page: at most :data:`MAX_BYTES` and :data:`MAX_STEPS`, and it may extend only a bundled scenario.

    The text is written into a fresh temporary folder beside copies of the bundled scenarios, so a
    counterfactual that says ``extends = "csp2023.toml"`` finds what it extends; nothing else on the
    server can be extended, and no error tells whether another path exists. Errors name the file.
    ``size`` is the file's size in bytes when the page did not send the text (too large).
    """
    import shutil
    import tempfile
    from pathlib import Path

    from sim.errors import ScenarioError
    from sim.scenario import bundled_dir, bundled_scenarios, load_scenario

    safe = Path(name).name[:100] or "scenario.toml"
    size = len(text.encode("utf-8")) if text is not None else size or 0
    if text is None or size > MAX_BYTES:
        limit = f"the dashboard opens files up to {MAX_BYTES // 1024} KiB"
        raise ScenarioError(safe, None, f"is too large ({size / 1024:.0f} KiB); {limit}")
    bundled = bundled_scenarios()
    _check_extends(safe, text, sorted(p.name for p in bundled.values()))
    with tempfile.TemporaryDirectory(prefix="hedgesim-") as tmp:
        for path in bundled.values():
            shutil.copy(path, Path(tmp) / path.name)
        if (bundled_dir() / "parameters").is_dir():  # the bundled scenarios' parameters files
            shutil.copytree(bundled_dir() / "parameters", Path(tmp) / "parameters")
        target = Path(tmp) / safe
        target.write_text(text, encoding="utf-8")
        try:
            sc = load_scenario(target)
        except ScenarioError as err:  # name the file as the user knows it, not the temporary copy
            source = safe if err.source == str(target) else err.source.replace(tmp + "/", "")
            raise ScenarioError(source, err.key, err.problem, err.line) from None
    if sc.steps > MAX_STEPS:
        raise ScenarioError(
            safe,
            "scenario.end",
            f"{sc.steps} quarters from start to end; the dashboard runs at most {MAX_STEPS} "
            "(use hedgesim run for longer horizons)",
        )
    sc._source = safe
    return sc


def _check_extends(source: str, text: str, bundled: list[str]) -> None:
    """An opened file may extend a bundled scenario, by its file name, and nothing else."""
    import tomllib

    from sim.errors import ScenarioError
    from sim.quantities import found

    try:
        meta = tomllib.loads(text).get("scenario")
    except Exception:  # noqa: BLE001 (load_scenario reports the syntax error with its line)
        return
    if isinstance(meta, dict) and "parameters_file" in meta:
        raise ScenarioError(
            source,
            "scenario.parameters_file",
            "a file opened in the dashboard cannot include a parameters file; extend a bundled scenario",
        )
    if not isinstance(meta, dict) or "extends" not in meta or meta["extends"] in bundled:
        return
    raise ScenarioError(
        source,
        "scenario.extends",
        f"a file opened in the dashboard can extend only a bundled scenario ({', '.join(bundled)}), "
        f"found {found(meta['extends'])}",
    )
