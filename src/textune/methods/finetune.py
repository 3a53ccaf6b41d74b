"""Full fine-tuning: the whole encoder and a fresh classification head, cross-entropy.

The classic BERT-on-MRPC recipe, on the shared engine: texts or text pairs tokenised once,
length-grouped batches padded per batch, optional class weights, evaluation on a validation
split every epoch, early stopping, and the best epoch's weights kept.
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import numpy as np

from ..data import DataError, Examples
from ..data.sampling import split

log = logging.getLogger(__name__)

MIN_VALIDATION_ROWS = 200  # below this every example is worth more as training data


def default_epochs(n_train: int, batch_size: int) -> int:
    """3 passes over large sets (the classic recipe); small sets get enough passes for about
    100 optimizer updates, capped at 50 epochs."""
    per_epoch = math.ceil(n_train / batch_size)
    return int(min(50, max(3, math.ceil(100 / per_epoch))))


def train_sequence(clf, ex: Examples, y: np.ndarray, peft: str | None = None):
    """Build the backbone with a head (and adapter), train it on the engine, return it."""
    from .. import engine
    from ..adapters import DEFAULT_LR, trainable_counts
    from ..health import warn_unknown_tokens
    from ..sequence import SequenceModel, SequenceTask, class_weights

    n_classes = int(y.max()) + 1
    train_ex, val = _validation_split(ex, y, clf)  # before loading: a bad split fails fast
    engine.seed_everything(clf.seed)
    sm = SequenceModel.build(clf.model, n_classes, max_length=clf.max_length, peft=peft,
                             lora_r=clf.lora_r, num_virtual_tokens=clf.num_virtual_tokens,
                             labels=[str(c) for c in ex.classes])
    warn_unknown_tokens(sm.tokenizer, ex.texts, clf.model, log)
    y_train = _label_ids(train_ex, ex)
    batch_size = clf.batch_size or min(16, max(4, len(train_ex) // 4))
    epochs = clf.epochs or default_epochs(len(train_ex), batch_size)
    lr = clf.learning_rate or (DEFAULT_LR[peft] if peft else 5e-5)
    weights = class_weights(y_train, n_classes) if clf.class_weight == "balanced" else None
    task = SequenceTask(sm, train_ex.texts, train_ex.text_pairs, y_train, batch_size=batch_size,
                        seed=clf.seed, class_weights=weights, val=val)
    cfg = engine.TrainConfig(
        epochs=epochs, learning_rate=lr, weight_decay=0.01, warmup_ratio=clf.warmup_ratio,
        grad_accum=clf.grad_accum, mixed_precision=clf.bf16, eval_every=clf.eval_steps,
        patience=clf.patience if clf.patience is not None else (2 if val else None),
        seed=clf.seed, progress=clf.show_progress, desc=peft or "finetune",
        class_names=[str(c) for c in ex.classes])
    result = engine.fit(task, cfg, examples_per_batch=lambda b: len(b["input_ids"]))
    trainable, total = trainable_counts(sm.model)
    stats = {"epochs": epochs, "batch_size": batch_size, "learning_rate": lr,
             "load_seconds": sm.load_seconds,
             "validation_rows": 0 if val is None else len(val[2]),
             "trainable_parameters": trainable, "total_parameters": total,
             **result.as_dict()}
    if peft and clf.merge:
        sm.merge()
        stats["merged"] = True
    return sm, stats


def _validation_split(ex: Examples, y: np.ndarray, clf):
    """Hold out `clf.validation` of the rows (auto: 10% when there are >= 200) for early
    stopping and picking the best epoch. The split is stratified, so every class is seen in
    training; when that is impossible the automatic split is skipped (with an info log) and
    an explicit `--validation` is refused, naming the classes."""
    frac = clf.validation
    auto = frac is None
    if auto:
        frac = 0.1 if len(ex) >= MIN_VALIDATION_ROWS else 0.0
    if not frac:
        return ex, None
    problem = _stratify_problem(ex, frac)
    if problem and auto:
        log.info("training on all %d rows without a validation split (no early stopping): "
                 "%s.", len(ex), problem)
        return ex, None
    if problem:
        raise DataError(f"{ex.source}: --validation {frac:g} cannot hold out a stratified "
                        f"split: {problem}. Pass --validation 0 to train without one.")
    train_ex, val_ex = split(ex, test_size=frac, seed=clf.seed)
    return train_ex, (val_ex.texts, val_ex.text_pairs, _label_ids(val_ex, ex))


def _stratify_problem(ex: Examples, frac: float) -> str | None:
    """Why a stratified split of `frac` of the rows is impossible, or None when it works:
    each class needs two rows, and each side of the split one row per class."""
    if not 0 < frac < 1:
        return f"it is a fraction of the rows, between 0 and 1 (got {frac:g})"
    counts = Counter(ex.labels)
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


def _label_ids(part: Examples, full: Examples) -> np.ndarray:
    index = {c: i for i, c in enumerate(full.classes)}
    return np.array([index[v] for v in part.labels])


class Finetune:
    name = "finetune"
    trains_body = True

    def fit(self, clf, ex: Examples, y: np.ndarray):
        if clf.peft:
            raise ValueError("--method finetune trains every weight; for adapters use "
                             f"--method peft --peft {clf.peft}.")
        return train_sequence(clf, ex, y)
