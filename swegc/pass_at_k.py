"""pass@k, the unbiased estimator (Chen et al. 2021), in one place for train/ and hub/.

For an instance with n samples of which c resolved, pass@k = 1 - C(n-c, k) / C(n, k): the
chance that a uniformly drawn k-subset holds a resolved sample. A curve averages it over
instances for k = 1 up to the fewest samples any instance has. It lives in the core because
train/ (the metrics command) and hub/ (the runs card) both report it and neither may import
the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb


def pass_at_k(n: int, c: int, k: int) -> float:
    """Exact pass@k of one instance with ``n`` samples, ``c`` resolved."""
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and n={n}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_at_curve(outcomes: Mapping[str, Sequence[bool]]) -> list[float]:
    """pass@k for k = 1..(fewest samples of an instance), averaged over instances."""
    if not outcomes:
        return []
    smallest = min(len(v) for v in outcomes.values())
    return [sum(pass_at_k(len(v), sum(v), k) for v in outcomes.values()) / len(outcomes)
            for k in range(1, smallest + 1)]
