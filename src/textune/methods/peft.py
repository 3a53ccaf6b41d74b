"""Parameter-efficient tuning: a peft adapter (LoRA, IA3, prefix, prompt, p-tuning) and the
classification head train; the backbone stays frozen.

On an encoder the head is a classification layer (saved with the adapter); on a causal LM
(`--model smollm2`) `for_backbone` hands the run to label words (`label_words.py`), a method
of its own with its own config, which the model classifies with by scoring each label's
words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Examples
from .base import Method
from .config import (AdapterConfig, ClassWeightConfig, LongTextConfig, SupervisedConfig,
                     VirtualTokensConfig, knob)
from .label_words import LabelWords
from .supervised import validation_problem, validation_proba


@dataclass
class PeftConfig(ClassWeightConfig, VirtualTokensConfig, AdapterConfig, LongTextConfig,
                 SupervisedConfig):
    merge: bool = knob(False, "fold a lora/ia3 adapter into the base weights after training",
                       doc="Fold a lora/ia3 adapter into the base weights after training: a "
                       "plain model at inference.", example="--method peft --peft lora --merge")


class Peft(Method):
    name = "peft"
    summary = ("an adapter (peft) + the head, backbone frozen; on a causal LM (--model "
               "smollm2) the adapter learns to score label words")
    config = PeftConfig
    multi_label = True  # on an encoder; label words score one class each
    variants = {"peft on a causal LM (--model smollm2)": LabelWords}

    @classmethod
    def for_backbone(cls, model: str) -> type[Method]:
        """A causal LM backbone classifies by label words, a method of its own."""
        from ..models.generative import is_causal_lm

        return LabelWords if is_causal_lm(model) else cls

    checkpoints = True  # trains on the engine: checkpoints and resume

    def fit(self, cfg: PeftConfig, ex: Examples, y: np.ndarray, checkpoint=None):
        from .finetune import train_sequence

        return train_sequence(cfg, ex, y, peft=cfg.peft or "lora", checkpoint=checkpoint)

    # tuning thresholds: on the validation split, which must exist
    tunes_thresholds = True
    tuning_problem = staticmethod(validation_problem)
    held_out = staticmethod(validation_proba)
