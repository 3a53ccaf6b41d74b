"""Parameter-efficient tuning: a peft adapter (LoRA, IA3, prefix, prompt, p-tuning) and the
classification head train; the backbone stays frozen.

On an encoder the head is a classification layer (saved with the adapter); on a causal LM
(`--model smollm2`) the model classifies by scoring each label's words (`label_words.py`),
which reads its own config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Examples
from .config import (AdapterConfig, ClassWeightConfig, LongTextConfig, SupervisedConfig,
                     VirtualTokensConfig, knob)
from .label_words import LabelWordsConfig, train_label_words
from .supervised import validation_problem, validation_proba


@dataclass
class PeftConfig(ClassWeightConfig, VirtualTokensConfig, AdapterConfig, LongTextConfig,
                 SupervisedConfig):
    merge: bool = knob(False, "fold a lora/ia3 adapter into the base weights after training",
                       doc="Fold a lora/ia3 adapter into the base weights after training: a "
                       "plain model at inference.", example="--method peft --peft lora --merge")


class Peft:
    name = "peft"
    summary = ("an adapter (peft) + the head, backbone frozen; on a causal LM (--model "
               "smollm2) the adapter learns to score label words")
    config = PeftConfig
    multi_label = True  # on an encoder; label words score one class each
    variants = {"peft": PeftConfig, "peft on a causal LM (--model smollm2)": LabelWordsConfig}
    trains_body = True
    hints = {"merge": "Merging folds a lora/ia3 adapter into an encoder; a causal LM's "
                      "artifact is its adapter alone."}

    @staticmethod
    def config_for(model: str) -> type:
        """A causal LM backbone classifies by label words, which read their own config."""
        from ..models.generative import is_causal_lm

        return LabelWordsConfig if is_causal_lm(model) else PeftConfig

    def fit(self, cfg: PeftConfig | LabelWordsConfig, ex: Examples, y: np.ndarray,
            checkpoint=None):
        from .finetune import train_sequence

        method = cfg.peft or "lora"
        if isinstance(cfg, LabelWordsConfig):
            if y.ndim == 2:
                raise ValueError("a causal LM classifies by scoring one label's words, so it "
                                 "does not train on label sets; for multi-label data use "
                                 "--method setfit, probe, finetune or peft on an encoder "
                                 "(--model minilm).")
            return train_label_words(cfg, ex, y, method, checkpoint=checkpoint)
        return train_sequence(cfg, ex, y, peft=method, checkpoint=checkpoint)

    # tuning thresholds: on the validation split, which must exist
    tuning_problem = staticmethod(validation_problem)
    held_out = staticmethod(validation_proba)
