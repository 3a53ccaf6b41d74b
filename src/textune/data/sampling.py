"""Stratified few-shot samples and held-out splits, reproducible from a seed."""

from __future__ import annotations

import logging
import random
from collections import defaultdict

from .errors import DataError
from .examples import Examples
from .labels import label_counts

log = logging.getLogger(__name__)


def sample_per_class(ex: Examples, n: int, seed: int = 0) -> Examples:
    """Take `n` examples of every class: shuffle with `random.Random(seed)`, keep the first n.
    Label sets: at least `n` rows for every label (a row counts for each of its labels).

    This is the protocol of the SetFit paper's few-shot splits, so the same seed gives the same
    sample to textune and to the `setfit` library in benchmarks. A class with fewer than n
    examples contributes all it has, with a warning.
    """
    ex.require_labels()
    if n <= 0:
        raise DataError(f"shots must be a positive number of examples per class, got {n}.")
    order = list(range(len(ex)))
    random.Random(seed).shuffle(order)
    taken: dict = defaultdict(int)
    keep = []
    for i in order:
        # label sets: a row is taken while it adds to a label still under n, and then
        # counts for each of its labels
        ys = ex.labels[i] if ex.multi_label else (ex.labels[i],)
        if any(taken[y] < n for y in ys):
            for y in ys:
                taken[y] += 1
            keep.append(i)
    short = {y: c for y, c in taken.items() if c < n}
    if short:
        log.warning("%s: fewer than %d examples for %s; using all of them.", ex.source, n,
                    ", ".join(f"{y!r} ({c})" for y, c in sorted(short.items(), key=str)))
    return ex.subset(keep)


def split(ex: Examples, test_size: float = 0.2, seed: int = 0) -> tuple[Examples, Examples]:
    """Stratified train/held-out split (scikit-learn), e.g. for a validation set."""
    from sklearn.model_selection import train_test_split

    ex.require_labels()
    idx = list(range(len(ex)))
    strata = ex.labels
    if ex.multi_label:  # label sets: stratify on each row's rarest label
        counts = label_counts(ex)
        strata = [str(min(row, key=lambda y: (counts[y], str(y)))) if row else "" for row in
                  ex.labels]
    try:
        a, b = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strata)
    except ValueError as e:
        raise DataError(f"{ex.source}: cannot split {len(ex)} rows stratified by label ({e}). "
                        "Each class needs at least two examples.") from e
    return ex.subset(sorted(a)), ex.subset(sorted(b))
