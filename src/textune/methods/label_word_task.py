"""The engine's task for `peft` on a causal LM (`label_words`): apart so that
`methods.label_words` (its config, read by the registry and `textune --help`) imports no torch."""

from __future__ import annotations

import numpy as np
import torch

from ..engine.batching import LengthGroupedBatchSampler
from ..engine.loop import ClassifierTask
from ..models.generative import LabelWordModel


class LabelWordTask(ClassifierTask):
    """The engine's view: batches of example indices, loss = -log p(right verbaliser)."""

    def __init__(self, lw: LabelWordModel, texts, pairs, y: np.ndarray, *, batch_size: int,
                 seed: int, val=None):
        self.predictor = lw
        self.model = lw.model
        self.prompts = lw.prompt_ids(texts, pairs)
        sampler = LengthGroupedBatchSampler([len(p) for p in self.prompts], batch_size, seed)
        super().__init__(texts, pairs, y, sampler, val)

    def loss(self, model, idx: torch.Tensor) -> torch.Tensor:
        idx = idx.cpu().numpy()
        classes = self.y[idx].tolist()
        return -self.predictor.score(model, [self.prompts[i] for i in idx], classes).mean()
