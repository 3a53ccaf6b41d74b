"""A sentence-embedding body and a logistic-regression head: the model `setfit` and `probe`
train (`methods/encoder_head.py`).

Predicting is "embed, then a linear map", which is also what the ONNX export folds into one
graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..artifact import selfcheck
from ..artifact.files import load_arrays, save_arrays
from ..engine.device import default_device
from .encoder import Encoder
from .heads import LogisticHead

HEAD_FILE = "head.safetensors"
BODY_DIR = "body"


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
        static = getattr(self.encoder, "static", False)
        return {"head": {"type": "logistic_regression", "file": HEAD_FILE, "body": BODY_DIR,
                         "multi_label": self.head.multi_label},
                "body_format": "static" if static else "sentence-transformers",
                "embedding_dim": self.encoder.dim, "max_length": self.encoder.max_length,
                "long_text": {"mode": self.encoder.long_text, "stride": self.encoder.stride}}

    @staticmethod
    def card_files(config: dict) -> str:
        """What `save` wrote, for the folder's README.md."""
        if config.get("body_format") == "static":
            return (", `head.safetensors` (classification head), `body/` (static token "
                    "embeddings in model2vec's layout: safetensors vectors and tokenizer)")
        return (", `head.safetensors` (classification head), `body/` (the sentence-transformer "
                "encoder: safetensors weights and tokenizer)")

    @classmethod
    def load(cls, folder: Path, config: dict) -> "EmbeddingModel":
        long_text = config.get("long_text") or {"mode": "truncate", "stride": None}
        encoder = Encoder.load(str(folder / BODY_DIR), default_device(), config.get("max_length"),
                               long_text["mode"], long_text["stride"])
        if not getattr(encoder, "static", False):
            encoder.model.eval()
        head = LogisticHead.from_state_dict(load_arrays(folder / HEAD_FILE),
                                            C=config["params"].get("head_c", 1.0),
                                            multi_label=config["head"].get("multi_label", False))
        if selfcheck.KEY not in config:  # saved before self-checks: the head may be permuted
            head.coef = selfcheck.repair_legacy_head(head.coef, str(folder))
        return cls(encoder, head)
