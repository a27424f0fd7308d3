"""Statistics of an ensemble too large for memory, computed while its runs are made.

An ensemble whose numbers do not fit in memory (over :data:`sim.store.IN_MEMORY_LIMIT`) is not
stored to be summarised afterwards: each chunk of runs is reduced, where it was computed, to what
the statistics need (:func:`digest`), and its numbers are then dropped, or written to the
trajectory file when they are kept. The statistics are those of :mod:`sim.statistics`, bit for bit,
whatever the split:

- **mean and sd:** each block of :data:`sim.statistics.BLOCK` runs gets numpy's mean and sum of
  squared deviations (a chunk holds whole blocks: its size is rounded up to a multiple), and the
  blocks are combined in run order (:func:`sim.statistics.combine`).
- **quantiles:** the order statistics they need are exact. Before its chunks are computed, each
  quantile of each row (variable and date) gets a bracket [lo, hi] of values; a chunk counts its
  values below each bracket and keeps those inside. The first chunks (:data:`PILOT` runs) keep
  every value; then, at each stage (:func:`stages`), the brackets narrow to the values whose rank
  among the runs made so far lies within :data:`Z` standard errors (sqrt(N q (1 - q))) of the
  quantile's rank, never wider than before, and the values outside are counted and dropped. The
  order statistic of rank k is then read off the kept values when ``below <= k < below + kept``,
  as in a selection algorithm (Floyd & Rivest 1975, who bracket the k-th value with a sample in
  the same way). A pool's workers do not wait for a narrowing: a chunk handed out before it comes
  back digested with the brackets of its stage, and is relabelled as the new brackets would have
  digested it (:meth:`Statistics._late`: brackets only narrow, so its kept values hold theirs).
- **when a bracket misses** (a chance of about 10^-8 per bracket at ``Z`` = 5), or a row holds NaN
  or both 0.0 and -0.0 (whose quantiles depend on numpy's partition), those rows are computed
  again, their values kept whole, and summarised by :func:`sim.statistics.row_stats`: the result is
  the same, only slower.

Memory stays at the kept values: for 10^6 runs of csp2023, about 2-4 % of each row (benchmarks/
README.md), against 11 GB for the trajectories.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from sim import statistics
from sim.resources import empty
from sim.statistics import QUANTILES, _lerp, _plan, combine

#: Runs whose values are all kept before the first brackets are drawn (fewer when a run's
#: numbers are large: at most :data:`PILOT_BYTES` in all): one chunk of 4,096 runs, which the
#: process that gathers the statistics computes itself (a pool's workers wait for its brackets:
#: 16,384 runs made 10^6 runs of csp2023 about 0.9 s slower).
PILOT = 4_096
PILOT_BYTES = 256 * 2**20

#: Each stage is this many times the runs of the one before.
GROWTH = 4

#: Half-width of a bracket, in standard errors of a quantile's rank.
Z = 5.0


class Digest(NamedTuple):
    """What the statistics need from one chunk of runs, rows being (variable, date) pairs and each
    row's quantile j having its bracket [lo, hi] (both included)."""

    start: int  # first run of the chunk
    runs: int
    means: np.ndarray  # (rows, blocks) each block's mean
    m2s: np.ndarray  # (rows, blocks) each block's sum of squared deviations
    below: np.ndarray  # (rows, quantiles) values below lo
    inside: np.ndarray  # (rows, quantiles) values in [lo, hi]
    zeros: np.ndarray  # (rows, 2) values 0.0 and -0.0 (numpy's sort may mix up their signs)
    kept: np.ndarray  # the values in [lo, hi], grouped by row then quantile, in run order: for
    # brackets with lo < hi, each once (a bracket equal to the row's first one shares its values)
    stage: int = 0  # the stage whose brackets it was made with (Statistics.stage)


