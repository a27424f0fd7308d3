"""The compiled step (sim/kernel.py) against the agents' numpy methods, which state the equations.

Both engines do the same arithmetic in the same order, with the same ``exp`` (sim/exponential.py,
made of exactly rounded operations) and the same float32 ``log`` in the noise (Cephes' ``logf``,
sim/noise.py), so they agree to the last bit: every output of every case below is byte-identical.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.model import HedgingModel
from sim.noise import Streams

from .conftest import SCENARIOS

#: Scenario, --set overrides: mechanisms switched off, each way of deciding, uncertain parameters.
CASES = [
    ("csp2023", {}),
    ("csp2023", {"scenario.decisions": "strategic"}),
    ("csp2023", {"scenario.decisions": "historical"}),
    (
        "csp2023",
        {
            "mechanisms.aid_credibility": False,
            "mechanisms.security_cooperation": False,
            "mechanisms.trust": False,
        },
    ),
    ("csp2023", {"mechanisms.decisions": False}),
    (
        "csp2023",
        {
            "scenario.decisions": "strategic",
            "policy_rate": {"low": 0.2, "high": 0.8},
            "weight_protection": {"mean": 40.0, "sd": 10.0},
            "tier_trust": {"low": 0.2, "mode": 0.5, "high": 0.9},
            "influence_aid": {"low": 0.2, "high": 0.6},
            "aid_noise": {"low": 0.05, "high": 0.3},
            "actors.japan.decides": ["aid", "engagement"],
        },
    ),
    ("history_2010", {}),
    ("history_2010", {"scenario.decisions": "strategic", "mechanisms.trust": False}),
    ("ruritania", {}),
    ("ruritania", {"scenario.decisions": "strategic", "upgrade_engagement": 0.3}),
    ("ruritania", {"scenario.decisions": "historical", "mechanisms.aid_credibility": False}),
]


def both(spec, runs, seed=7):
    out = []
    for engine in ("numpy", "kernel"):
        m = HedgingModel(spec, runs, seed, engine=engine)
        m.run()
        out.append(m)
    return out


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_kernel_matches_numpy_on_every_output(name, overrides):
    spec = sim.load_scenario(SCENARIOS / f"{name}.toml").with_overrides(overrides)
    ref, fast = both(spec, 64)
    assert ref.variables == fast.variables
    assert np.isfinite(fast.record).all()
    for v, name_v in enumerate(ref.variables):
        differ = np.flatnonzero(fast.record[v] != ref.record[v])
        assert differ.size == 0, (name_v, float(np.abs(fast.record[v] - ref.record[v]).max()))
    # The final states are the same bits too (tier ages and all).
    for a, b in zip(ref.state.arrays(), fast.state.arrays(), strict=True):
        assert a.tobytes() == b.tobytes()


def test_the_partnership_changes_something_in_both_engines(csp2023):
    """A guard against a kernel that ignores a switch: the channels change outputs in both."""
    off = csp2023.with_overrides(
        {
            "mechanisms.aid_credibility": False,
            "mechanisms.security_cooperation": False,
            "mechanisms.trust": False,
        }
    )
    for engine in ("numpy", "kernel"):
        a, b = HedgingModel(csp2023, 8, 1, engine=engine), HedgingModel(off, 8, 1, engine=engine)
        a.run(), b.run()
        assert not np.array_equal(a.record, b.record), engine


def test_run_alone_equals_run_in_a_batch_with_the_kernel(csp2023):
    """Runs go through the kernel in blocks; a run's numbers never depend on its neighbours."""
    spec = csp2023.with_overrides({"policy_rate": {"low": 0.2, "high": 0.8}})
    batch = HedgingModel(spec, 700, seed=11, engine="kernel")
    batch.run()
    for k in (0, 1, 127, 128, 300, 699):
        alone = HedgingModel(spec, np.array([k]), seed=11, engine="kernel")
        alone.run()
        assert np.array_equal(alone.record[:, :, 0], batch.record[:, :, k]), k
    part = HedgingModel(spec, np.arange(650, 130, -3), seed=11, engine="kernel")
    part.run()
    assert np.array_equal(part.record, batch.record[:, :, np.arange(650, 130, -3)])


