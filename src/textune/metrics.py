"""Evaluation metrics (scikit-learn; no hub-downloaded metric scripts)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def class_scores(y_true: Sequence[int], y_pred: Sequence[int],
                 ids: Sequence[int] | None = None) -> dict:
    """Accuracy and macro-F1 of class ids, macro over `ids` (None: the ids that occur in
    either): the head of `classification_metrics`, and what a training run evaluates every
    epoch to pick its best weights."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, labels=ids, average="macro",
                                       zero_division=0))}


def label_set_scores(Y_true: np.ndarray, Y_pred: np.ndarray) -> dict:
    """Micro-F1, macro-F1 and subset accuracy of two (n, K) 0/1 matrices: the head of
    `multilabel_metrics`, and a training run's evaluation on label sets."""
    from sklearn.metrics import accuracy_score, f1_score

    def f1(avg: str) -> float:
        return float(f1_score(Y_true, Y_pred, average=avg, zero_division=0))

    return {"f1_micro": f1("micro"), "f1_macro": f1("macro"),
            "subset_accuracy": float(accuracy_score(Y_true, Y_pred))}


def classification_metrics(y_true: Sequence[Any], y_pred: Sequence[Any],
                           labels: Sequence[Any]) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = list(labels)
    index = {c: i for i, c in enumerate(labels)}  # sklearn rejects object arrays of mixed use
    y_true = np.array([index[v] for v in y_true])
    y_pred = np.array([index[v] for v in y_pred])
    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    return {
        **class_scores(y_true, y_pred, ids),
        "n": int(len(y_true)),
        "labels": labels,
        "per_class": {str(c): {"precision": float(p[i]), "recall": float(r[i]),
                               "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(labels)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def multilabel_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, labels: Sequence[Any]) -> dict:
    """Multi-label scores from two (n, K) 0/1 matrices: micro-F1 (the headline: every
    label decision counts once), macro-F1 (every label counts the same), samples-F1 (every
    row counts the same), subset accuracy (whole set right), Hamming loss (share of wrong
    label decisions) and a per-label table."""
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

    labels = list(labels)
    Y_true, Y_pred = np.asarray(Y_true, dtype=int), np.asarray(Y_pred, dtype=int)
    p, r, f, s = precision_recall_fscore_support(Y_true, Y_pred, zero_division=0)
    scores = label_set_scores(Y_true, Y_pred)
    return {
        "multi_label": True,
        "f1_micro": scores["f1_micro"], "f1_macro": scores["f1_macro"],
        "f1_samples": float(f1_score(Y_true, Y_pred, average="samples", zero_division=0)),
        "subset_accuracy": scores["subset_accuracy"],
        "hamming_loss": float(hamming_loss(Y_true, Y_pred)),
        "n": int(len(Y_true)),
        "labels": labels,
        "labels_per_row": {"true": float(Y_true.sum(axis=1).mean()) if len(Y_true) else 0.0,
                           "predicted": float(Y_pred.sum(axis=1).mean()) if len(Y_pred) else 0.0},
        "per_class": {str(c): {"precision": float(p[i]), "recall": float(r[i]),
                               "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(labels)},
    }


def format_report(m: dict) -> str:
    """A per-class (per-label) table for terminals and logs."""
    width = max([len(str(c)) for c in m["labels"]] + [9])
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for c, v in m["per_class"].items():
        lines.append(f"{c:<{width}}  {v['precision']:9.3f}  {v['recall']:6.3f}  {v['f1']:5.3f}"
                     f"  {v['support']:7d}")
    if m.get("multi_label"):
        lines.append(f"micro-F1 {m['f1_micro']:.3f}   macro-F1 {m['f1_macro']:.3f}   "
                     f"samples-F1 {m['f1_samples']:.3f}   subset accuracy "
                     f"{m['subset_accuracy']:.3f}   Hamming loss {m['hamming_loss']:.3f}   "
                     f"n {m['n']}")
    else:
        lines.append(f"accuracy {m['accuracy']:.3f}   macro-F1 {m['f1_macro']:.3f}   n {m['n']}")
    return "\n".join(lines)
