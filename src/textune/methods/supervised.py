"""What the supervised (cross-entropy) methods share: a stratified validation split, the
default number of epochs and balanced class weights. Used by `finetune`, `peft` and
`label_words`."""

from __future__ import annotations

import logging
import math
import numpy as np

from ..data import DataError, Examples, label_counts
from ..data.sampling import split

log = logging.getLogger(__name__)

MIN_VALIDATION_ROWS = 200  # below this every example is worth more as training data


def default_epochs(n_train: int, batch_size: int) -> int:
    """3 passes over large sets (the classic recipe); small sets get enough passes for about
    100 optimizer updates, capped at 50 epochs."""
    per_epoch = math.ceil(n_train / batch_size)
    return int(min(50, max(3, math.ceil(100 / per_epoch))))


def validation_split(ex: Examples, y: np.ndarray, cfg):
    """Hold out `cfg.validation` of the rows (auto: 10% when there are >= 200) for early
    stopping and picking the best epoch. The split is stratified, so every class is seen in
    training; when that is impossible the automatic split is skipped (with an info log) and
    an explicit `--validation` is refused, naming the classes."""
    frac = cfg.validation
    auto = frac is None
    if auto:
        frac = 0.1 if len(ex) >= MIN_VALIDATION_ROWS else 0.0
    if not frac:
        return ex, None
    problem = stratify_problem(ex, frac)
    if problem and auto:
        log.info("training on all %d rows without a validation split (no early stopping): "
                 "%s.", len(ex), problem)
        return ex, None
    if problem:
        raise DataError(f"{ex.source}: --validation {frac:g} cannot hold out a stratified "
                        f"split: {problem}. Pass --validation 0 to train without one.")
    train_ex, val_ex = split(ex, test_size=frac, seed=cfg.seed)
    return train_ex, (val_ex.texts, val_ex.text_pairs, val_ex.label_ids(ex.classes))


def validation_problem(cfg, ex: Examples) -> str | None:
    """Why this run will have no validation split (checked before training, by the rules
    of `validation_split`), or None."""
    if cfg.validation == 0:
        return "--validation 0 turns the split off"
    if cfg.validation is None and len(ex) < MIN_VALIDATION_ROWS:
        return (f"with {len(ex)} rows (under {MIN_VALIDATION_ROWS}) none is held out by "
                "default")
    if cfg.validation is None:  # an explicit fraction that cannot split fails in training
        problem = stratify_problem(ex, 0.1)
        return f"the default 10% split is impossible: {problem}" if problem else None
    return None


def validation_proba(cfg, ex: Examples, y: np.ndarray, model):
    """The trained model's probabilities on the run's validation split (the same seeded
    split it trained without) and the split's labels."""
    _, val = validation_split(ex, y, cfg)
    if val is None:  # validation_problem said so before training; kept as a guard
        raise DataError(f"{ex.source}: this run held out no validation split to tune "
                        "thresholds on; pass --validation 0.2.")
    texts, pairs, truth = val
    return model.predict_proba(texts, pairs), truth


def stratify_problem(ex: Examples, frac: float) -> str | None:
    """Why a stratified split of `frac` of the rows is impossible, or None when it works:
    each class needs two rows, and each side of the split one row per class."""
    if not 0 < frac < 1:
        return f"it is a fraction of the rows, between 0 and 1 (got {frac:g})"
    # label sets: rows per label (a split keeps each row's rarest label on both sides)
    counts = label_counts(ex)
    single = [c for c in ex.classes if counts[c] < 2]
    if single:
        shown = ", ".join(repr(c) for c in single[:10])
        more = f" and {len(single) - 10} more" if len(single) > 10 else ""
        return (f"{len(single)} class(es) have a single row ({shown}{more}), and a split "
                "needs two of each")
    held_out = math.ceil(frac * len(ex))
    if min(held_out, len(ex) - held_out) < len(counts):
        return (f"{frac:g} of {len(ex)} rows leaves {min(held_out, len(ex) - held_out)} rows "
                f"on one side, fewer than the {len(counts)} classes")
    return None


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """'balanced' weights, n / (k * count), as scikit-learn computes them. For a multi-label
    (rows, labels) matrix: per-label positive weights, negatives / positives (at most 100),
    so a rare label's few positives count as much as its many negatives."""
    if np.ndim(y) == 2:
        pos = y.sum(axis=0).astype(np.float64)
        return np.clip((len(y) - pos) / np.maximum(pos, 1.0), 1.0, 100.0)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return len(y) / (n_classes * np.maximum(counts, 1))