def test_engine_is_chosen_by_size_argument_or_environment(csp2023, monkeypatch):
    import sys

    from sim.model import KERNEL_FROM, choose_engine

    monkeypatch.delenv("HEDGESIM_ENGINE", raising=False)
    loaded = sys.modules.pop("sim.kernel", None)  # as in a process that has not loaded the kernel
    try:
        assert choose_engine(KERNEL_FROM - 1) == "numpy" and choose_engine(KERNEL_FROM) == "kernel"
        assert HedgingModel(csp2023, 10, 1).engine == "numpy"  # small work: not worth the load
    finally:
        if loaded is not None:
            sys.modules["sim.kernel"] = loaded
    import sim.kernel  # noqa: F401

    assert choose_engine(10) == "kernel"  # loaded already: its cost is paid
    assert HedgingModel(csp2023, 10, 1).engine == "kernel"
    monkeypatch.setenv("HEDGESIM_ENGINE", "numpy")
    assert choose_engine(10 * KERNEL_FROM) == "numpy"
    assert HedgingModel(csp2023, 1, 1).engine == "numpy"
    assert HedgingModel(csp2023, 1, 1, engine="kernel").engine == "kernel"
    with pytest.raises(ValueError, match="engine"):
        HedgingModel(csp2023, 1, 1, engine="fortran")


def test_compiled_noise_is_numpys_to_the_bit():
    """The kernel's keys, hash, uniforms, log and sine, then Box-Muller: numpy's bits."""
    from sim.kernel import box_muller

    runs = np.concatenate([np.arange(5000), np.array([2**31 - 1, 2**40 + 3, 2**62])])
    streams = Streams(123456789, runs)
    keys = np.array([1, 2**63 + 5, 0xDEADBEEF], dtype=np.uint64)
    for step in (0, 1, 27, 10_000):
        want = streams.normals(keys, step).copy()
        logu = np.empty((keys.size, runs.size), np.float32)
        sine = np.empty_like(logu)
        box_muller(streams._base, keys, step, logu, sine, 0, runs.size)
        got = (np.sqrt(logu * np.float32(-2.0)) * sine).astype(np.float64)
        assert np.array_equal(got, want), step


