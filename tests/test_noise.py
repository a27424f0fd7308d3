"""The counter-based streams: the right distributions, and draws that depend on their key only."""

from __future__ import annotations

import numpy as np

from sim.noise import Streams, stream_key


def test_normals_are_standard_normal():
    z = Streams(1, np.arange(200_000)).normal("x", step=3)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z**4) - 3) < 0.1  # kurtosis of a normal
    assert abs(np.mean(np.abs(z) > 1.96) - 0.05) < 0.003


def test_uniforms_cover_the_open_unit_interval():
    u = Streams(1, np.arange(100_000)).uniform("u")
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 9_500


def test_streams_differ_by_name_step_seed_and_run():
    s = Streams(1, np.arange(1000))
    a = s.normal("a", 1)
    for other in (s.normal("b", 1), s.normal("a", 2), Streams(2, np.arange(1000)).normal("a", 1)):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.1
    assert len(set(a.tolist())) == 1000


def test_a_run_draws_the_same_whatever_its_batch():
    keys = np.array([stream_key(n) for n in ("p", "q", "r")], dtype=np.uint64)
    big = Streams(9, np.arange(5000)).normals(keys, 17).copy()
    one = Streams(9, np.array([4321])).normals(keys, 17)
    assert np.array_equal(big[:, 4321], one[:, 0])


def test_stream_keys_are_stable():
    """Keys are fixed hashes of names, the same in every process and release (not Python's hash)."""
    assert stream_key("aid/china") == stream_key("aid/china") != stream_key("aid/japan")
    assert (
        Streams(20231216, np.array([0])).uniform("param/inertia")[0]
        == Streams(20231216, np.array([0, 1])).uniform("param/inertia")[0]
    )


def test_the_logarithm_of_every_uniform_drawn_is_accurate_and_the_same_bits_compiled():
    """Box-Muller's log over all 2^24 uniforms the hash can give: within one unit in the last
    place of float32, and the compiled kernel's log32 gives numpy's bits."""
    from numba import njit

    from sim.kernel import log32
    from sim.noise import _log

    @njit
    def each(u, out):
        for i in range(u.size):
            out[i] = log32(u[i])

    u = np.arange(2**24, dtype=np.uint64).astype(np.float32) * np.float32(2.0**-24) + np.float32(2.0**-25)
    got = _log(u, np.empty_like(u))
    compiled = np.empty_like(u)
    each(u, compiled)
    assert got.dtype == np.float32 and got.tobytes() == compiled.tobytes()
    true = np.log(u.astype(np.float64))
    ulp = np.abs(got.astype(np.float64) - true) / np.spacing(np.abs(got)).astype(np.float64)
    assert float(ulp.max()) < 1.0
    assert _log(np.array([1.0, 0.5, 2.0**-25], np.float32), np.empty(3, np.float32)).tolist() == [
        0.0,
        float(np.float32(-np.log(2))),
        float(np.float32(-25 * np.log(2))),
    ]
