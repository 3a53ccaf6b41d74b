"""What serving asks of a loaded model, whichever runtime runs it.

`Predictor` is the protocol that `torch_runtime.TorchPredictor` and
`onnx_runtime.OnnxClassifier` implement, and the only thing `batch`, `ray_predict` and `http`
use; `check_input_kind` is the one place that refuses pairs for a single-text model and the
other way round; `check_texts` refuses empty texts in runtimes called directly; `model_card`
is the part of `info` both runtimes share. Nothing here loads a model, so the runtimes
depend on this module and never on each other.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..data import DataError, is_empty_text

BACKENDS = ("torch", "onnx")


@runtime_checkable
class Predictor(Protocol):
    """A loaded model as serving sees it.

    `labels` (and `classes_`, the same as an array) order the probability columns;
    `is_pair_` says whether it reads (text, text_pair) rows; `decision` (a
    `models.decision.Decision`) turns probabilities into labels; `info` is the JSON card
    (`GET /v1/model`)."""

    labels: list
    classes_: np.ndarray
    is_pair_: bool
    decision: object

    @property
    def info(self) -> dict: ...

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray: ...


def check_input_kind(predictor: Predictor, has_pairs: bool, fix: str,
                     error: Callable[[str], Exception] = DataError) -> None:
    """Refuse text pairs for a single-text model and single texts for a pair model, before any
    model work: "this model was trained on <kind>; <fix>", raised as `error(message)`."""
    if bool(has_pairs) != bool(predictor.is_pair_):
        kind = "text pairs" if predictor.is_pair_ else "single texts"
        raise error(f"this model was trained on {kind}; {fix}")


def check_texts(texts: Sequence[str], pairs: Sequence[str] | None = None) -> None:
    """Refuse empty texts (`data.is_empty_text`: whitespace and invisible characters only)
    by index, as every reader and the HTTP service do, so a runtime called directly never
    gives them a confident label."""
    for field, values in (("texts", texts), ("text_pairs", pairs or ())):
        empty = [i for i, t in enumerate(values) if is_empty_text(t)]
        if empty:
            raise DataError(f"{field}[{empty[0]}] is empty (nothing but whitespace or invisible "
                            f"characters such as U+200B; {len(empty)} such text(s) in all); "
                            "textune never classifies empty text. Fill in or drop them.")


def model_card(train: dict, created: str | None) -> dict:
    """What a person trying the model wants to know: training size, the best epoch's
    validation metrics (finetune/peft with a validation split) and when it was saved."""
    best = train.get("best") or {}
    scores = {k: v for k, v in best.items() if k not in ("step", "epoch", "train_loss")
              and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"n_train": train.get("n_train"), "scores": scores or None, "created": created}
