"""Linear probe: the encoder stays frozen; only the logistic-regression head is fitted.

The honest baseline every report shows: seconds to train, and what contrastive training has
to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Examples
from .anchors import add_label_anchors
from .base import Method
from .config import AnchorConfig, HeadConfig, LongTextConfig, MethodConfig, VerbalizerConfig


@dataclass
class ProbeConfig(HeadConfig, VerbalizerConfig, AnchorConfig, LongTextConfig, MethodConfig):
    """What the probe reads: the shared knobs of its bases, none of its own."""


class Probe(Method):
    name = "probe"
    summary = "frozen encoder + logistic-regression head (the seconds-fast baseline)"
    config = ProbeConfig
    multi_label = True  # label sets: a one-vs-rest head
    tunes_thresholds = True  # on out-of-fold heads (`held_out`)
    hints = {"peft": "--method probe trains no encoder weights, so it takes no --peft "
                     "adapter; use --method setfit --peft lora or --method peft."}

    def fit(self, cfg: ProbeConfig, ex: Examples, y: np.ndarray):
        from .encoder_head import fit_head, load_encoder

        ex, y, n_anchors = add_label_anchors(ex, y, cfg.label_anchors, cfg.verbalizers)
        encoder = load_encoder(cfg, ex)
        model, stats = fit_head(encoder, ex, y, cfg)
        return model, {**stats, "label_anchors": n_anchors}

    def held_out(self, cfg: ProbeConfig, ex: Examples, y: np.ndarray, model):
        """Probabilities for tuning thresholds: out-of-fold heads (`held_out_head`)."""
        from .encoder_head import held_out_head

        return held_out_head(model, ex, y, cfg)
