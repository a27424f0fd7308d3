"""sim.streaming: the statistics of an ensemble too large for memory, as its chunks come in.

They must be those of sim.statistics on the whole rows, to the bit, whatever the chunks, the
stages, the workers, and whether a bracket holds its quantile or misses it (then the rows are
computed again). Small blocks, pilots and margins make every path run on a few runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
import sim.ensemble
import sim.statistics
import sim.store
import sim.streaming
from sim.statistics import row_stats
from sim.streaming import Statistics, _pairwise, digest, stages
from tests.test_statistics import adversarial_rows


@pytest.fixture
def small(monkeypatch):
    """Blocks of 64 runs, a pilot of 256 and stages growing 4 times: every path on a few runs."""
    monkeypatch.setattr(sim.statistics, "BLOCK", 64)
    monkeypatch.setattr(sim.streaming, "PILOT", 256)


def test_blocks_are_summed_as_numpy_sums_them():
    rng = np.random.default_rng(3)
    stack, sums = np.empty((3, 64), np.int64), np.empty(64)
    for n in [*range(1, 300), 1023, 1024, 1025, 4096, 100_003]:
        x = rng.standard_normal(n + 5) * 10.0 ** rng.uniform(-8, 8, n + 5)
        assert _pairwise(x, 5, n, stack, sums) == np.add.reduce(x[5:]), n


def test_stages_cover_the_chunks_in_order():
    spans = [(a, min(a + 100, 2000)) for a in range(0, 2000, 100)]
    got = stages(spans, 256)
    assert [s for stage in got for s in stage] == spans
    assert [stage[0][0] for stage in got] == [0, 300, 1100]  # past 256, 1024 and 4096 runs


def summarise(rows: np.ndarray, chunk: int, late: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows (rows, runs) summarised chunk by chunk, stage by stage, as sim.chunks.compute does;
    with ``late``, the first ``late`` chunks of each stage after the first are digested with the
    brackets of the stage before (handed out before the narrowing, as a pool of workers does)."""
    runs = rows.shape[1]
    spans = [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]
    stats = Statistics(rows.shape[0], runs)
    reduce = stats.reducer()
    for k, stage in enumerate(stages(spans, sim.streaming.pilot_runs(runs, rows.shape[0] * 8))):
        early = [reduce(np.ascontiguousarray(rows[None, :, a:b]), a) for a, b in stage[:late]] if k else []
        if k:
            stats.narrow()
        reduce = stats.reducer()
        for d in early:
            assert d.stage == stats.stage - 1
            stats.add(d)
        for a, b in stage[len(early) :]:
            stats.add(reduce(np.ascontiguousarray(rows[None, :, a:b]), a))
    return stats.result()


def hard_rows(n: int) -> np.ndarray:
    """The adversarial rows of test_statistics, at n runs, in a random order of runs."""
    rng = np.random.default_rng(11)
    rows = [row for name, row in adversarial_rows() if row.size == 20_001]
    return np.stack([rng.permutation(row[:n]) for row in rows])


@pytest.mark.parametrize("z", [5.0, 0.3, 0.0])  # 0: brackets of a few ranks, which often miss
def test_streamed_statistics_are_those_of_whole_rows(small, monkeypatch, z):
    monkeypatch.setattr(sim.streaming, "Z", z)
    rows = hard_rows(3_000)
    out, again = summarise(rows, chunk=128)
    with np.errstate(all="ignore"):
        want = np.stack([row_stats(r.copy()) for r in rows])
    done = np.setdiff1d(np.arange(len(rows)), again)
    assert out[done].tobytes() == want[done].tobytes()
    # rows computed again are those numpy decides (NaN means, both zeros), and misses
    with np.errstate(all="ignore"):
        must = [i for i, r in enumerate(rows) if np.isnan(want[i, 0]) or _both_zeros(r)]
    assert set(must) <= set(again)
    assert (len(again) == len(must)) == (z == 5.0)  # 5 standard errors hold; thinner miss


def _both_zeros(row: np.ndarray) -> bool:
    zeros = np.signbit(row[row == 0])
    return bool(zeros.any() and not zeros.all())


def test_zeros_of_both_signs_at_a_quantile_send_the_row_to_numpy(small):
    """numpy's sort may copy one zero over another of the other sign: the signs are counted on the
    raw values, and a row whose quantile is a zero of either sign goes back to np.quantile."""
    rng = np.random.default_rng(5)
    for seed in range(6):
        values = np.concatenate([-rng.random(990) - 1, rng.random(990) + 1, [-0.0] * 10, [0.0] * 10])
        row = np.random.default_rng(seed).permutation(values)
        one_sign = np.where(row == 0, 0.0, row)
        rows = np.stack([row, one_sign, -0.0 * np.ones(2000), np.full(2000, 0.0)])
        out, again = summarise(rows, chunk=128)
        assert again.tolist() == [0]  # the median is a zero, of both signs
        want = np.stack([row_stats(r.copy()) for r in rows[1:]])
        assert out[1:].tobytes() == want.tobytes()  # 0.0, -0.0 (mean 0.0, as numpy's) and 0.0


