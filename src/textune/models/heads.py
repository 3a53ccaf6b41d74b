"""Classification heads stored as plain arrays (safetensors), never pickled, the pooling of
a long text's windows, and logits to probabilities (numpy only: the ONNX path uses them
too)."""

from __future__ import annotations

import numpy as np


class LogisticHead:
    """scikit-learn logistic regression for fitting; numpy for predicting.

    Only `coef` and `intercept` are kept, so a saved head is two arrays, loads without
    scikit-learn's pickles, and predicts identically to the fitted estimator. A multi-label
    head is one binary regression per label (one-vs-rest, sigmoid outputs), each weighted
    "balanced": few-shot labels are rare, and unweighted heads then predict almost no labels
    at 0.5 (the `setfit` library's one-vs-rest failure on GoEmotions).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, class_weight=None,
                 multi_label: bool = False):
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.multi_label = multi_label
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def fit(self, X: np.ndarray, y: np.ndarray, seed: int = 0) -> "LogisticHead":
        from sklearn.linear_model import LogisticRegression

        if self.multi_label:
            return self._fit_one_vs_rest(X, y, seed)

        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=seed,
                                class_weight=self.class_weight)
        lr.fit(X, y)
        if list(lr.classes_) != list(range(len(lr.classes_))):
            raise ValueError("LogisticHead expects labels encoded as 0..K-1")
        # C order: scikit-learn keeps a 3+-class coef_ Fortran-ordered (see artifact.save_arrays)
        self.coef = np.ascontiguousarray(lr.coef_, dtype=np.float32)
        self.intercept = np.ascontiguousarray(lr.intercept_, dtype=np.float32)
        return self

    def _fit_one_vs_rest(self, X: np.ndarray, Y: np.ndarray, seed: int) -> "LogisticHead":
        from sklearn.linear_model import LogisticRegression

        coef = np.zeros((Y.shape[1], X.shape[1]), np.float32)
        intercept = np.zeros(Y.shape[1], np.float32)
        for k in range(Y.shape[1]):
            y = Y[:, k].astype(int)
            if y.min() == y.max():  # every row has the label, or none: a constant answer
                intercept[k] = 4.6 if y[0] else -4.6  # sigmoid: 0.99 / 0.01
                continue
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=seed,
                                    class_weight=self.class_weight or "balanced")
            lr.fit(X, y)
            coef[k], intercept[k] = lr.coef_[0], lr.intercept_[0]
        self.coef, self.intercept = coef, intercept
        return self

    def fit_soft(self, X: np.ndarray, P: np.ndarray, seed: int = 0) -> "LogisticHead":
        """Fit to probabilities `P` (rows, classes) instead of labels: a teacher's, when a
        student learns from it (`textune.distill`). The objective is scikit-learn's with
        soft targets: C x cross-entropy against P (a softmax; a sigmoid per label for a
        multi-label head) + half the squared weights, minimised by L-BFGS. A binary
        single-label head is scikit-learn's too: one sigmoid, for class 1."""
        import torch
        import torch.nn.functional as F

        torch.manual_seed(seed)
        x = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        p = torch.as_tensor(np.asarray(P), dtype=torch.float64)
        sigmoid = self.multi_label or p.shape[1] == 2
        if p.shape[1] == 2 and not self.multi_label:  # binary: class 1's sigmoid, as sklearn
            p = p[:, 1:]
        w = torch.zeros(p.shape[1], x.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros(p.shape[1], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=self.max_iter, tolerance_grad=1e-6,
                                line_search_fn="strong_wolfe")

        def objective():
            opt.zero_grad()
            z = x @ w.T + b
            if sigmoid:
                loss = F.binary_cross_entropy_with_logits(z, p, reduction="sum")
            else:
                loss = -(p * F.log_softmax(z, dim=1)).sum()
            loss = self.C * loss + 0.5 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(objective)
        self.coef = np.ascontiguousarray(w.detach().numpy(), dtype=np.float32)
        self.intercept = np.ascontiguousarray(b.detach().numpy(), dtype=np.float32)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = X.astype(np.float32) @ self.coef.T + self.intercept
        if z.shape[1] == 1 and not self.multi_label:  # binary: one row of weights, class 1
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        return probabilities(z, self.multi_label)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], **kwargs) -> "LogisticHead":
        head = cls(**kwargs)
        head.coef = np.asarray(state["coef"], dtype=np.float32)
        head.intercept = np.asarray(state["intercept"], dtype=np.float32)
        return head


def mean_by_owner(rows: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Average the rows (window embeddings) of each of `n` texts; `owner[i]`: row i's text."""
    pooled = np.zeros((n, rows.shape[1]), dtype=np.float64)
    np.add.at(pooled, owner, rows)
    counts = np.bincount(owner, minlength=n)
    return (pooled / counts[:, None]).astype(np.float32)


def probabilities(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Logits as probabilities: a sigmoid per label (multi-label), else a softmax."""
    z = np.asarray(logits, dtype=np.float32)
    if multi_label:  # independent labels: one sigmoid each
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
