"""Prove, every time a model is loaded, that it still answers as it did when it was saved.

At save, the model's probabilities for a few fixed inputs (canaries) go into `textune.json`;
every load (Python, CLI, ONNX export and its runtime, the HTTP service) recomputes them and
refuses the model if they differ. A serializer that writes an array permuted (safetensors
#825 did this to every 3+-class head), a dependency that loads weights differently, or a
damaged file then fails loudly at load instead of answering wrong for ever after.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)

KEY = "self_check"
# Probabilities agree to ~1e-6 across loads on one machine; CPU vs GPU kernels move them by
# ~1e-4. A damaged model moves them by tenths.
TOLERANCE = 5e-3
INT8_TOLERANCE = 0.1  # dynamic int8 quantization moves probabilities by ~1e-2
FIXED_IN = "0.2.0"  # first release whose saved heads are provably intact

CANARY_TEXTS = (
    "The match ended with a late winner after a tense second half.",
    "Shares fell sharply after the company cut its profit forecast.",
    "A wonderful, moving film with brilliant acting.",
    "The minister announced new rules for the election campaign.",
    "Terrible service; I will never order from them again.",
    "The new phone's battery easily lasts two days.",
    "Der Zug hatte heute zwanzig Minuten Verspätung.",
    "ok",
)

Predict = Callable[[Sequence[str], "Sequence[str] | None"], np.ndarray]


class ArtifactError(ValueError):
    """A saved model that cannot be trusted; the message says why and what to do. `diff` and
    `tolerance`: how far the check texts' probabilities moved, when that was the reason."""

    def __init__(self, message: str, *, diff: float | None = None,
                 tolerance: float | None = None):
        super().__init__(message)
        self.diff, self.tolerance = diff, tolerance


def record(predict_proba: Predict, is_pair: bool) -> dict:
    """The canary inputs and the probabilities the model gives them now (for `textune.json`)."""
    texts = list(CANARY_TEXTS)
    pairs = texts[1:] + texts[:1] if is_pair else None
    proba = np.asarray(predict_proba(texts, pairs), dtype=np.float64)
    return {"texts": texts, "text_pairs": pairs, "probabilities": np.round(proba, 6).tolist(),
            "tolerance": TOLERANCE}


def verify(predict_proba: Predict, check: dict, where: str, *, tolerance: float | None = None,
           versions: dict | None = None) -> float:
    """Recompute the canaries; raise `ArtifactError` if they moved; return the largest change."""
    want = np.asarray(check["probabilities"], dtype=np.float64)
    got = np.asarray(predict_proba(check["texts"], check.get("text_pairs")), dtype=np.float64)
    tol = tolerance if tolerance is not None else float(check.get("tolerance", TOLERANCE))
    diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    if diff > tol:
        saved = ""
        if versions:
            then, now = _short(versions), _short(current_versions())
            saved = (f" It was saved with {then}; now {now}." if then != now else
                     f" It was saved with the versions installed now ({now}).")
        raise ArtifactError(
            diff=diff, tolerance=tol, message=
            f"{where}: the model does not answer as it did when it was saved (its probabilities "
            f"for the built-in check texts differ by up to {diff:.3g}; tolerance {tol:g}). Its "
            f"files were damaged, or a dependency now loads them differently.{saved} Retrain "
            "it, or install the versions it was saved with. To open it anyway for inspection: "
            "TextClassifier.load(path, verify=False).")
    log.debug("%s: self-check passed (largest change %.2g)", where, diff)
    return diff


def repair_legacy_head(coef: np.ndarray, where: str) -> np.ndarray:
    """The head of a model saved before self-checks existed, provably intact or repaired.

    With 3+ classes scikit-learn's `coef_` is Fortran-ordered, and safetensors 0.8 wrote its
    raw buffer under the C-order shape, so textune < 0.2 saved it permuted. The right layout
    is provable: a multinomial logistic regression's weights sum to zero over the classes for
    every feature (the solver starts at zero and its gradients keep that sum at zero), which a
    permuted matrix does not. Intact: returned as is; permuted: un-permuted with a warning;
    neither: refused.
    """
    k, d = coef.shape
    if k < 3:  # one row (binary) or two: C and Fortran order are the same bytes
        return coef
    if _sums_to_zero(coef):
        return coef
    fixed = np.ascontiguousarray(coef.ravel().reshape(d, k).T)
    if _sums_to_zero(fixed):
        log.warning("%s: this model was saved by textune < %s, which stored its %d-class head "
                    "permuted (safetensors #825); it was repaired on load and predicts as it "
                    "did when trained. Save it again to store the fixed head.", where,
                    FIXED_IN, k)
        return fixed
    raise ArtifactError(f"{where}: this model was saved by textune < {FIXED_IN} and its "
                        f"{k}-class head cannot be proven intact. Retrain it with textune >= "
                        f"{FIXED_IN}.")


def _sums_to_zero(coef: np.ndarray) -> bool:
    scale = float(np.abs(coef).max()) or 1.0
    return float(np.abs(coef.astype(np.float64).sum(axis=0)).max()) <= 1e-4 * scale


def current_versions() -> dict:
    out = {}
    for mod in ("torch", "transformers", "safetensors", "peft", "sentence_transformers"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return out


def _short(versions: dict | None) -> str:
    keys = ("torch", "transformers", "safetensors", "peft")
    return ", ".join(f"{k} {versions[k]}" for k in keys if versions and k in versions) or "?"
