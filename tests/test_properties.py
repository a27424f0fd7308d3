"""Property tests (Hypothesis): random scenarios, random spellings, random bad input.

* Random valid scenarios (a cast of 2-6 powers with random ids, events of every kind in the
  catalogue, random uncertain parameters) keep every documented invariant: shares in [0, 1] that
  sum to 1, aid >= 0, every other output in [0, 1], nothing but finite numbers, and each run the
  same alone and inside any batch.
* The numbers depend on a scenario's meaning, not its spelling: the order of tables and keys,
  comments, whitespace and inline or separate tables change no byte of summary.csv.
* Random invalid documents and ``--set`` values end with exit code 2 and one line, never a traceback.

Scenarios are generated from the JSON Schema of the scenario's own definitions (event kinds, their
fields and ranges, the parameters), so a new kind or parameter is fuzzed without changing this file.
Budget: the "ci" profile of tests/conftest.py (20 examples each, derandomized, so CI is repeatable);
``HYPOTHESIS_PROFILE=long`` searches 500 examples each.
"""

from __future__ import annotations

import functools
import tomllib
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

import tomli_w  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sim  # noqa: E402
from sim.cli import main  # noqa: E402
from sim.events import KINDS, SHOCK_ATTRIBUTES  # noqa: E402
from sim.quantities import format_date  # noqa: E402
from sim.scenario import GreatPower, Parameters, Scenario  # noqa: E402

from .conftest import SCENARIOS, TOY, check_invariants  # noqa: E402

_LOWER = "abcdefghijklmnopqrstuvwxyz"
IDS = st.builds(str.__add__, st.sampled_from(_LOWER), st.text(_LOWER + "0123456789_", max_size=7)).filter(
    lambda s: s != "default"
)
#: Text as files hold it: any letters, quotes, markup, dollars, line breaks.
TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x3FF) | st.sampled_from("\n\t\"'\\$<>&\u4e2d"),
    min_size=1,
    max_size=20,
)


# ---- generating valid scenarios from the schema -------------------------------------------------


def _bounds(schema: dict[str, Any]) -> tuple[str, float, float] | None:
    """("number" | "uncertain" | "integer", low, high) of a numeric property's schema, else None."""
    options = schema.get("anyOf", [schema])
    numbers = [o for o in options if o.get("type") in ("number", "integer")]
    if not numbers:
        return None
    n = numbers[0]
    kind = "uncertain" if any(o.get("type") == "object" for o in options) else n["type"]
    return kind, n.get("minimum", -1e6), n.get("maximum", 1e6)


@st.composite
def numbers(draw, low: float, high: float) -> float:
    """A number in [low, high]: an edge, a round value, or anything between."""
    return draw(
        st.one_of(
            st.sampled_from([low, high]),
            st.floats(low, high, allow_nan=False, allow_infinity=False),
        )
    )


@st.composite
def uncertain(draw, low: float, high: float) -> float | dict[str, float]:
    """A fixed number or a distribution over [low, high] (uniform, normal or triangular)."""
    form = draw(st.sampled_from(["fixed", "uniform", "normal", "triangular"]))
    if form == "fixed":
        return draw(numbers(low, high))
    a, b = sorted([draw(numbers(low, high)), draw(numbers(low, high))])
    if form == "uniform":
        return {"low": a, "high": b}
    if form == "normal":
        return {"mean": draw(numbers(low, high)), "sd": draw(numbers(0, (high - low) / 2))}
    return {"low": a, "mode": draw(numbers(a, b)), "high": b}


