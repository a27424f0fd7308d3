"""The model's exp (sim/exponential.py): accurate, and the same bits in numpy and in the kernel."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim import kernel
from sim.exponential import HIGHEST, LOWEST, exp


@njit
def _each(x, out):
    for i in range(x.size):
        out[i] = kernel.exp(x[i])


def arguments() -> np.ndarray:
    """Ordinary arguments (utilities, log-normal noise), the whole domain, its edges and beyond."""
    rng = np.random.default_rng(1993)
    edges = [0.0, -0.0, 1e-300, -1e-300, 2.0**-29, LOWEST, HIGHEST, np.log(2) / 2, -np.log(2) / 2]
    edges += [np.nextafter(LOWEST, -np.inf), np.nextafter(HIGHEST, np.inf), -1e308, 1e308]
    edges += [np.array(0xFFF8000000000000, dtype=np.uint64).view(np.float64)]  # a NaN with its sign set
    return np.concatenate(
        [
            rng.uniform(-30.0, 30.0, 200_000),
            rng.uniform(LOWEST, HIGHEST, 200_000),
            rng.normal(0.0, 1e-4, 10_000),
            np.arange(-1000, 1000) * np.log(2),  # multiples of ln 2: k changes here
            np.array(edges + [np.inf, -np.inf, np.nan]),
        ]
    )


def test_numpy_and_the_kernel_give_the_same_bits():
    x = arguments()
    compiled = np.empty_like(x)
    _each(x, compiled)
    assert exp(x).tobytes() == compiled.tobytes()


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= 52, reason="no long double to compare with here")
def test_within_one_unit_in_the_last_place_of_the_true_value():
    x = arguments()
    inside = x[(x >= LOWEST) & (x <= HIGHEST)]
    got = exp(inside)
    true = np.exp(inside.astype(np.longdouble))  # 64-bit mantissa: 11 more bits than float64
    ulp = np.abs(got.astype(np.longdouble) - true) / np.spacing(got)
    assert float(ulp.max()) < 1.0
    assert float(np.median(ulp)) < 0.3  # rounded to nearest nearly always


def test_outside_the_domain_zero_and_infinity_and_nan_stays_nan():
    y = exp(np.array([LOWEST - 1e-9, -1e308, -np.inf, HIGHEST + 1e-9, np.inf, np.nan, 0.0]))
    assert y[:3].tolist() == [0.0, 0.0, 0.0]
    assert np.isinf(y[3:5]).all() and (y[3:5] > 0).all()
    assert np.isnan(y[5]) and y[6] == 1.0


def test_a_logit_share_sums_to_one():
    u = np.random.default_rng(5).normal(0.0, 5.0, (3, 1000))
    w = exp(u - u.max(axis=0))
    np.testing.assert_allclose((w / w.sum(axis=0)).sum(axis=0), 1.0, rtol=1e-15)


def test_a_number_gives_a_number_and_shapes_are_kept():
    assert exp(0.0).shape == () and float(exp(0.0)) == 1.0
    assert exp(np.zeros((2, 3))).shape == (2, 3)
