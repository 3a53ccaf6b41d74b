"""What setfit and probe share in training: the backbone loaded as a sentence encoder, a
logistic-regression head fitted on its embeddings, and out-of-fold heads for tuning
thresholds. The result is a `models.embedding.EmbeddingModel`.

Torch loads inside the functions, so the method modules that import this one stay light.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..models.embedding import EmbeddingModel
    from ..models.encoder import Encoder

log = logging.getLogger(__name__)


def load_encoder(cfg, ex) -> Encoder:
    """The backbone as a sentence encoder, with a warning when it cannot read the texts."""
    from ..engine.health import warn_unknown_tokens
    from ..models.encoder import Encoder
    from ..models.long_text import log_long_texts

    t0 = time.perf_counter()
    # a method whose config has no long-text knobs (e.g. one outside textune) truncates
    encoder = Encoder.load(cfg.model, None, cfg.max_length,
                           getattr(cfg, "long_text", "truncate"), getattr(cfg, "stride", None))
    encoder.load_seconds = time.perf_counter() - t0
    warn_unknown_tokens(encoder.tokenizer, ex.texts, cfg.model, log)
    n_long = log_long_texts(log, encoder.tokenizer, ex, encoder.max_length, encoder.long_text,
                            encoder.stride)
    encoder.long_texts = n_long
    return encoder


def fit_head(encoder: Encoder, ex, y: np.ndarray, cfg) -> tuple[EmbeddingModel, dict]:
    """Embed the training texts with the (trained or frozen) body and fit the head on them
    (`y`: class ids, or a 0/1 label matrix for a multi-label head)."""
    from ..models.embedding import EmbeddingModel
    from ..models.heads import LogisticHead

    emb = encoder.embed(ex.texts, ex.text_pairs, progress=cfg.show_progress,
                        desc="encoding train")
    head = LogisticHead(C=cfg.head_c, multi_label=y.ndim == 2).fit(emb, y, seed=cfg.seed)
    n_head = int(head.coef.size + head.intercept.size)
    return EmbeddingModel(encoder, head), {"head_parameters": n_head,
                                           "load_seconds": getattr(encoder, "load_seconds", 0.0),
                                           "texts_over_max_length": getattr(encoder,
                                                                            "long_texts", 0)}


def held_out_head(model: EmbeddingModel, ex, y: np.ndarray, cfg, folds: int = 5):
    """Out-of-fold head probabilities on the training rows, for tuning decision thresholds
    without giving up few-shot examples to a split: each fold's head is fitted on the other
    folds' embeddings (the body stays as trained). For setfit the body has seen every row in
    contrastive training, so these probabilities are more confident than on new text and the
    tuned thresholds come out high (docs/benchmarks.md measures it). Returns (probabilities,
    truth)."""
    from sklearn.model_selection import KFold

    from ..models.heads import LogisticHead

    emb = model.encoder.embed(ex.texts, ex.text_pairs, progress=cfg.show_progress,
                              desc="encoding for thresholds")
    proba = np.zeros(y.shape, dtype=np.float64)
    for fit_rows, held in KFold(min(folds, len(ex)), shuffle=True,
                                random_state=cfg.seed).split(emb):
        head = LogisticHead(C=cfg.head_c, multi_label=True).fit(emb[fit_rows], y[fit_rows],
                                                                 seed=cfg.seed)
        proba[held] = head.predict_proba(emb[held])
    return proba, y
