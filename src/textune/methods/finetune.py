"""Full fine-tuning: the whole encoder and a fresh classification head, cross-entropy.

The classic BERT-on-MRPC recipe, on the shared engine: texts or text pairs tokenised once,
length-grouped batches padded per batch, optional class weights, evaluation on a validation
split every epoch, early stopping, and the best epoch's weights kept. With
`long_text="chunk"` a long text trains as its overlapping windows, each with its label, and
is predicted from the average of its windows' logits. `peft` reuses this loop
with an adapter (`train_sequence(..., peft=...)`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..data import Examples
from .base import Method
from .config import ClassWeightConfig, LongTextConfig, SupervisedConfig
from .supervised import (class_weights, default_epochs, validation_problem, validation_proba,
                         validation_split)

log = logging.getLogger(__name__)


@dataclass
class FinetuneConfig(ClassWeightConfig, LongTextConfig, SupervisedConfig):
    """What finetune reads: the shared knobs of its bases, none of its own."""


def train_sequence(cfg, ex: Examples, y: np.ndarray, peft: str | None = None, checkpoint=None):
    """Build the backbone with a head (and, with `peft`, an adapter sized by `cfg`), train it
    on the engine (checkpointed by `checkpoint`, an `engine.Checkpointing`), return it."""
    from .. import engine
    from ..engine.health import warn_unknown_tokens
    from ..models.adapters import DEFAULT_LR, trainable_counts
    from ..models.long_text import log_long_texts
    from ..models.sequence import SequenceModel
    from .sequence_task import SequenceTask

    multi = y.ndim == 2  # label sets: sigmoid outputs, binary cross-entropy
    n_classes = y.shape[1] if multi else int(y.max()) + 1
    train_ex, val = validation_split(ex, y, cfg)  # before loading: a bad split fails fast
    engine.seed_everything(cfg.seed)
    adapter = dict(lora_r=cfg.lora_r, num_virtual_tokens=cfg.num_virtual_tokens) if peft else {}
    sm = SequenceModel.build(cfg.model, n_classes, max_length=cfg.max_length, peft=peft,
                             labels=[str(c) for c in ex.classes], multi_label=multi,
                             long_text=cfg.long_text, stride=cfg.stride, **adapter)
    warn_unknown_tokens(sm.tokenizer, ex.texts, cfg.model, log)
    n_long = log_long_texts(log, sm.tokenizer, ex, sm.max_length, sm.long_text, sm.stride)
    y_train = train_ex.label_ids(ex.classes)
    batch_size = cfg.batch_size or min(16, max(4, len(train_ex) // 4))
    lr = cfg.learning_rate or (DEFAULT_LR[peft] if peft else 5e-5)
    weights = class_weights(y_train, n_classes) if cfg.class_weight == "balanced" else None
    task = SequenceTask(sm, train_ex.texts, train_ex.text_pairs, y_train, batch_size=batch_size,
                        seed=cfg.seed, class_weights=weights, val=val)
    # rows trained on: windows when long texts are chunked (the default epochs count updates)
    n_rows = len(task.y)
    epochs = cfg.epochs or default_epochs(n_rows, batch_size)
    loop = engine.TrainConfig(
        epochs=epochs, learning_rate=lr, weight_decay=0.01, warmup_ratio=cfg.warmup_ratio,
        grad_accum=cfg.grad_accum, mixed_precision=cfg.bf16, eval_every=cfg.eval_steps,
        patience=cfg.patience if cfg.patience is not None else (2 if val else None),
        seed=cfg.seed, progress=cfg.show_progress, desc=peft or "finetune",
        metric="f1_micro" if multi else "accuracy", class_names=[str(c) for c in ex.classes])
    result = engine.fit(task, loop, checkpoint=checkpoint,
                        examples_per_batch=lambda b: len(b["input_ids"]))
    trainable, total = trainable_counts(sm.model)
    stats = {"epochs": epochs, "batch_size": batch_size, "learning_rate": lr,
             "load_seconds": sm.load_seconds,
             "validation_rows": 0 if val is None else len(val[2]),
             "texts_over_max_length": n_long, "training_windows": n_rows,
             "trainable_parameters": trainable, "total_parameters": total,
             **result.as_dict()}
    if peft and cfg.merge:
        sm.merge()
        stats["merged"] = True
    return sm, stats


class Finetune(Method):
    name = "finetune"
    summary = ("the whole encoder + a classification head (thousands of examples; text pairs "
               "as pairs)")
    config = FinetuneConfig
    multi_label = True  # label sets: sigmoid outputs, binary cross-entropy
    hints = {"peft": "--method finetune trains every weight; for adapters use --method peft "
                     "--peft lora (or ia3, prefix, prompt, ptuning)."}

    checkpoints = True  # trains on the engine: checkpoints and resume

    def fit(self, cfg: FinetuneConfig, ex: Examples, y: np.ndarray, checkpoint=None):
        return train_sequence(cfg, ex, y, checkpoint=checkpoint)

    # tuning thresholds: on the validation split, which must exist
    tunes_thresholds = True
    tuning_problem = staticmethod(validation_problem)
    held_out = staticmethod(validation_proba)
