"""Deterministic training subsets: a balanced fraction per class, and a long-tailed split.

Both draw one random permutation of each class's indices from ``seed`` and take a prefix of it.
Prefixes make the subsets nested: with the same seed, the 10% subset lies inside the 25% one,
and the ratio-100 long tail inside the ratio-10 one, so a data-scale curve compares growing
datasets rather than unrelated draws. Test sets are never subsampled: evaluate on all of it.
"""

from __future__ import annotations

import torch

from ..seeding import generator


def _class_permutations(labels: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """For each class, its indices in ``labels`` in a seeded random order."""
    labels = torch.as_tensor(labels).long().cpu()
    if labels.ndim != 1 or labels.numel() == 0:
        raise ValueError(f"labels must be a non-empty 1-D tensor, got shape {tuple(labels.shape)}")
    if labels.min() < 0:
        raise ValueError("labels must be class indices >= 0")
    perms = []
    for c in range(int(labels.max()) + 1):
        members = (labels == c).nonzero().flatten()
        # One draw per class, seeded from (seed, class): a class's order does not depend on
        # how many other classes there are or how large they are.
        perms.append(members[torch.randperm(len(members), generator=generator(seed, "subset", c))])
    return perms


def per_class_fraction(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Sorted indices keeping ``round(fraction * n_c)`` (at least 1) samples of every class c.

    ``fraction`` in (0, 1]; 1.0 returns every index. Balanced data stays balanced.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r} "
                         "(e.g. 0.1 for 10% of each class)")
    kept = [perm[:max(1, round(fraction * len(perm)))] for perm in _class_permutations(labels, seed)
            if len(perm)]
    return torch.cat(kept).sort().values


def long_tailed_counts(n_max: int, num_classes: int, imbalance_ratio: float) -> list[int]:
    """``n_i = n_max * ratio ** (-i / (K - 1))`` rounded down: class 0 keeps ``n_max``, the last
    ``n_max / ratio`` (e.g. 5000 ... 50 for CIFAR-10 with ratio 100, 12,406 images in all, the
    usual CIFAR-10-LT)."""
    if not imbalance_ratio >= 1.0:
        raise ValueError(f"imbalance_ratio must be >= 1 (n_max / n_min), got {imbalance_ratio!r} "
                         "(e.g. 10 or 100; 1 keeps the classes balanced)")
    if num_classes == 1:
        return [n_max]
    # The tiny epsilon keeps exact products (5000 * 0.01 = 50) from flooring to 49.
    return [max(1, int(n_max * imbalance_ratio ** (-i / (num_classes - 1)) + 1e-9))
            for i in range(num_classes)]


def long_tailed(labels: torch.Tensor, imbalance_ratio: float, seed: int = 0,
                n_max: int | None = None) -> torch.Tensor:
    """Sorted indices of a long-tailed subset: class i keeps ``n_max * ratio^(-i/(K-1))``.

    Class 0 is the head and class K-1 the tail (standard label order). ``n_max`` defaults to
    the smallest class's size, so every class can supply its count.
    """
    perms = _class_permutations(labels, seed)
    sizes = [len(p) for p in perms]
    n_max = min(sizes) if n_max is None else n_max
    if n_max > min(sizes):
        raise ValueError(f"n_max={n_max} exceeds the smallest class ({min(sizes)} samples)")
    counts = long_tailed_counts(n_max, len(perms), imbalance_ratio)
    return torch.cat([perm[:n] for perm, n in zip(perms, counts)]).sort().values


def spread_indices(total: int, n: int) -> torch.Tensor:
    """At most `n` indices spread evenly over range(total): the same evaluation images every time."""
    return torch.arange(0, total, max(1, total // n))[:n]
