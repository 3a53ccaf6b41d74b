"""Evaluation metrics (scikit-learn; no hub-downloaded metric scripts)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any],
                           labels: Sequence[Any]) -> dict:
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support)

    labels = list(labels)
    index = {c: i for i, c in enumerate(labels)}  # sklearn rejects object arrays of mixed use
    y_true = np.array([index[v] for v in y_true])
    y_pred = np.array([index[v] for v in y_pred])
    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=ids, average="macro",
                                   zero_division=0)),
        "n": int(len(y_true)),
        "labels": labels,
        "per_class": {str(c): {"precision": float(p[i]), "recall": float(r[i]),
                               "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(labels)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def format_report(m: dict) -> str:
    """A per-class table for terminals and logs."""
    width = max([len(str(c)) for c in m["labels"]] + [9])
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for c, v in m["per_class"].items():
        lines.append(f"{c:<{width}}  {v['precision']:9.3f}  {v['recall']:6.3f}  {v['f1']:5.3f}"
                     f"  {v['support']:7d}")
    lines.append(f"accuracy {m['accuracy']:.3f}   macro-F1 {m['f1_macro']:.3f}   n {m['n']}")
    return "\n".join(lines)