def _value(draw, schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return draw(st.sampled_from(schema["enum"]))
    kind, low, high = _bounds(schema)  # type: ignore[misc]
    if kind == "integer":
        return draw(st.integers(int(low), int(min(high, 60))))
    if kind == "number":
        return draw(numbers(low, high))
    return draw(uncertain(low, high))


@functools.cache
def _schema(model: Any) -> dict[str, Any]:
    """A model's JSON Schema: its "properties" and its "required" names."""
    return model.model_json_schema()


@st.composite
def shares(draw, powers: list[str]) -> dict[str, float]:
    """Shares over the powers that sum to 1, some possibly 0, one possibly all of it."""
    if draw(st.booleans()) and len(powers) > 1 and draw(st.integers(0, 3)) == 0:
        whole = draw(st.sampled_from(powers))
        return {p: float(p == whole) for p in powers}
    weights = [draw(st.integers(0, 10)) for _ in powers]
    if sum(weights) == 0:
        weights[0] = 1
    return {p: w / sum(weights) for p, w in zip(powers, weights, strict=True)}


def _targets(powers: list[str], small: str) -> list[str]:
    actors = sorted([*powers, small])
    dyads = [f"tension.{a}-{b}" for i, a in enumerate(actors) for b in actors[i + 1 :]]
    return [f"{p}.{a}" for p in powers for a in SHOCK_ATTRIBUTES] + [
        f"{small}.regime_pressure",
        *dyads,
    ]


@st.composite
def events(draw, powers: list[str], small: str, start: int, end: int) -> list[dict[str, Any]]:
    """Events of every kind in the catalogue (each kind at least once when there is room)."""
    kinds = list(KINDS)
    extra = draw(st.lists(st.sampled_from(kinds), max_size=4))
    out = []
    for n, kind in enumerate(draw(st.permutations(kinds)) + extra):
        ev: dict[str, Any] = {
            "kind": kind,
            "date": format_date(draw(st.integers(start, end))),
            "title": f"{n} {draw(TEXT)}",
        }
        schemas = _schema(KINDS[kind])
        for name, schema in schemas["properties"].items():
            if name in ev or name == "source" or name not in schemas["required"] and draw(st.booleans()):
                continue
            if name == "power":
                ev[name] = draw(st.sampled_from(powers))
            elif name == "target":
                ev[name] = draw(st.sampled_from(_targets(powers, small)))
            else:
                ev[name] = _value(draw, schema)
        out.append(ev)
    return out


@st.composite
def scenarios(draw) -> dict[str, Any]:
    """A valid scenario as TOML data: 2-6 powers with random ids, events, uncertain parameters."""
    ids = draw(st.lists(IDS, min_size=3, max_size=7, unique=True))
    small, powers = ids[0], ids[1:]
    start = draw(st.integers(1990 * 4, 2030 * 4))
    end = start + draw(st.integers(1, 24))
    actors: dict[str, Any] = {
        small: {
            "role": "small_state",
            "name": draw(TEXT),
            "alignment": draw(shares(powers)),
            "dependence": draw(shares(powers)),
            "tier": {p: draw(st.sampled_from([1, 2, 3])) for p in powers if draw(st.booleans())},
        }
    }
    for p in powers:
        power: dict[str, Any] = {"role": "great_power", "name": draw(TEXT)}
        for name, schema in _schema(GreatPower)["properties"].items():
            if name in ("role", "name") or (name != "budget" and draw(st.booleans())):
                continue
            bounds = _bounds(schema)
            if bounds:
                power[name] = draw(numbers(bounds[1], min(bounds[2], 2000)))
        actors[p] = power
    parameters = {}
    for name, schema in _schema(Parameters)["properties"].items():
        if draw(st.integers(0, 2)) == 0:
            parameters[name] = _value(draw, schema)
    raw = {
        "scenario": {
            "name": "fuzz",
            "title": draw(TEXT),
            "start": format_date(start),
            "end": format_date(end),
            "runs": 6,
            "seed": draw(st.integers(0, 2**63 - 1)),
        },
        "actors": actors,
        "tension": {"default": draw(numbers(0, 1))},
        "parameters": parameters,
        "events": draw(events(powers, small, start, end)),
    }
    for a, b in draw(st.lists(st.sampled_from([(a, b) for a in ids for b in ids if a < b]), unique=True)):
        raw["tension"][f"{a}-{b}" if draw(st.booleans()) else f"{b}-{a}"] = draw(numbers(0, 1))
    return raw


def _scenario(raw: dict[str, Any]) -> Scenario | None:
    """The scenario, or None when a cross-field rule refuses it (e.g. all influence weights 0)."""
    from sim.errors import ScenarioError
    from sim.scenario import _build

    try:
        return _build(raw, "<fuzz>", "", text=None)
    except ScenarioError as err:
        if "influence_* weights" in err.problem:
            return None
        raise


# ---- invariants ---------------------------------------------------------------------------------


@given(raw=scenarios())
def test_random_scenarios_keep_every_invariant(raw):
    sc = _scenario(raw)
    hypothesis.assume(sc is not None)
    ens = sim.run(sc, runs=6, progress=False)
    check_invariants(ens)


def test_dependence_stays_on_the_simplex_after_negative_cooperation(toy):
    """The case of the issue: all dependence on one power, then a cooperation event with it that
    lowers it to nothing: the shares used to drift below 1 (0.872 in csp2023 by 2022Q3)."""
    sc = toy(
        '\n[[events]]\nkind = "cooperation"\npower = "red"\ndate = "2001Q1"\ntitle = "cut"\nmagnitude = -1.0\n'
    ).with_overrides({"actors.isle.dependence": {"red": 1.0, "blue": 0.0}})
    check_invariants(sim.run(sc, runs=20, progress=False))


@given(raw=scenarios(), data=st.data())
def test_each_run_is_the_same_alone_and_in_any_batch(raw, data):
    sc = _scenario(raw)
    hypothesis.assume(sc is not None)
    whole = sim.run(sc, runs=6, progress=False)
    chunk = data.draw(st.integers(1, 5), label="chunk size")  # 1: every run alone
    split = sim.run(sc, runs=6, chunk_size=chunk, progress=False)
    first = data.draw(st.integers(1, 5), label="a smaller batch")
    part = sim.run(sc, runs=first, progress=False)
    assert np.array_equal(whole.data, split.data)
    assert np.array_equal(whole.data[..., :first], part.data)


# ---- spelling ----------------------------------------------------------------------------------


def _inline(v: Any, draw) -> str:
    """A TOML value, spelt at random: spacing, key order, 2.0 as 2, inline tables."""
    if isinstance(v, dict):
        keys = draw(st.permutations(list(v)))
        sep = draw(st.sampled_from([", ", ",", " ,  "]))
        return "{ " + sep.join(f"{k}{draw(_EQ)}{_inline(v[k], draw)}" for k in keys) + " }"
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 and draw(st.booleans()):
        return str(int(v))
    return tomli_w.dumps({"v": v}).partition(" = ")[2].strip()


_EQ = st.sampled_from([" = ", "=", "  =\t", " =  "])
_COMMENT = st.sampled_from(["", "", "  # a comment", "\t# = [x] 'quoted' # again", " #"])


def _table(header: str, body: dict[str, Any], draw, split: bool = True) -> list[str]:
    """A table: its keys in any order, nested tables inline or (``split``) as their own [header.key]."""
    lines = [f"{draw(st.sampled_from(['', ' ', '  ']))}[{header}]{draw(_COMMENT)}"]
    later = []
    for k in draw(st.permutations(list(body))):
        v = body[k]
        if (
            split
            and isinstance(v, dict)
            and v
            and all(not isinstance(x, dict) for x in v.values())
            and draw(st.booleans())
        ):
            later += _table(f"{header}.{k}", v, draw)
        else:
            lines.append(
                f"{draw(st.sampled_from(['', '  ']))}{k}{draw(_EQ)}{_inline(v, draw)}{draw(_COMMENT)}"
            )
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "# a comment line", "   ", "#[scenario]"])))
    return lines + later


