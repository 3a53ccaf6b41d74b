"""A sentence-embedding body and a logistic-regression head: what `setfit` and `probe` train.

Predicting is "embed, then a linear map", which is also what the ONNX export folds into one
graph.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..artifact import selfcheck
from ..artifact.files import load_arrays, save_arrays
from ..engine.device import default_device
from .encoder import Encoder
from .heads import LogisticHead
from .long_text import log_long_texts

HEAD_FILE = "head.safetensors"
BODY_DIR = "body"

log = logging.getLogger(__name__)


class EmbeddingModel:
    kind = "embedding"

    def __init__(self, encoder: Encoder, head: LogisticHead):
        self.encoder = encoder
        self.head = head

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      progress: bool = False, desc: str = "predicting", **kw) -> np.ndarray:
        emb = self.encoder.embed(texts, pairs, progress=progress, desc=desc, **kw)
        return self.head.predict_proba(emb)

    def save(self, folder: Path) -> dict:
        self.encoder.save(str(folder / BODY_DIR))
        save_arrays(self.head.state_dict(), folder / HEAD_FILE)
        return {"head": {"type": "logistic_regression", "file": HEAD_FILE, "body": BODY_DIR,
                         "multi_label": self.head.multi_label},
                "embedding_dim": self.encoder.dim, "max_length": self.encoder.max_length,
                "long_text": {"mode": self.encoder.long_text, "stride": self.encoder.stride}}

    @classmethod
    def load(cls, folder: Path, config: dict) -> "EmbeddingModel":
        long_text = config.get("long_text") or {"mode": "truncate", "stride": None}
        encoder = Encoder.load(str(folder / BODY_DIR), default_device(), config.get("max_length"),
                               long_text["mode"], long_text["stride"])
        encoder.model.eval()
        head = LogisticHead.from_state_dict(load_arrays(folder / HEAD_FILE),
                                            C=config["params"].get("head_c", 1.0),
                                            multi_label=config["head"].get("multi_label", False))
        if selfcheck.KEY not in config:  # saved before self-checks: the head may be permuted
            head.coef = selfcheck.repair_legacy_head(head.coef, str(folder))
        return cls(encoder, head)


def load_encoder(clf, ex) -> Encoder:
    """The backbone as a sentence encoder, with a warning when it cannot read the texts."""
    from ..engine.health import warn_unknown_tokens

    t0 = time.perf_counter()
    # a method whose config has no long-text knobs (e.g. one outside textune) truncates
    encoder = Encoder.load(clf.model, None, clf.max_length,
                           getattr(clf, "long_text", "truncate"), getattr(clf, "stride", None))
    encoder.load_seconds = time.perf_counter() - t0
    warn_unknown_tokens(encoder.tokenizer, ex.texts, clf.model, log)
    n_long = log_long_texts(log, encoder.tokenizer, ex, encoder.max_length, encoder.long_text,
                            encoder.stride)
    encoder.long_texts = n_long
    return encoder


def fit_head(encoder: Encoder, ex, y: np.ndarray, clf) -> tuple[EmbeddingModel, dict]:
    """Embed the training texts with the (trained or frozen) body and fit the head on them
    (`y`: class ids, or a 0/1 label matrix for a multi-label head)."""
    emb = encoder.embed(ex.texts, ex.text_pairs, progress=clf.show_progress,
                        desc="encoding train")
    head = LogisticHead(C=clf.head_c, multi_label=y.ndim == 2).fit(emb, y, seed=clf.seed)
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

    emb = model.encoder.embed(ex.texts, ex.text_pairs, progress=cfg.show_progress,
                              desc="encoding for thresholds")
    proba = np.zeros(y.shape, dtype=np.float64)
    for fit_rows, held in KFold(min(folds, len(ex)), shuffle=True,
                                random_state=cfg.seed).split(emb):
        head = LogisticHead(C=cfg.head_c, multi_label=True).fit(emb[fit_rows], y[fit_rows],
                                                                 seed=cfg.seed)
        proba[held] = head.predict_proba(emb[held])
    return proba, y