class Reducer:
    """The work a chunk's process does on its record: :func:`digest` with the brackets of the
    current stage (sent with each chunk; a few hundred kB)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, block: int, stage: int = 0):
        self.lo, self.hi, self.block, self.stage = lo, hi, block, stage

    def __call__(self, record: np.ndarray, start: int) -> Digest:
        return digest(record, start, self.lo, self.hi, self.block)._replace(stage=self.stage)


class KeepRows:
    """The work of a second pass: the given rows of the chunk's record, whole."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    def __call__(self, record: np.ndarray, start: int) -> tuple[int, np.ndarray]:
        T1 = record.shape[1]  # noqa: N806
        return start, np.stack([record[r // T1, r % T1] for r in self.rows])


def stored(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which brackets store their values: lo < hi, and not the same as the row's first."""
    same = (lo == lo[:, :1]) & (hi == hi[:, :1])
    same[:, 0] = False
    return (lo < hi) & ~same


def digest(record: np.ndarray, start: int, lo: np.ndarray, hi: np.ndarray, block: int) -> Digest:
    """Reduce a chunk's record, shape (variables, steps + 1, runs), to its :class:`Digest`."""
    V, T1, n = record.shape  # noqa: N806
    rows, J = V * T1, lo.shape[1]  # noqa: N806
    blocks = -(-n // block)
    means, m2s = np.empty((rows, blocks)), np.empty((rows, blocks))
    if lo.shape != (rows, J) or hi.shape != (rows, J):
        raise ValueError(f"brackets of shape {lo.shape} for a record of {rows} rows")
    counts, zeros = np.zeros((2, rows, J), np.int64), np.zeros((rows, 2), np.int64)
    kept = _digest(record, block, lo, hi, stored(lo, hi), means, m2s, counts, zeros)
    return Digest(start, n, means, m2s, *counts, zeros, kept)


@njit(cache=True, error_model="numpy")
def _leaf(a, lo, n):  # noqa: ANN001, ANN202
    """numpy's pairwise sum of up to 128 values: 8 accumulators, then the rest in turn. Indices
    are unsigned (numba then skips its check for negative ones), so the eight accumulators go in
    two vector registers."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    b = np.uint64(lo)
    r0, r1, r2, r3 = a[b], a[b + _U1], a[b + _U2], a[b + _U3]
    r4, r5, r6, r7 = a[b + _U4], a[b + _U5], a[b + _U6], a[b + _U7]
    end = b + np.uint64(n - n % 8)
    j = b + _U8
    while j < end:
        r0 += a[j]
        r1 += a[j + _U1]
        r2 += a[j + _U2]
        r3 += a[j + _U3]
        r4 += a[j + _U4]
        r5 += a[j + _U5]
        r6 += a[j + _U6]
        r7 += a[j + _U7]
        j += _U8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(lo + n - n % 8, lo + n):
        res += a[i]
    return res


_U1, _U2, _U3, _U4, _U5, _U6, _U7, _U8 = (np.uint64(k) for k in range(1, 9))


@njit(cache=True, error_model="numpy")
def _pairwise(a, lo, n, stack, sums):  # noqa: ANN001, ANN202
    """numpy's pairwise sum of a[lo:lo + n] (``DOUBLE_pairwise_sum``: up to 128 values by
    :func:`_leaf`, else the sum of both halves, the first a multiple of 8), so that a block has the
    bits of ``np.add.reduce``. Without recursion (a cached recursive function is not safe in
    numba): ``stack`` (3 x 64 ints) holds the halves still to sum, ``sums`` (64) their sums."""
    top, done = 1, 0
    stack[0, 0], stack[1, 0], stack[2, 0] = lo, n, 0
    while top:
        at, m, state = stack[0, top - 1], stack[1, top - 1], stack[2, top - 1]
        half = m // 2 - (m // 2) % 8
        if m <= 128:
            sums[done] = _leaf(a, at, m)
            done += 1
            top -= 1
        elif state == 0:  # the first half next
            stack[2, top - 1] = 1
            stack[0, top], stack[1, top], stack[2, top] = at, half, 0
            top += 1
        elif state == 1:  # then the second
            stack[2, top - 1] = 2
            stack[0, top], stack[1, top], stack[2, top] = at + half, m - half, 0
            top += 1
        else:  # both summed: their sum
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
    return sums[0]


@njit(cache=True, error_model="numpy", nogil=True)
def _digest(record, block, lo, hi, store, means, m2s, counts, zeros):  # noqa: ANN001, ANN202
    V, T1, n = record.shape  # noqa: N806
    J = lo.shape[1]  # noqa: N806
    dev = np.empty(block)
    stack, sums = np.empty((3, 64), np.int64), np.empty(64)
    code = np.empty(n, np.int8)
    kept = np.empty(max(1024, n))
    used = 0
    for v in range(V):
        for t in range(T1):
            r = v * T1 + t
            x = record[v, t]
            for k in range((n + block - 1) // block):
                a = k * block
                m = min(block, n - a)
                mean = (0.0 + _pairwise(x, a, m, stack, sums)) / m  # numpy's sum starts at 0.0
                for i in range(np.uint64(m)):
                    d = x[np.uint64(a) + i] - mean
                    dev[i] = d * d
                means[r, k] = mean
                m2s[r, k] = 0.0 + _pairwise(dev, 0, m, stack, sums)
            bits = x.view(np.int64)
            positive = 0
            negative = 0
            for i in range(np.uint64(n)):
                positive += bits[i] == 0
                negative += bits[i] == -9223372036854775807 - 1
            zeros[r, 0], zeros[r, 1] = positive, negative
            if used + J * n > kept.size:  # room for every value of every bracket
                grown = np.empty(max(2 * kept.size, used + J * n))
                grown[:used] = kept[:used]
                kept = grown
            if J == 5 and _disjoint(lo[r], hi[r]):
                used = _classify5(x, lo[r], hi[r], store[r], code, counts[:, r], kept, used)
            else:
                used = _classify(x, lo[r], hi[r], store[r], counts[:, r], kept, used)
    return kept[:used].copy()


@njit(cache=True)
def _disjoint(lo, hi):  # noqa: ANN001, ANN202
    """Whether the brackets are in order and apart: lo0 <= hi0 < lo1 <= hi1 < ..."""
    for j in range(lo.size):
        if not lo[j] <= hi[j] or (j and not hi[j - 1] < lo[j]):
            return False
    return True


@njit(cache=True, error_model="numpy")
def _classify(x, lo, hi, store, counts, kept, used):  # noqa: ANN001, ANN202
    """Counts and kept values of one row, bracket by bracket (any brackets)."""
    for j in range(lo.size):
        low, high = lo[j], hi[j]
        if j and not store[j] and low == lo[j - 1] and high == hi[j - 1]:  # the same again, unstored
            counts[0, j], counts[1, j] = counts[0, j - 1], counts[1, j - 1]
            continue  # and its values, if any, are stored once (see stored)
        b = 0
        c = 0
        for i in range(x.size):
            b += x[i] < low
            c += x[i] <= high
        counts[0, j] = b
        counts[1, j] = max(0, c - b)
        if store[j] and c > b:
            for i in range(x.size):  # without a branch: the next value overwrites one left out
                kept[used] = x[i]
                used += (x[i] >= low) & (x[i] <= high)
    return used


@njit(cache=True, error_model="numpy")
def _classify5(x, lo, hi, store, code, counts, kept, used):  # noqa: ANN001, ANN202
    """Counts and kept values of one row whose five brackets are in order and apart: one pass
    counts the values past each of the ten bounds and notes the interval of each value among them
    (odd: inside bracket code // 2); a second keeps the values inside."""
    l0, l1, l2, l3, l4 = lo[0], lo[1], lo[2], lo[3], lo[4]
    h0, h1, h2, h3, h4 = hi[0], hi[1], hi[2], hi[3], hi[4]
    a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = 0
    n = x.size
    for i in range(n):
        v = x[i]
        c0, d0, c1, d1, c2 = v >= l0, v > h0, v >= l1, v > h1, v >= l2
        d2, c3, d3, c4, d4 = v > h2, v >= l3, v > h3, v >= l4, v > h4
        a0 += c0
        a1 += c1
        a2 += c2
        a3 += c3
        a4 += c4
        b0 += d0
        b1 += d1
        b2 += d2
        b3 += d3
        b4 += d4
        code[i] = c0 + d0 + c1 + d1 + c2 + d2 + c3 + d3 + c4 + d4
    past_lo = (a0, a1, a2, a3, a4)
    past_hi = (b0, b1, b2, b3, b4)
    starts = np.empty(5, np.int64)
    at = used
    for j in range(5):
        counts[0, j] = n - past_lo[j]
        counts[1, j] = past_lo[j] - past_hi[j]
        starts[j] = at
        if store[j]:
            at += past_lo[j] - past_hi[j]
    for i in range(n):
        c = code[i]
        if c & 1 and store[c >> 1]:
            kept[starts[c >> 1]] = x[i]
            starts[c >> 1] += 1
    return at


def pilot_runs(runs: int, run_bytes: int) -> int:
    """Runs of the first stage: :data:`PILOT`, fewer for large runs, whole blocks."""
    block = statistics.BLOCK
    fit = max(block, PILOT_BYTES // max(1, run_bytes) // block * block)
    return min(runs, PILOT, fit)


def stages(spans: list[tuple[int, int]], pilot: int) -> list[list[tuple[int, int]]]:
    """The chunks of each stage, in run order: the first ending at ``pilot`` runs or after, each
    next one :data:`GROWTH` times longer."""
    out: list[list[tuple[int, int]]] = [[]]
    end = pilot
    for span in spans:
        if span[0] >= end:
            out.append([])
            while end <= span[0]:
                end *= GROWTH
        out[-1].append(span)
    return [s for s in out if s]


class Statistics:
    """The statistics of an ensemble of ``runs`` runs and ``rows`` rows, from its chunks' digests.

    For each row r and quantile j it holds, over the chunks so far, how many values lie below the
    bracket [lo, hi] and how many inside it, and the values inside (when lo < hi): the bottom of
    the row's sorted values.
    """

    def __init__(self, rows: int, runs: int, block: int | None = None):
        J = len(QUANTILES)  # noqa: N806
        self.rows, self.runs = rows, runs
        self.block = block or statistics.BLOCK
        blocks = -(-runs // self.block)
        self.means, self.m2s = np.empty((blocks, rows)), np.empty((blocks, rows))
        self.lo, self.hi = np.full((rows, J), -np.inf), np.full((rows, J), np.inf)
        self.below, self.inside = np.zeros((rows, J), np.int64), np.zeros((rows, J), np.int64)
        self.zeros = np.zeros((rows, 2), np.int64)  # 0.0 and -0.0 in each row
        self.values = np.empty(0)  # the kept values, grouped by row and quantile
        self.offsets = np.zeros(rows * J + 1, np.int64)
        self.pending: list[Digest] = []
        self.seen = 0
        #: The stage (narrowings so far), and the brackets of each: a chunk handed out before a
        #: narrowing may come back after it, its digest made with the brackets of its own stage.
        self.stage = 0
        self.brackets = [(self.lo, self.hi)]
        plan = _plan(runs)
        pos = np.asarray(plan.positions)
        self.first, self.last = pos[plan.below], pos[plan.above]  # ranks each bracket must hold

    def reducer(self) -> Reducer:
        return Reducer(self.lo.copy(), self.hi.copy(), self.block, self.stage)

    def add(self, d: Digest) -> None:
        if d.start % self.block:
            raise ValueError(f"a chunk starting at run {d.start}, not at a block of {self.block}")
        if d.stage != self.stage:
            d = self._late(d)
        k = d.start // self.block
        nb = d.means.shape[1]
        self.means[k : k + nb] = d.means.T
        self.m2s[k : k + nb] = d.m2s.T
        self.below += d.below
        self.inside += d.inside
        self.zeros += d.zeros
        self.pending.append(d)
        self.seen += d.runs

    def _late(self, d: Digest) -> Digest:
        """A digest made with the brackets of an earlier stage, as the current brackets would have
        made it. Brackets only ever narrow (:meth:`narrow`), so the values a bracket holds now are
        among those it held then: the values of the old bracket below the new one are counted
        below, those above it dropped, those inside kept (in run order, as :func:`digest` keeps them)."""
        old_lo, old_hi = self.brackets[d.stage]
        old_store = stored(old_lo, old_hi).ravel()
        offsets = np.zeros(old_store.size + 1, np.int64)
        np.cumsum(np.where(old_store, d.inside.ravel(), 0), out=offsets[1:])
        below, inside = d.below.copy(), d.inside.copy()
        store = stored(self.lo, self.hi)
        sizes = _relabel(d.kept, offsets, old_lo, old_hi, self.lo, self.hi, store, below, inside, None, None)
        out_offsets = np.zeros_like(offsets)
        np.cumsum(sizes, out=out_offsets[1:])
        kept = np.empty(int(out_offsets[-1]))
        _relabel(d.kept, offsets, old_lo, old_hi, self.lo, self.hi, store, below, inside, kept, out_offsets)
        return d._replace(below=below, inside=inside, kept=kept, stage=self.stage)

    def _gather(self) -> None:
        """The pending digests' kept values merged into :attr:`values`, grouped."""
        if not self.pending:
            return
        store = stored(self.lo, self.hi).ravel()
        sizes = [np.where(store, d.inside.ravel(), 0) for d in self.pending]
        offsets = np.zeros_like(self.offsets)
        np.cumsum(np.diff(self.offsets) + sum(sizes), out=offsets[1:])
        values = empty(int(offsets[-1]))  # its pages come as they are written
        cursor = offsets[:-1].copy()
        _scatter(values, cursor, self.values, self.offsets)
        self.values = values
        sizes.reverse()
        while self.pending:  # each digest let go once copied: memory holds the values about once
            size = sizes.pop()
            starts = np.zeros_like(self.offsets)
            np.cumsum(size, out=starts[1:])
            _scatter(values, cursor, self.pending.pop(0).kept, starts)
        self.offsets = offsets

    def narrow(self) -> None:
        """Brackets for the next stage, from the runs made so far (see the module's text)."""
        self._gather()
        N = self.seen  # noqa: N806
        q = np.asarray(QUANTILES)
        margin = Z * np.sqrt(N * q * (1 - q)) + 1
        scale = (N - 1) / max(1, self.runs - 1)
        lower = np.floor(self.first * scale - margin).astype(np.int64)
        upper = np.ceil(self.last * scale + margin).astype(np.int64)
        for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True):
            if b - a > 1:
                self.values[a:b].sort()  # numpy's sort (SIMD), several times numba's
        lo, hi = self.lo.copy(), self.hi.copy()
        sizes = _narrow(self.values, self.offsets, self.below, self.inside, lo, hi, lower, upper)
        store = stored(lo, hi)
        sizes[~store.ravel()] = 0
        offsets = np.zeros_like(self.offsets)
        np.cumsum(sizes, out=offsets[1:])
        values = empty(int(offsets[-1]))
        _narrowed(self.values, self.offsets, self.lo, self.hi, lo, hi, store, values, offsets)
        self.lo, self.hi, self.values, self.offsets = lo, hi, values, offsets
        self.stage += 1
        self.brackets.append((lo, hi))

    def _line_up(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept values in one array: those of the last narrowing, then each pending digest's,
        and where each part holds each group (``offsets[part, g]:offsets[part, g + 1]``). Each
        part is let go once copied, so that memory holds the values about once; the statistics
        then take no more chunks (:meth:`result` is their last call)."""
        if self.pending or not hasattr(self, "_lined"):
            store = np.where(stored(self.lo, self.hi).ravel(), 1, 0)
            values = empty(self.values.size + sum(d.kept.size for d in self.pending))
            offsets = np.empty((1 + len(self.pending), self.offsets.size), np.int64)
            values[: self.values.size] = self.values
            offsets[0] = self.offsets
            at = self.values.size
            self.values = np.empty(0)
            for p in range(1, offsets.shape[0]):
                d = self.pending.pop(0)
                values[at : at + d.kept.size] = d.kept
                offsets[p, 0] = at
                np.cumsum(store * d.inside.ravel(), out=offsets[p, 1:])
                offsets[p, 1:] += at
                at += d.kept.size
            self._lined = values, offsets
        return self._lined

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(statistics, shape (rows, 7); the rows to compute again) once every chunk is in.

        Each order statistic is selected (:func:`_pick`) from its bracket's values where they lie:
        in the values kept at the last narrowing and in each digest since, put one after the other
        (:meth:`_line_up`) rather than grouped by bracket first (:meth:`_gather`, a scatter of
        about 250 MB for 10^6 runs of csp2023). The last call: it takes the kept values."""
        J = len(QUANTILES)  # noqa: N806
        out = np.empty((self.rows, 2 + J))
        starts = np.arange(0, self.runs, self.block)
        c = np.minimum(self.block, self.runs - starts)[:, None] * np.ones((1, self.rows))  # runs per block
        mean, m2 = combine(c, self.means, self.m2s)
        out[:, 0] = mean
        out[:, 1] = np.sqrt(m2 / (self.runs - 1)) if self.runs > 1 else 0.0
        plan = _plan(self.runs)
        again = np.isnan(mean)  # NaN, or both infinities: numpy's np.quantile decides (sim.statistics)
        values = np.empty((self.rows, len(plan.positions)))
        at = np.full((self.rows, J, 2), -1)  # where a value is among its bracket's kept values
        _select(self.lo, self.hi, self.below, self.inside, self.zeros, self.first, self.last,
                plan.below, plan.above, values, at, again)  # fmt: skip
        rs, js = np.nonzero((at[:, :, 0] >= 0) & ~again[:, None])
        if rs.size:
            same = (js > 0) & (self.lo[rs, js] == self.lo[rs, 0]) & (self.hi[rs, js] == self.hi[rs, 0])
            groups = np.where(same, rs * J, rs * J + js)  # _source: its own group, or its row's first
            values_all, offsets = self._line_up()
            picked = np.empty((rs.size, 2))
            _pick_on_threads(values_all, offsets, groups, at[rs, js], picked)
            values[rs, plan.below[js]] = picked[:, 0]
            values[rs, plan.above[js]] = picked[:, 1]
            zero = (picked == 0).any(axis=1) & (self.zeros[rs] > 0).all(axis=1)
            again[rs[zero]] = True  # numpy's partition decides which zero
        for r in np.flatnonzero(~again):
            _lerp(values[r, plan.below], values[r, plan.above], plan, out=out[r, 2:])
        return out, np.flatnonzero(again)


@njit(cache=True)
def _select(lo, hi, below, inside, zeros, first, last, at_first, at_last, out, at, again):  # noqa: ANN001, ANN202
    """Each row's order statistics (ranks ``first[j]`` and ``last[j]`` of bracket j), into ``out``
    (at ``at_first[j]``, ``at_last[j]``) where a bracket of one value gives them, else their index
    among the bracket's kept values into ``at[r, j]``; ``again`` set where one lies outside its
    bracket, or is a zero in a row with zeros of both signs."""
    rows, J = below.shape  # noqa: N806
    for r in range(rows):
        if again[r]:
            continue
        for j in range(J):
            for k, rank, to in ((0, first[j], at_first[j]), (1, last[j], at_last[j])):
                i = rank - below[r, j]
                if not 0 <= i < inside[r, j]:
                    again[r] = True
                elif lo[r, j] < hi[r, j]:
                    at[r, j, k] = i
                elif lo[r, j] != 0:
                    out[r, to] = lo[r, j]
                elif zeros[r, 0] > 0 and zeros[r, 1] > 0:
                    again[r] = True  # numpy's partition decides which zero
                else:
                    out[r, to] = -0.0 if zeros[r, 0] == 0 else 0.0


#: Groups a thread of :func:`_pick_on_threads` takes at least.
PICK_GROUPS = 64


def _pick_on_threads(
    values: np.ndarray, offsets: np.ndarray, groups: np.ndarray, at: np.ndarray, out: np.ndarray
) -> None:
    """:func:`_pick`, its groups shared between threads, one per core or ``HEDGESIM_THREADS`` (it
    releases the GIL; the workers have finished by then). The threads end with the call."""
    from concurrent.futures import ThreadPoolExecutor

    from sim.chunks import cores
    from sim.model import env_threads

    parts = max(1, min(env_threads() or cores(), groups.size // PICK_GROUPS))
    cuts = [groups.size * k // parts for k in range(parts + 1)]
    spans = [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    if parts == 1:
        _pick(values, offsets, groups, at, out)
        return
    with ThreadPoolExecutor(parts) as threads:
        work = [threads.submit(_pick, values, offsets, groups[a:b], at[a:b], out[a:b]) for a, b in spans]
        for done in work:
            done.result()


@njit(cache=True, nogil=True)
def _pick(values, offsets, groups, at, out):  # noqa: ANN001, ANN202
    """For each i, the values of ranks at[i, 0] and at[i, 1] (at[i, 0] <= at[i, 1]) among the
    values of group groups[i], which lie in parts of ``values``, at ``offsets[p, g]:offsets[p, g + 1]``
    for each part p, into out[i]. A selection: the values (not their order) decide the result."""
    size = 0
    for i in range(groups.size):
        n = 0
        for p in range(offsets.shape[0]):
            n += offsets[p, groups[i] + 1] - offsets[p, groups[i]]
        size = max(size, n)
    scratch = np.empty(size)
    for i in range(groups.size):
        g = groups[i]
        n = 0
        for p in range(offsets.shape[0]):
            a, b = offsets[p, g], offsets[p, g + 1]
            scratch[n : n + b - a] = values[a:b]
            n += b - a
        k0, k1 = at[i, 0], at[i, 1]
        low = np.partition(scratch[:n], k0)
        out[i, 0] = low[k0]
        if k1 == k0:
            out[i, 1] = low[k0]
        elif k1 == k0 + 1:  # the next rank: the smallest of the values after it
            out[i, 1] = low[k0 + 1 :].min()
        else:
            out[i, 1] = np.partition(low[k0 + 1 :], k1 - k0 - 1)[k1 - k0 - 1]


@njit(cache=True, nogil=True)
def _scatter(out, cursor, values, offsets):  # noqa: ANN001, ANN202
    """Append each group g of ``values`` (``offsets[g]:offsets[g + 1]``) at ``out[cursor[g]:]``."""
    for g in range(offsets.size - 1):
        a, b = offsets[g], offsets[g + 1]
        out[cursor[g] : cursor[g] + b - a] = values[a:b]
        cursor[g] += b - a


@njit(cache=True)
def _source(lo, hi, r, j, J):  # noqa: ANN001, ANN202, N803
    """The group that holds the values of bracket j of row r: its own, or its row's first."""
    if j and lo[r, j] == lo[r, 0] and hi[r, j] == hi[r, 0]:
        return r * J
    return r * J + j


@njit(cache=True, nogil=True)
def _narrow(values, offsets, below, inside, lo, hi, lower, upper):  # noqa: ANN001, ANN202
    """Narrow every bracket (``lo``, ``hi``, updated in place, as are the counts) to the values of
    ranks lower[j]..upper[j] where those lie among its kept values (else a bound stays); each group
    of ``values`` is sorted. Returns each group's new number of kept values."""
    rows, J = below.shape  # noqa: N806
    old_lo, old_hi = lo.copy(), hi.copy()
    sizes = np.zeros(rows * J, np.int64)
    for r in range(rows):
        for j in range(J):
            if old_lo[r, j] == old_hi[r, j]:
                continue  # lo = hi: nothing to narrow, nothing kept
            g = _source(old_lo, old_hi, r, j, J)
            group = values[offsets[g] : offsets[g + 1]]  # sorted
            for rank, first in ((lower[j], True), (upper[j], False)):
                i = rank - below[r, j]
                if 0 <= i < group.size:
                    if first:
                        lo[r, j] = max(lo[r, j], group[i])
                    else:
                        hi[r, j] = min(hi[r, j], group[i])
            if lo[r, j] > hi[r, j]:  # no margin at all: keep the bracket as it was
                lo[r, j], hi[r, j] = old_lo[r, j], old_hi[r, j]
            a = np.searchsorted(group, lo[r, j], "left")
            b = np.searchsorted(group, hi[r, j], "right")
            below[r, j] += a
            inside[r, j] = b - a
            sizes[r * J + j] = b - a
    return sizes


@njit(cache=True, nogil=True)
def _narrowed(values, offsets, old_lo, old_hi, lo, hi, store, out, out_offsets):  # noqa: ANN001, ANN202
    """Copy each stored bracket's kept values (its sorted group, between its new bounds) to ``out``."""
    rows, J = lo.shape  # noqa: N806
    for r in range(rows):
        for j in range(J):
            if not store[r, j]:
                continue
            g = _source(old_lo, old_hi, r, j, J)
            group = values[offsets[g] : offsets[g + 1]]
            a = np.searchsorted(group, lo[r, j], "left")
            b = np.searchsorted(group, hi[r, j], "right")
            out[out_offsets[r * J + j] : out_offsets[r * J + j + 1]] = group[a:b]


@njit(cache=True, nogil=True)
def _relabel(values, offsets, old_lo, old_hi, lo, hi, store, below, inside, out, out_offsets):  # noqa: ANN001, ANN202
    """Counts and kept values of a digest under narrower brackets (:meth:`Statistics._late`).

    ``values`` grouped by ``offsets`` under the old brackets. Without ``out``: updates ``below``
    and ``inside`` and returns each new bracket's number of kept values (0 where not stored);
    with it: copies each stored bracket's values, in their order, to ``out`` at ``out_offsets``."""
    rows, J = lo.shape  # noqa: N806
    sizes = np.zeros(rows * J, np.int64)
    for r in range(rows):
        for j in range(J):
            if old_lo[r, j] == old_hi[r, j]:
                continue  # lo = hi: never narrowed, nothing kept
            g = _source(old_lo, old_hi, r, j, J)
            low, high = lo[r, j], hi[r, j]
            if out is None:
                a = 0
                c = 0
                for i in range(offsets[g], offsets[g + 1]):
                    a += values[i] < low
                    c += (values[i] >= low) & (values[i] <= high)
                below[r, j] += a
                inside[r, j] = c
                sizes[r * J + j] = c if store[r, j] else 0
            elif store[r, j]:
                at = out_offsets[r * J + j]
                for i in range(offsets[g], offsets[g + 1]):
                    if values[i] >= low and values[i] <= high:
                        out[at] = values[i]
                        at += 1
    return sizes


def warm() -> None:
    """Compile this module's functions into numba's cache (the set-up calls it, with the kernel's):
    two stages of a small made-up ensemble, disjoint brackets, a late digest and all."""
    rows = np.random.default_rng(0).standard_normal((3, 1, 4096))
    stats = Statistics(3, 4096, block=1024)
    first = stats.reducer()
    stats.add(first(rows[:, :, :1024], 0))
    stats.narrow()
    stats.add(first(np.ascontiguousarray(rows[:, :, 1024:2048]), 1024))  # a late digest
    stats.add(stats.reducer()(np.ascontiguousarray(rows[:, :, 2048:]), 2048))
    stats.result()