def random_state(model: HedgingModel, rng: np.random.Generator) -> None:
    """A random valid state and random holds (as events could leave them), in place."""
    s, n = model.state, model.run_ids.size
    P, D = s.aid.shape[0], s.tension.shape[0]  # noqa: N806
    s.aid[:] = rng.gamma(2.0, 50.0, (P, n))
    s.policy[:] = rng.uniform(0.0, 1.0, s.policy.shape)
    s.policy[:, :, : n // 8] = 0.0  # contests where nobody competes
    s.influence[:] = rng.uniform(0.0, 1.0, (P, n))
    a = rng.dirichlet(np.ones(P), (s.alignment.shape[0], n))  # (dims, runs, powers)
    s.alignment[:] = a.transpose(0, 2, 1)
    s.dependence[:] = rng.dirichlet(np.ones(P), n).T
    s.tension[:] = rng.uniform(0.0, 1.0, (D, n))
    s.regime[:] = rng.uniform(0.0, 1.0, n)
    s.tier[:] = rng.integers(1, 4, (P, n))
    s.tier_age[:] = rng.integers(0, 8, (P, n))
    h = model.holds
    h.tier[:] = rng.integers(0, 4, P)
    h.aid_scale[:] = rng.uniform(0.0, 2.0, (P, n))
    h.aid_add[:] = rng.normal(0.0, 20.0, (P, n))
    h.presence_scale[:] = rng.uniform(0.0, 2.0, (P, n))
    h.presence_add[:] = rng.uniform(-0.3, 0.3, (P, n))
    model.budget[:] = rng.uniform(0.0, 500.0, (P, n))
    model.interest[:] = rng.uniform(0.0, 1.0, (P, n))
    model.conditionality[:] = rng.uniform(0.0, 1.0, (P, n))
    model.structural[:] = rng.dirichlet(np.ones(P), n).T
    model.tension_level[:] = rng.uniform(0.0, 1.0, (D, n))
    model._view = None


def test_the_compiled_max_min_and_clip_are_numpys_signed_zeros_and_nan_included():
    from sim.kernel import _clip, _maximum, _minimum

    special = [-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, np.inf, np.nan]
    for a in special:
        for b in special:
            assert np.array(_maximum(a, b)).tobytes() == np.maximum(a, b).tobytes(), (a, b)
            assert np.array(_minimum(a, b)).tobytes() == np.minimum(a, b).tobytes(), (a, b)
            for hi in special:
                expected = np.clip(np.array([a] * 40), b, hi)[0]
                assert np.array(_clip(a, b, hi)).tobytes() == expected.tobytes(), (a, b, hi)


def test_what_the_holds_leave_is_the_same_compiled(csp2023):
    """HedgingModel._derive on both engines from the same adversarial holds: scales and adds that
    leave attributes below 0 and above 1, dependence holds that empty every structural tie of some
    runs (their shares fall back to the initial ones), signed zeros: the same bits."""
    n = 400
    rng = np.random.default_rng(13)
    held = rng.choice([-2.0, -0.0, 0.0, 0.3, 1.0, 2.5], size=(11, 3, n)) * rng.uniform(0.5, 1.5, (11, 3, n))
    held[-1, :, : n // 4] = -5.0  # every structural tie lost: totals of 0
    tension = rng.uniform(-0.5, 0.5, (6, n))
    out = []
    for engine in ("numpy", "kernel"):
        m = HedgingModel(csp2023, n, seed=3, engine=engine)
        assert m.holds.block.shape == held.shape and m.holds.tension.shape == tension.shape
        m.holds.block[:] = held
        m.holds.tension[:] = tension
        m.attributes.fill(np.nan)
        m.tension_level.fill(np.nan)
        m._derive()
        out.append((m.attributes.tobytes(), m.tension_level.tobytes()))
        if engine == "numpy":
            assert (m.budget < 1.0).any() and (m.interest == 1.0).any() and (m.interest == 0.0).any()
            assert np.array_equal(m.structural[:, 0], m.base_structural[:, 0])  # the fallback
            assert not np.array_equal(m.structural[:, -1], m.base_structural[:, 0])
    assert out[0] == out[1]


@pytest.mark.parametrize("decisions", ["strategic", "historical"])
def test_one_step_from_random_valid_states_agrees_to_the_bit(csp2023, decisions):
    """From the same random state, one step of each engine: the same bits in every output."""
    spec = csp2023.with_overrides(
        {
            "scenario.decisions": decisions,
            "inertia": {"low": 0.1, "high": 0.9},
            "rivalry": {"low": 0.0, "high": 3.0},
            "alignment_noise": {"low": 0.0, "high": 1.0},
        }
    )
    models = []
    for engine in ("numpy", "kernel"):
        m = HedgingModel(spec, 300, seed=5, engine=engine)
        random_state(m, np.random.default_rng(2026))  # the same state for both
        m.apply_events = lambda t: None  # keep the random holds for this step
        m.decide_step = 0  # every power decides
        m.step()
        models.append(m)
    ref, fast = models
    assert ref.deciding and fast.deciding
    assert fast.record[:, 1].tobytes() == ref.record[:, 1].tobytes()
    # the policies moved (so the decisions were compared, not only copied)
    assert not np.array_equal(ref.state.policy, ref._next.policy)


def test_models_built_at_once_in_threads_never_share_a_record_buffer():
    """The dashboard's sessions and the classroom build models in threads: a reused record buffer
    must go to one of them only (without the lock in record_buffer, two threads took the same one)."""
    import sys
    import threading
    import time

    from sim.model import record_buffer

    shared = []

    def work(k):
        for _ in range(2000):
            buf = record_buffer((4, 8))
            buf[...] = k
            time.sleep(0)  # let another thread in while this one holds the buffer
            if not (buf == k).all():
                shared.append(k)
            del buf

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not shared


def test_threads_split_the_runs_and_change_no_bit(csp2023, monkeypatch):
    """A model's step on two threads, each on its own runs, gives the bits of one thread."""
    from sim.kernel import BLOCK, RUNS_PER_THREAD, split

    for n in (1, RUNS_PER_THREAD, 2 * RUNS_PER_THREAD + 7, 10_000):
        for k in (1, 2, 3, 8):
            parts = split(n, k)
            assert parts[0][0] == 0 and parts[-1][1] == n and len(parts) <= k
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))  # no gap
            assert all(lo % BLOCK == 0 and hi - lo >= RUNS_PER_THREAD for lo, hi in parts[1:])
    spec = csp2023.with_overrides({"policy_rate": {"low": 0.2, "high": 0.8}})
    records = []
    for threads in ("1", "2"):
        monkeypatch.setenv("HEDGESIM_THREADS", threads)
        m = HedgingModel(spec, 2 * RUNS_PER_THREAD + 300, seed=3, engine="kernel")
        assert len(m.kernel.parts) == int(threads)
        m.run()
        records.append(m.record.tobytes())
    assert records[0] == records[1]