@pytest.mark.parametrize("z", [5.0, 0.0])
def test_digests_made_with_the_brackets_of_the_stage_before_change_nothing(small, monkeypatch, z):
    """A chunk handed out before a narrowing and digested after it, with the wider brackets of
    its stage: the statistics and the rows left to a second pass are the same bits."""
    monkeypatch.setattr(sim.streaming, "Z", z)
    rows = hard_rows(3_000)
    base, again = summarise(rows, chunk=128)
    for late in (1, 3, 100):  # 100: every chunk of every stage
        out, also = summarise(rows, chunk=128, late=late)
        assert np.array_equal(also, again), late
        done = np.setdiff1d(np.arange(len(rows)), again)
        assert out[done].tobytes() == base[done].tobytes(), late


def test_a_late_digest_is_relabelled_as_the_new_brackets_would_have_made_it(small):
    rng = np.random.default_rng(8)
    rows = np.round(rng.standard_normal((6, 1, 2048)), 1)  # ties
    rows[1] = 0.5  # one value: brackets of lo = hi
    stats = Statistics(6, 4096)
    first = stats.reducer()
    stats.add(first(rows[:, :, :1024].copy(), 0))
    stats.narrow()
    late = stats._late(first(rows[:, :, 1024:].copy(), 1024))
    now = stats.reducer()(rows[:, :, 1024:].copy(), 1024)
    for field in ("below", "inside", "kept", "means", "m2s", "zeros"):
        assert np.array_equal(getattr(late, field), getattr(now, field)), field
    assert late.stage == now.stage == 1
    assert 0 < now.kept.size < rows.size / 2  # the brackets narrowed: most values were dropped


class OutOfOrderPool:
    """A stand-in for sim.chunks.LocalPool: ``window`` chunks out at a time, each digested with the
    reducer of its hand-out, and coming back in a random order."""

    forked = True

    def __init__(self, rows: np.ndarray, window: int, seed: int):
        self.rows, self.window, self.rng = rows, window, np.random.default_rng(seed)

    def stream(self, spans, reducer):
        todo, out = list(spans), []
        while todo or out:
            while todo and len(out) < self.window:
                out.append((todo.pop(0), reducer()))
            (a, b), reduce = out.pop(int(self.rng.integers(len(out))))
            yield a, b, reduce(np.ascontiguousarray(self.rows[None, :, a:b]), a)


@pytest.mark.parametrize("window", [1, 4, 40])
def test_stages_on_a_pool_that_returns_chunks_out_of_order_change_nothing(small, monkeypatch, window):
    """sim.chunks._stream_stages: the brackets narrow while chunks are out, which come back in any
    order, some digested with brackets two or more stages old: the statistics are those of the
    whole rows, bit for bit, and only the rows numpy must decide are computed again."""
    from sim.chunks import _stream_stages

    monkeypatch.setattr(sim.streaming, "PILOT", 64)  # stages end at 64, 256, 1,024 and 4,096 runs
    rows = hard_rows(3_000)
    runs = rows.shape[1]
    spans = [(a, min(a + 64, runs)) for a in range(0, runs, 64)]
    plan = stages(spans, sim.streaming.pilot_runs(runs, rows.shape[0] * 8))
    assert len(plan) == 4
    stats = Statistics(rows.shape[0], runs)
    late = []
    add = stats.add
    stats.add = lambda d: (late.append(stats.stage - d.stage), add(d))

    def here(spans, reduce, here):
        assert here
        for a, b in spans:
            yield a, b, reduce(np.ascontiguousarray(rows[None, :, a:b]), a)

    done = []
    _stream_stages(OutOfOrderPool(rows, window, seed=window), plan, stats, here, done.append)
    assert sum(done) == runs and stats.seen == runs and stats.stage == len(plan) - 1
    assert max(late) == (0 if window == 1 else 2)  # (random order: two stages old at most here)
    out, again = stats.result()
    with np.errstate(all="ignore"):
        want = np.stack([row_stats(r.copy()) for r in rows])
        must = [i for i, r in enumerate(rows) if np.isnan(want[i, 0]) or _both_zeros(r)]
    assert again.tolist() == must
    ok = np.setdiff1d(np.arange(len(rows)), again)
    assert out[ok].tobytes() == want[ok].tobytes()


