"""The engine's task for `finetune` and `peft` on an encoder: padded batches of a
`models.sequence.SequenceModel`, cross-entropy (binary for label sets). Apart so that
`methods.finetune` imports no torch until it trains."""

from __future__ import annotations

import numpy as np
import torch

from ..engine.batching import LengthGroupedBatchSampler
from ..engine.loop import ClassifierTask
from ..models.sequence import SequenceModel


class SequenceTask(ClassifierTask):
    """The engine's view of sequence-classification training: padded batches, cross-entropy."""

    def __init__(self, sm: SequenceModel, texts, pairs, y: np.ndarray, *, batch_size: int,
                 seed: int, class_weights: np.ndarray | None = None, val=None):
        self.predictor = sm
        self.model = sm.model
        self.enc, owner = sm.windows(texts, pairs)  # long texts: a row per window
        lengths = [len(x) for x in self.enc["input_ids"]]
        super().__init__(texts, pairs, y, LengthGroupedBatchSampler(lengths, batch_size, seed),
                         val)
        if owner is not None:  # each window learns its text's label
            self.y = y[owner]
        self.weights = None if class_weights is None else torch.tensor(class_weights,
                                                                        dtype=torch.float32)

    def collate(self, idx: list[int]) -> dict:
        batch = self.predictor.collate(self.enc, idx)
        batch["labels"] = torch.as_tensor(self.y[idx])
        return batch

    def loss(self, model, batch):
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        weight = None if self.weights is None else self.weights.to(logits.device)
        if labels.dim() == 2:  # multi-label: a sigmoid per label; weights weigh positives
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.float(), pos_weight=weight)
        return torch.nn.functional.cross_entropy(logits, labels, weight=weight)
