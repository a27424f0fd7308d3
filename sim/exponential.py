"""The exponential function as fixed arithmetic: the same bits in both engines, on every machine.

The model takes ``exp`` twice a step: in the log-normal noise of aid (:meth:`GreatPower.disburse`)
and in the small state's logit choice (:meth:`SmallState.decide`). Library ``exp`` functions are
accurate to about one unit in the last place, but they do not agree on which way to round:
numpy's own SIMD ``exp``, the C library's scalar one and a compiler's vector one give different
last bits for some arguments. Through the logit those bits reach every output, so the two engines
(:mod:`sim.agents` with numpy, :mod:`sim.kernel` compiled) could only agree to about 1e-9, and a
vectorised compiled loop could make a run's numbers depend on which runs share its vector.

Here ``exp`` is the algorithm of fdlibm's ``e_exp.c`` (Sun Microsystems 1993; Tang 1989, "Table-driven
implementation of the exponential function", ACM TOMS 15), with its branches folded into one path:
reduce ``x = k ln2 + r`` with ``|r| <= ln2/2`` (``ln2`` split in two so that ``k ln2_hi`` is exact),
approximate ``exp(r)`` by a rational function of a degree-5 Remez polynomial in ``r^2``, and
scale by ``2^k``, built from its bits. Every step is an exactly rounded IEEE operation (no fused
multiply-add: numba does not contract without ``fastmath``), so :func:`exp` (numpy, arrays) and
:func:`sim.kernel.exp` (numba, one number, inlined into the kernel's loops) give the same
bits, and both are within one unit in the last place of the true value (tests/test_exponential.py).

The domain is cut where the model never goes: ``exp(x)`` is 0 for ``x < -708`` (below 3.3e-308,
where floats become subnormal) and ``inf`` for ``x > 709``; NaN stays NaN.
"""

from __future__ import annotations

import numpy as np

LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42 fee00000: k * LN2_HI is exact for |k| < 2^20
LN2_LO = 1.90821492927058770002e-10  # 0x3dea39ef 35793c76
INV_LN2 = 1.44269504088896338700e00  # 0x3ff71547 652b82fe
P1 = 1.66666666666666019037e-01  # fdlibm's Remez coefficients of R(r^2) on [0, (ln2/2)^2]
P2 = -2.77777777770155933842e-03
P3 = 6.61375632143793436117e-05
P4 = -1.65339022054652515390e-06
P5 = 4.13813679705723846039e-08
LOWEST, HIGHEST = -708.0, 709.0


def exp(x: np.ndarray) -> np.ndarray:
    """exp(x) element-wise, as :func:`sim.kernel.exp` computes it (the same bits); a new array of
    x's shape (0-d for a number)."""
    shape = np.shape(x)
    x = np.array(x, dtype=np.float64, ndmin=1)
    nan = np.isnan(x)
    xc = np.clip(x, LOWEST, HIGHEST)  # computed on these, then fixed where x is outside
    xc[nan] = 0.0
    k = xc * INV_LN2
    k += 0.5
    np.floor(k, out=k)
    hi = k * LN2_HI
    np.subtract(xc, hi, out=hi)
    lo = np.multiply(k, LN2_LO, out=xc)
    r = hi - lo
    t = r * r
    c = t * P5
    for p in (P4, P3, P2, P1):
        c += p
        c *= t
    np.subtract(r, c, out=c)  # c = r - t * (P1 + t * (P2 + ...))
    y = 2.0 - c
    r *= c
    np.divide(r, y, out=y)
    np.subtract(lo, y, out=y)
    y -= hi
    np.subtract(1.0, y, out=y)  # 1 - ((lo - r c / (2 - c)) - hi)
    bits = k.astype(np.int64)
    bits += 1023
    bits <<= 52
    y *= bits.view(np.float64)  # 2^k, built from its bits
    y[x < LOWEST] = 0.0
    y[x > HIGHEST] = np.inf
    y[nan] = np.nan
    return y.reshape(shape)