def respell(raw: dict[str, Any], draw) -> str:
    """The same scenario in another spelling: tables and keys in any order, comments, blank lines,
    whitespace, inline or separate tables, the actors' tables too (the powers are taken in
    alphabetical order). The events keep their order: a timeline's order is its meaning."""
    blocks = [_table("scenario", raw["scenario"], draw)]
    blocks += [_table(f"actors.{k}", a, draw) for k, a in raw["actors"].items()]
    blocks += [_table(name, raw[name], draw) for name in ("tension", "parameters") if raw.get(name)]
    events = [line for ev in raw["events"] for line in _table("[events]", ev, draw, split=False)]
    order = draw(st.permutations(range(len(blocks) + 1)))
    arranged = [events if k == len(blocks) else blocks[k] for k in order]
    return (
        "\n".join(line for block in arranged for line in [*block, draw(st.sampled_from(["", "\n"]))]) + "\n"
    )


def _summary(path, out) -> bytes:
    res = CliRunner().invoke(
        main, ["run", str(path), "--runs", "5", "--no-figures", "--no-trajectories", "-q", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    return (out / "summary.csv").read_bytes()


@pytest.mark.slow
@given(raw=scenarios(), data=st.data())
def test_spelling_changes_no_byte_of_the_summary(raw, data, tmp_path_factory):
    hypothesis.assume(_scenario(raw) is not None)
    folder = tmp_path_factory.mktemp("spelling")
    plain, other = folder / "plain.toml", folder / "other.toml"
    plain.write_text(tomli_w.dumps(raw), encoding="utf-8")
    text = respell(raw, data.draw)
    other.write_text(text, encoding="utf-8")
    assert tomllib.loads(text) == raw  # the same document, spelt otherwise
    assert _summary(plain, folder / "a") == _summary(other, folder / "b")


# ---- bad input ---------------------------------------------------------------------------------

#: TOML values of every type, of sizes a file holds (integers within TOML's 64 bits).
_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 4, 2**31, 10**7 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x3FF), max_size=30),
    st.text(st.sampled_from("a1 \n\r\t\u2028\x1b\"'$<>é"), max_size=8),  # line breaks and other controls
    st.sampled_from(["2023Q3", "2023-07", "5", "true", "great_power", "small_state", "aid", "csp2023.toml"]),
    st.dates(),
    st.datetimes(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(IDS, inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a TOML document (keys and list indices), the root excluded."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += _paths(v, (*prefix, k))
    return out


@st.composite
def mutants(draw) -> dict[str, Any]:
    """A valid scenario with one to three changes: a value replaced by any TOML value, a key
    removed, or an unknown key added, anywhere in the document."""
    raw = draw(scenarios())
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(raw)
        if not paths:
            break
        leaves = [p for p in paths if not any(q[: len(p)] == p and q != p for q in paths)]
        path = draw(st.sampled_from(leaves if draw(st.integers(0, 3)) else paths))  # mostly a value
        parent = raw
        for part in path[:-1]:
            parent = parent[part]
        what = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if what == "replace":
            parent[path[-1]] = draw(st.one_of(_SCALARS, _SCALARS, _VALUES))
        elif what == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(IDS)] = draw(_VALUES)
    return raw


def _one_line_or_ok(res) -> None:
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 2), (res.exit_code, res.output)
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert len(res.output.splitlines()) == 1 and res.output.startswith("hedgesim: "), res.output