def test_order_statistics_picked_on_threads_are_the_values_of_their_ranks(monkeypatch):
    """sim.streaming._pick_on_threads: each group's values of ranks k0 and k1, the group spread
    over several parts of one array, ties and both zeros included, on one thread or two."""
    from sim.streaming import _pick_on_threads

    rng = np.random.default_rng(4)
    parts, groups = 3, 50
    sizes = rng.integers(0, 40, (parts, groups))
    sizes[:, 7] = 0
    sizes[0, 7] = 1  # a group of one value
    offsets = np.zeros((parts, groups + 1), np.int64)
    chunks, at = [], 0
    for p in range(parts):
        offsets[p] = at + np.concatenate([[0], np.cumsum(sizes[p])])
        chunk = np.round(rng.standard_normal(sizes[p].sum()), 1)  # many ties
        chunk[rng.random(chunk.size) < 0.05] = -0.0
        chunks.append(chunk)
        at += chunk.size
    values = np.concatenate(chunks)
    whole = [
        np.concatenate([values[offsets[p, g] : offsets[p, g + 1]] for p in range(parts)])
        for g in range(groups)
    ]
    pick = np.array([g for g in range(groups) for _ in range(2)])
    k = np.array([sorted(rng.integers(0, whole[g].size, 2)) for g in pick])
    k[::7, 1] = k[::7, 0]  # the same rank twice
    want = np.array([np.sort(whole[g])[k[i]] for i, g in enumerate(pick)])
    for threads in ("1", "2"):
        monkeypatch.setenv("HEDGESIM_THREADS", threads)
        monkeypatch.setattr(sim.streaming, "PICK_GROUPS", 1)
        out = np.full((pick.size, 2), np.nan)
        _pick_on_threads(values, offsets, pick, k, out)
        assert np.array_equal(out, want), threads  # zeros of either sign compare equal


def test_the_chunks_do_not_change_the_statistics(small):
    rows = hard_rows(2_000)
    base, again = summarise(rows, chunk=64)
    done = np.setdiff1d(np.arange(len(rows)), again)  # the others are left to a second pass
    for chunk in (128, 192, 2_000):
        out, also = summarise(rows, chunk)
        assert np.array_equal(also, again) and out[done].tobytes() == base[done].tobytes()


def test_a_digest_keeps_values_once_and_counts_the_rest(small):
    x = np.array([[[0.0, 1.0, 2.0, 2.0, 3.0, -0.0, 5.0, 2.0]]])
    hi = np.array([[1.0, 2.0, 3.0, 5.0, 9.0]])
    for lo2 in (2.0, 2.5):  # brackets that overlap (one by one), and apart (all in one pass)
        lo = np.array([[0.0, 2.0, lo2, 4.0, 9.0]])
        d = digest(x, 0, lo, hi, 4)
        assert d.below.tolist() == [[0, 3, 3 if lo2 == 2 else 6, 7, 8]]
        assert d.inside.tolist() == [[3, 3, 4 if lo2 == 2 else 1, 1, 0]]
        assert d.zeros.tolist() == [[1, 1]]  # 0.0 and -0.0
        middle = [2.0, 2.0, 3.0, 2.0] if lo2 == 2 else [3.0]
        assert d.kept.tolist() == [0.0, 1.0, -0.0, *middle, 5.0]  # [2, 2]: counted, not kept
        assert np.signbit(d.kept[2])
    zeros = digest(x, 0, np.zeros((1, 5)), np.zeros((1, 5)), 4)  # five brackets [0, 0]
    assert zeros.inside.tolist() == [[2] * 5] and zeros.zeros.tolist() == [[1, 1]]
    assert zeros.kept.size == 0
    assert d.means.tolist() == [[1.25, 2.5]] and d.m2s.tolist() == [[2.75, 13.0]]


@pytest.fixture
def tiny_memory(monkeypatch):
    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 0)
    monkeypatch.setattr(sim.store, "IN_MEMORY_LIMIT", 0)


@pytest.mark.slow
def test_a_large_ensemble_has_the_statistics_of_one_in_memory(csp2023, small, tiny_memory, monkeypatch):
    """1,500 runs in stages, on one process and on two workers, with the margins that hold and
    with margins so thin that rows are computed again: the statistics of the ensemble in memory."""
    import sim.chunks

    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 10**12)
    want = sim.run(csp2023, runs=1_500, seed=4).stats()
    monkeypatch.setattr(sim.ensemble, "IN_MEMORY_LIMIT", 0)
    for z, kw in ((5.0, {"chunk_size": 100}), (0.2, {"chunk_size": 200, "workers": 2})):
        monkeypatch.setattr(sim.streaming, "Z", z)
        ens = sim.run(csp2023, runs=1_500, seed=4, **kw)
        assert ens.file is None and ens.stats().tobytes() == want.tobytes(), (z, kw)
    with pytest.raises(sim.HedgesimError, match="not kept"):
        ens.values("japan.influence")


def test_a_large_ensemble_keeps_its_runs_only_when_asked(csp2023, tiny_memory, tmp_path):
    ens = sim.run(csp2023, runs=30, seed=1)
    assert ens.file is None and ens.stats().shape == (len(ens.variables), ens.steps + 1, 7)
    kept = sim.run(csp2023, runs=30, seed=1, trajectories=True)
    assert kept.file is not None and kept.values("us.aid").shape == (30, kept.steps + 1)
    stored = sim.run(csp2023, runs=30, seed=1, store=tmp_path / "t.npy")
    assert (tmp_path / "t.npy").exists()
    assert stored.stats().tobytes() == ens.stats().tobytes() == kept.stats().tobytes()
