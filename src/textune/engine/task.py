"""What a method hands the engine: a `Task` (the model, its training batches, the loss of one
batch, optionally an evaluation), and `ClassifierTask`, what tasks of class-probability
models share."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from .. import metrics


class Task(Protocol):
    """What a method gives the engine."""

    model: torch.nn.Module

    def train_loader(self) -> torch.utils.data.DataLoader: ...

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor: ...

    # Optional: `after_step(model, step)` after each optimizer update (e.g. checkpoints);
    # `evaluate(model) -> {"accuracy", "f1_macro", "pred": class ids}` on the
    # validation split; `train_label_ids` (np.ndarray) and `predict_train(model)` (class ids
    # for the same rows, used when there is no validation split) for the collapse check;
    # `batch_sampler` with `set_epoch(epoch)`, reshuffled per epoch (and on resume).


class ClassifierTask:
    """What tasks whose model predicts class probabilities share: batches of row indices,
    scores on the validation split, and predictions on training rows for the collapse check.
    Subclasses set `model` and `predictor` (anything with `predict_proba(texts, pairs)`) and
    define `loss`."""

    def __init__(self, texts, pairs, y, batch_sampler, val=None):
        self.rows = (texts, pairs)
        self.y = self.train_label_ids = y
        self.batch_sampler = batch_sampler
        self.val = val  # (texts, pairs, label ids) or None
        if val is None:
            self.evaluate = None

    def collate(self, idx: list[int]):
        return torch.as_tensor(idx)

    def train_loader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(range(len(self.y)), batch_sampler=self.batch_sampler,
                                           collate_fn=self.collate)

    @property
    def multi_label(self) -> bool:
        """Labels are a (rows, labels) 0/1 matrix rather than class ids."""
        return np.ndim(self.y) == 2

    def predict_train(self, model, limit: int = 256):
        if self.multi_label:  # the collapse check is about one class for every row
            return None
        texts, pairs = self.rows  # a sample is enough to see a collapse
        pairs = None if pairs is None else pairs[:limit]
        return self.predictor.predict_proba(texts[:limit], pairs).argmax(axis=1)

    def evaluate(self, model) -> dict:
        """The scores `metrics` reports, on the validation split: accuracy and macro-F1 (or,
        for label sets decided at 0.5, micro-F1, which picks the best weights)."""
        texts, pairs, y = self.val
        proba = self.predictor.predict_proba(texts, pairs)
        if self.multi_label:
            return metrics.label_set_scores(y, (proba >= 0.5).astype(int))
        pred = proba.argmax(axis=1)
        return {**metrics.class_scores(y, pred), "pred": pred}
