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


def tune_thresholds(proba: np.ndarray, truth: np.ndarray) -> list[float]:
    """Per label, the threshold that maximises that label's F1 on held-out rows (`proba` and
    the 0/1 `truth`, both (rows, labels)). It lies midway between the probabilities of the
    last row predicted and the first row not, so it does not hug one example; a label with
    no positive (or no negative) held-out row keeps 0.5, as there is nothing to tune on."""
    proba, truth = np.asarray(proba, dtype=np.float64), np.asarray(truth) > 0
    out = []
    for p, t in zip(proba.T, truth.T):
        if t.all() or not t.any():
            out.append(DEFAULT_THRESHOLD)
            continue
        order = np.argsort(-p, kind="stable")
        p, t = p[order], t[order]
        tp = np.cumsum(t)
        k = np.arange(1, len(p) + 1)  # predict the top k rows
        f1 = 2 * tp / (k + t.sum())
        # only cut between distinct probabilities (equal ones are predicted together)
        cut = np.append(p[:-1] > p[1:], True)
        best = int(np.flatnonzero(cut)[np.argmax(f1[cut])])
        below = p[best + 1] if best + 1 < len(p) else 0.0
        out.append(float((p[best] + below) / 2))
    return out
