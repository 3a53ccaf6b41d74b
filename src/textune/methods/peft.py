"""Parameter-efficient tuning: a peft adapter (LoRA, IA3, prefix, prompt, p-tuning) and the
classification head train; the backbone stays frozen.

On an encoder the head is a classification layer (saved with the adapter); on a causal LM
(`--model smollm2`) the model classifies by scoring each label's words (`generative.py`).
"""

from __future__ import annotations

import numpy as np

from ..data import Examples


class Peft:
    name = "peft"
    trains_body = True

    def fit(self, clf, ex: Examples, y: np.ndarray):
        from ..generative import is_causal_lm, train_label_words
        from .finetune import train_sequence

        method = clf.peft or "lora"
        if is_causal_lm(clf.model):
            return train_label_words(clf, ex, y, method)
        return train_sequence(clf, ex, y, peft=method)
