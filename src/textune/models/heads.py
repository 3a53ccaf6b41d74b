"""Classification heads stored as plain arrays (safetensors), never pickled."""

from __future__ import annotations

import numpy as np


class LogisticHead:
    """scikit-learn logistic regression for fitting; numpy for predicting.

    Only `coef` and `intercept` are kept, so a saved head is two arrays, loads without
    scikit-learn's pickles, and predicts identically to the fitted estimator.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, class_weight=None):
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def fit(self, X: np.ndarray, y: np.ndarray, seed: int = 0) -> "LogisticHead":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=seed,
                                class_weight=self.class_weight)
        lr.fit(X, y)
        if list(lr.classes_) != list(range(len(lr.classes_))):
            raise ValueError("LogisticHead expects labels encoded as 0..K-1")
        # C order: scikit-learn keeps a 3+-class coef_ Fortran-ordered (see artifact.save_arrays)
        self.coef = np.ascontiguousarray(lr.coef_, dtype=np.float32)
        self.intercept = np.ascontiguousarray(lr.intercept_, dtype=np.float32)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = X.astype(np.float32) @ self.coef.T + self.intercept
        if z.shape[1] == 1:  # binary: scikit-learn keeps one row of weights for class 1
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], **kwargs) -> "LogisticHead":
        head = cls(**kwargs)
        head.coef = np.asarray(state["coef"], dtype=np.float32)
        head.intercept = np.asarray(state["intercept"], dtype=np.float32)
        return head