@given(raw=mutants())
def test_random_bad_documents_give_one_line(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "bad.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(path)])
    _one_line_or_ok(res)
    assert len(res.output.splitlines()) == 1


@given(data=st.binary(min_size=1, max_size=6), at=st.integers(0, 10**6), cut=st.integers(0, 8))
def test_random_bytes_in_a_file_give_one_line(data, at, cut, tmp_path_factory):
    text = (SCENARIOS / "csp2023.toml").read_bytes()
    at %= len(text)
    path = tmp_path_factory.mktemp("bytes") / "bad.toml"
    path.write_bytes(text[:at] + data + text[at + cut :])
    _one_line_or_ok(CliRunner().invoke(main, ["validate", str(path)]))


_KEYS = st.one_of(
    st.sampled_from(
        [
            "inertia",
            "temperature",
            "scenario.runs",
            "scenario.seed",
            "scenario.start",
            "scenario.title",
            "scenario.extends",
            "scenario.drop_events",
            "actors.red.budget",
            "actors.isle.alignment",
            "actors.isle.tier.red",
            "actors.isle.role",
            "tension.red-blue",
            "tension.default",
            "events",
            "parameters",
            "actors",
        ]
    ),
    st.lists(IDS | st.text(max_size=5), min_size=1, max_size=3).map(".".join),
)
_SET_TEXT = st.one_of(
    _VALUES.map(
        lambda v: tomli_w.dumps({"v": v}).partition(" = ")[2].strip() if not isinstance(v, dict) else "{}"
    ),
    st.text(
        st.characters(min_codepoint=1, max_codepoint=0x3FF) | st.sampled_from("=[]{}\"'\n.,#"), max_size=20
    ),
)


@given(settings_=st.lists(st.tuples(_KEYS, _SET_TEXT), min_size=1, max_size=3))
def test_random_set_values_give_one_line(settings_, tmp_path_factory):
    folder = tmp_path_factory.mktemp("set")
    (folder / "toy.toml").write_text(TOY)
    args = [
        "run",
        str(folder / "toy.toml"),
        "--runs",
        "2",
        "--no-figures",
        "--no-trajectories",
        "-q",
        "--out",
        str(folder / "o"),
    ]
    for key, value in settings_:
        args += ["--set", f"{key}={value}"]
    _one_line_or_ok(CliRunner().invoke(main, args))


# ---- the research commands' small languages: --param, --metric, --condition, --parameter ---------

#: Pieces of the texts a user types, real and broken: names, numbers of every spelling, operators.
_PIECES = st.sampled_from(
    [
        "inertia",
        "parameters.inertia",
        "events[3].magnitude",
        "events[-1].x",
        "actors.japan.budget",
        "tension.china-us",
        "cambodia.hedging_index",
        "japan.influence",
        "mean(",
        ")",
        "@",
        "@end",
        "@2023Q3",
        "@2099Q1",
        "@2020Q9",
        "..",
        ",",
        "=",
        ":",
        ">",
        ">=",
        "<",
        " ",
        "0",
        "0.1",
        "-1",
        "1e999",
        "nan",
        "inf",
        "\u00b2",
        "\u0663",
        "99999999999",
        "1_000",
        "0x10",
        "\n",
        "\x00",
    ]
)
_TYPED = st.lists(_PIECES | TEXT, min_size=0, max_size=8).map("".join)


@functools.cache
def _flagship() -> Scenario:
    return sim.load_scenario(SCENARIOS / "csp2023.toml")


def _one_line_or_value(parse, text):
    from sim.errors import HedgesimError

    try:
        return parse(text)
    except HedgesimError as err:
        assert "\n" not in str(err) and str(err).strip(), repr(str(err))
        return None


@given(text=_TYPED)
def test_random_param_texts_give_a_range_or_one_line(text):
    from sim.parameters import parse_range

    r = _one_line_or_value(lambda t: parse_range(_flagship(), t), text)
    if r is not None:
        assert r.parameter.low <= r.low < r.high <= r.parameter.high
        assert r.levels is None or r.levels >= 2


@given(text=_TYPED)
def test_random_metric_texts_give_a_metric_or_one_line(text):
    from sim.chunks import output_names
    from sim.sweeps import parse_metric

    sc = _flagship()
    m = _one_line_or_value(lambda t: parse_metric(t, sc, output_names(sc, 1)), text)
    if m is not None:
        assert 0 <= m.first <= m.last < len(sc.dates)


@given(text=_TYPED)
def test_random_conditions_and_priors_give_a_value_or_one_line(text):
    from sim.calibration import parse_prior
    from sim.ema import parse_condition

    c = _one_line_or_value(parse_condition, text)
    if c is not None:
        assert c[0].strip() and np.isfinite(c[2])
    p = _one_line_or_value(parse_prior, text)
    if p is not None:
        assert p.low < p.high
