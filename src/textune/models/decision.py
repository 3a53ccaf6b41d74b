"""From probabilities to labels: the top class for single-label models; for multi-label
models every label whose probability reaches its threshold, and, with `min_labels`, the most
probable ones when too few do. Saved in `textune.json` under "decision", so every path
(Python, CLI, batch, HTTP) decides the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5


@dataclass
class Decision:
    multi_label: bool = False
    thresholds: list[float] | None = None  # one per label (multi-label); None: 0.5 each
    min_labels: int = 0  # multi-label: add the most probable labels until this many

    def indicator(self, proba: np.ndarray) -> np.ndarray:
        """(n, K) 0/1 matrix of the labels chosen per row (multi-label models)."""
        proba = np.asarray(proba)
        k = proba.shape[1]
        t = np.full(k, DEFAULT_THRESHOLD) if self.thresholds is None else np.asarray(
            self.thresholds, dtype=np.float64)
        chosen = proba >= t[None, :]
        want = min(self.min_labels, k)
        if want:
            short = np.flatnonzero(chosen.sum(axis=1) < want)
            if len(short):
                top = np.argsort(-proba[short], axis=1, kind="stable")[:, :want]
                chosen[short[:, None], top] = True
        return chosen.astype(np.int64)

    def labels(self, proba: np.ndarray, labels: Sequence[Any]) -> list:
        """Per row: the top label (single-label) or the list of chosen labels, in label order."""
        proba = np.asarray(proba)
        if not self.multi_label:
            return [labels[i] for i in proba.argmax(axis=1)]
        return [[labels[j] for j in np.flatnonzero(row)] for row in self.indicator(proba)]

    def to_json(self) -> dict:
        return {"multi_label": self.multi_label, "thresholds": self.thresholds,
                "min_labels": self.min_labels}

    @classmethod
    def from_json(cls, d: dict | None) -> "Decision":
        d = d or {}
        return cls(multi_label=bool(d.get("multi_label", False)),
                   thresholds=d.get("thresholds"), min_labels=int(d.get("min_labels", 0)))
