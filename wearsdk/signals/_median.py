"""The median of a few floats without ``numpy.ma``.

``np.median`` imports ``numpy.ma`` at its first call (its NaN check asks whether the array is
masked): about 30 ms of every process that computes one median, a noticeable part of a short
replay's start-up. :func:`median` returns the same float, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["median"]


def median(values: npt.ArrayLike) -> float:
    """``float(np.median(values))`` of a non-empty 1-D float64 series, the same float.

    It takes the same steps: the two middle order statistics (one for an odd count) by
    ``np.partition``, with the largest value, whose NaN makes the median NaN; their mean as
    ``np.mean`` computes it (``(0.0 + a + b) / 2``). Anything else (another dtype or shape, no
    value) goes to ``np.median`` itself.
    """
    a = np.asarray(values)
    n = a.size
    if a.dtype != np.float64 or a.ndim != 1 or n == 0:
        return float(np.median(a))
    h = n // 2
    p = np.partition(a, (h, n - 1) if n % 2 else (h - 1, h, n - 1))
    if math.isnan(p[n - 1]):
        return math.nan
    # np.mean sums from 0.0 (a -0.0 median is 0.0) and divides by the count
    return float(0.0 + p[h]) if n % 2 else float((0.0 + p[h - 1] + p[h]) / 2)