@pytest.mark.parametrize("value", ["many", "0", "-1", "\u00b2", " 2"])
@pytest.mark.parametrize("engine", ["kernel", None])
def test_a_bad_thread_count_in_the_environment_is_refused(csp2023, monkeypatch, value, engine):
    """Refused whichever engine the work takes (a superscript two is a digit to Python, not a number)."""
    from sim.errors import HedgesimError

    monkeypatch.setenv("HEDGESIM_THREADS", value)
    with pytest.raises(
        HedgesimError, match=f"HEDGESIM_THREADS: expected a whole number >= 1, found {value!r}"
    ):
        HedgingModel(csp2023, 10, 1, engine=engine)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_a_forked_child_steps_on_threads_of_its_own(csp2023, monkeypatch):
    """A process forked after a threaded step (a user's multiprocessing pool on Linux) has no
    threads of the parent's pool: it must make its own, not wait for ones that are gone."""
    import multiprocessing

    from sim.kernel import RUNS_PER_THREAD

    monkeypatch.setenv("HEDGESIM_THREADS", "2")  # two threads even on one core
    parent = HedgingModel(csp2023, 2 * RUNS_PER_THREAD, seed=4, engine="kernel")
    assert len(parent.kernel.parts) == 2
    parent.run()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply_async(_threaded_record, (csp2023, 2 * RUNS_PER_THREAD)).get(timeout=120)
    assert child == parent.record.tobytes()


def _threaded_record(spec, runs):
    m = HedgingModel(spec, runs, seed=4, engine="kernel")
    m.run()
    return m.record.tobytes()


def test_a_models_maker_can_keep_it_to_one_thread(csp2023, monkeypatch):
    """The worker processes of an ensemble or a sweep, and Dask's tasks, ask for one thread."""
    from sim.chunks import simulate
    from sim.kernel import RUNS_PER_THREAD

    monkeypatch.setenv("HEDGESIM_THREADS", "2")
    assert len(HedgingModel(csp2023, 2 * RUNS_PER_THREAD, 1, engine="kernel").kernel.parts) == 2
    assert len(HedgingModel(csp2023, 2 * RUNS_PER_THREAD, 1, engine="kernel", threads=1).kernel.parts) == 1
    one = simulate(csp2023, 1, 0, 2 * RUNS_PER_THREAD, engine="kernel", threads=1)
    two = simulate(csp2023, 1, 0, 2 * RUNS_PER_THREAD, engine="kernel")
    assert one.tobytes() == two.tobytes()
