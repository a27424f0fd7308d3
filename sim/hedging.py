"""Hedging as the theory defines it, read off the small state's alignment in each dimension.

Hedging is not the evenness of one alignment: a state that is equidistant from every power is
neutral, not hedging. The literature reads it as three things at once, each measured here on
0..1 and averaged into ``hedging_index``:

* **divergence**: the state mixes return-maximising moves toward one power (economic pragmatism,
  binding engagement, limited bandwagoning) with risk-contingency moves toward another (indirect
  balancing, dominance denial): Kuik 2008, 2016. Measured as the total variation distance between
  its economic and its security alignment, ``0.5 * sum_i |econ_i - sec_i|``.
* **ambiguity**: it keeps its security alignment ambiguous, sending no clear signal of which side
  it is on (Lim & Cooper 2015). Measured as the normalised evenness of the security shares.
* **fallback**: it keeps working ties with every side, so that it can fall back on any of them
  (Kuik 2016: "fallback position"; Goh 2005). A power counts fully when the state's share toward
  it is at least 1/P in some dimension; rescaled so that ties with one power only give 0.

Pure alignment with one power in every dimension scores 0 on all three. Equidistance in every
dimension scores 2/3 (no divergence); the classic hedge (economy with the rising power, security
spread evenly) scores 0.89. ``diversification`` keeps the evenness of the mean alignment, the
first version's index, as its own output.

Every function takes arrays with the powers on the first axis (runs after it).
"""

from __future__ import annotations

import numpy as np


def evenness(shares: np.ndarray) -> np.ndarray:
    """(1 - sum of squared shares) / (1 - 1/P): 1 spread evenly, 0 all on one power."""
    n = shares.shape[0]
    return (1.0 - (shares * shares).sum(axis=0)) / (1.0 - 1.0 / n)


def divergence(economic: np.ndarray, security: np.ndarray) -> np.ndarray:
    """Total variation distance between economic and security alignment (Kuik's mixed moves)."""
    return 0.5 * np.abs(economic - security).sum(axis=0)


def fallback(alignment: np.ndarray) -> np.ndarray:
    """Breadth of working ties: alignment has shape (dimensions, powers, runs)."""
    n = alignment.shape[1]
    ties = np.minimum(1.0, n * alignment.max(axis=0)).mean(axis=0)
    return (ties - 1.0 / n) / (1.0 - 1.0 / n)


def hedging_components(alignment: np.ndarray, economic: int = 0, security: int = 1) -> dict[str, np.ndarray]:
    """divergence, ambiguity, fallback and their mean, the hedging index."""
    parts = {
        "divergence": divergence(alignment[economic], alignment[security]),
        "ambiguity": evenness(alignment[security]),
        "fallback": fallback(alignment),
    }
    parts["index"] = (parts["divergence"] + parts["ambiguity"] + parts["fallback"]) / 3.0
    return parts
