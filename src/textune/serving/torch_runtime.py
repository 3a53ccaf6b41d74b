"""A saved model folder served by torch: `TorchPredictor`, the `Predictor` over
`TextClassifier`'s public API, and `load_torch_predictor`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from .predictor import check_texts, model_card

log = logging.getLogger(__name__)


class TorchPredictor:
    """A loaded `TextClassifier` behind the `Predictor` protocol."""

    def __init__(self, clf, *, bf16: bool = False):
        self.clf = clf
        self.bf16 = bf16
        self.labels = clf.labels
        self.classes_ = clf.classes_
        self.is_pair_ = clf.is_pair_
        self.decision = clf.decision_

    @property
    def info(self) -> dict:
        cfg = self.clf.saved_config()
        return {"labels": self.labels, "method": cfg["method"], "backbone": cfg["backbone"],
                "text_pair": self.is_pair_, "multi_label": self.decision.multi_label,
                "backend": "torch", "versions": cfg["versions"],
                **model_card(self.clf.fit_stats_, getattr(self.clf, "created_", None))}

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray:
        check_texts(texts, pairs)
        kw = {"bf16": self.bf16} if self.clf.kind == "embedding" else {}
        return self.clf.model_.predict_proba(list(texts), None if pairs is None else list(pairs),
                                             batch_size=batch_size, max_tokens=max_tokens, **kw)


def load_torch_predictor(path: Path, *, bf16: bool = False,
                         threads: int | None = None) -> TorchPredictor:
    """Load a model folder (self-checked by `TextClassifier.load`) with torch's threads set."""
    from ..classifier import TextClassifier
    from ..engine.device import set_threads

    set_threads()
    if threads:
        import torch

        torch.set_num_threads(threads)
    clf = TextClassifier.load(path)
    _recommend_onnx(clf, path)
    return TorchPredictor(clf, bf16=bf16)


def _recommend_onnx(clf, path: Path) -> None:
    """Say so when a faster path is installed: on CPU the ONNX export of an embedding model
    predicts 1.3x (idle 2-core AVX2) to 2.9x (a busier machine) faster than torch with the
    same answers, and int8 faster still (docs/benchmarks.md, "Inference and serving")."""
    import importlib.util

    if (importlib.util.find_spec("onnxruntime") is not None
            and getattr(clf.model_, "kind", None) == "embedding"
            and not getattr(clf.model_.encoder, "static", False)  # no transformer to speed up
            and clf.model_.encoder.device.type == "cpu"):
        log.info("onnxruntime is installed: `textune export %s -o %s-onnx` then --backend onnx "
                 "predicts faster on CPU with the same answers (1.3-2.9x measured; "
                 "--quantize int8 faster still)", path, path)
