"""`SetFitModel`: the `setfit` model API over a textune `TextClassifier` (method "setfit").

Label ids follow setfit. With `labels=[...]` and integer labels in the data, id i is
`labels[i]`: the classifier trains on the names (so the saved folder is an ordinary textune
model whose CLI, batch and HTTP answers show them), `predict` returns names and
`predict_proba` columns come in id order. Without `labels`, or with string labels in the
data, setfit's head predicts the training labels themselves, columns in sorted order
(scikit-learn's `classes_`). A model trained on ids can be given names afterwards
(`from_pretrained(path, labels=[...])`), as in setfit. `config_setfit.json` beside the
textune files keeps the names and how the data labelled its rows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..artifact.files import atomic_dir
from ..classifier import CONFIG_FILE, TextClassifier
from ..models.embedding import BODY_DIR

SETFIT_CONFIG = "config_setfit.json"
STRATEGIES = (None, "one-vs-rest", "multi-output")  # both: one logistic head per label

log = logging.getLogger(__name__)


class SetFitModel:
    """A sentence-transformer body and a logistic-regression head, trained by textune."""

    def __init__(self, model_body: str = "minilm", labels: Sequence[Any] | None = None,
                 multi_target_strategy: str | None = None,
                 classifier: TextClassifier | None = None, string_labels: bool = False):
        if multi_target_strategy not in STRATEGIES:
            raise ValueError(f"multi_target_strategy={multi_target_strategy!r}: textune "
                             "trains one logistic-regression head per label ('one-vs-rest'; "
                             "'multi-output' is the same thing). A classifier chain is not "
                             "offered; use 'one-vs-rest'.")
        self.model_body = model_body
        self.labels = list(labels) if labels is not None else None
        self.multi_target_strategy = multi_target_strategy
        self.classifier = classifier
        self.string_labels = string_labels  # the data labelled rows with strings, not ids

    # ---------------------------------------------------------------- loading and saving

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *,
                        labels: Sequence[Any] | None = None,
                        multi_target_strategy: str | None = None,
                        use_differentiable_head: bool = False, head_params: dict | None = None,
                        normalize_embeddings: bool = False, device: Any = None,
                        **hub_kwargs) -> "SetFitModel":
        """A textune model folder saved by `save_pretrained` (or `textune train`), or a
        backbone to train: an offline short name, a sentence-transformers folder (a folder
        the setfit library saved counts: its body is used, its pickled head is not read), or
        a hub name (offline aliases such as sentence-transformers/all-MiniLM-L6-v2 need no
        network)."""
        refused = {"use_differentiable_head": (use_differentiable_head, False),
                   "head_params": (head_params, None),
                   "normalize_embeddings": (normalize_embeddings, False),
                   "device": (device, None)}
        refused.update({k: (v, None) for k, v in hub_kwargs.items()
                        if k != "local_files_only" or v is False})
        bad = [k for k, (value, default) in refused.items() if value != default]
        if bad:
            raise ValueError(f"SetFitModel.from_pretrained: textune does not honour {bad}: "
                             "it trains a logistic-regression head on un-normalised "
                             "embeddings, picks the device itself and resolves backbones "
                             "offline. Remove these arguments.")
        path = Path(pretrained_model_name_or_path)
        saved = {}
        if (path / SETFIT_CONFIG).is_file():
            saved = json.loads((path / SETFIT_CONFIG).read_text())
        labels = labels if labels is not None else saved.get("labels")
        strategy = multi_target_strategy or saved.get("multi_target_strategy")
        if (path / CONFIG_FILE).is_file():
            clf = TextClassifier.load(path)
            body = path / BODY_DIR  # training again continues from the trained body
            return cls(str(body) if body.is_dir() else clf.model, labels, strategy, clf,
                       bool(saved.get("string_labels", False)))
        if (path / "model_head.pkl").is_file():
            log.warning("%s was saved by the setfit library: its head (model_head.pkl) is a "
                        "pickle, which textune does not load. The body is used as the "
                        "backbone; train before predicting.", path)
        return cls(str(pretrained_model_name_or_path), labels, strategy)

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> Path:
        """Write a textune model folder (safetensors + JSON, atomically: a previous model
        there is replaced only once the new one is complete) with config_setfit.json."""
        if kwargs.get("push_to_hub"):
            raise ValueError("save_pretrained(push_to_hub=True): textune saves locally only.")
        clf = self._fitted()
        target = Path(save_directory)
        if target.is_dir() and any(target.iterdir()) and not (target / CONFIG_FILE).is_file():
            raise FileExistsError(f"{target} holds other files and is not a model folder; "
                                  "save into a new or empty folder (a model folder there "
                                  "would be replaced whole).")
        with atomic_dir(target) as tmp:
            clf.save(tmp)
            (tmp / SETFIT_CONFIG).write_text(json.dumps(
                {"labels": self.labels, "multi_target_strategy": self.multi_target_strategy,
                 "string_labels": self.string_labels, "normalize_embeddings": False},
                indent=2) + "\n")
        return target

    # ---------------------------------------------------------------- prediction

    def predict(self, inputs: str | Sequence[str], batch_size: int = 32, as_numpy: bool = False,
                use_labels: bool = True, show_progress_bar: bool | None = None):
        """Label names when `labels` name the ids, else the training labels; a single text
        gives a single answer. Multi-label: a (texts, labels) 0/1 matrix in id order."""
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        clf = self._fitted()
        if clf.multi_label:
            out = _tensor(clf.predict(texts)[:, self._order()].astype(np.int64), as_numpy)
            return out[0] if single else out
        values, names = self._columns()
        index = {v: i for i, v in enumerate(values)}
        ids = np.array([index[v] for v in clf.predict_labels(texts)], dtype=np.int64)
        if names is not None and use_labels:
            out = [names[i] for i in ids]
        elif names is not None:
            out = _tensor(ids, as_numpy)
        else:  # setfit's head predicts the training labels themselves
            raw = np.asarray(values)[ids] if len(ids) else np.asarray(values)[:0]
            out = raw if raw.dtype.kind in "US" else _tensor(raw, as_numpy)
        return out[0] if single else out

    __call__ = predict

    def predict_proba(self, inputs: str | Sequence[str], batch_size: int = 32,
                      as_numpy: bool = False, show_progress_bar: bool | None = None):
        """Probabilities (float64, as setfit's scikit-learn head gives them), columns in
        label-id order (per label for multi-label)."""
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        proba = self._fitted().predict_proba(texts)[:, self._order()].astype(np.float64)
        out = _tensor(proba, as_numpy)
        return out[0] if single else out

    def encode(self, inputs: str | Sequence[str], batch_size: int = 32,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """The trained body's sentence embeddings (one vector for one text)."""
        single = isinstance(inputs, str)
        emb = self._fitted().encoder_.embed([inputs] if single else list(inputs),
                                            batch_size=batch_size,
                                            progress=bool(show_progress_bar))
        return emb[0] if single else emb

    # ---------------------------------------------------------------- label ids

    def _columns(self) -> tuple[list, list | None]:
        """The classifier's labels in label-id order, and the id names (None: the labels
        are their own names, setfit's head without `labels`)."""
        known = self._fitted().labels
        if self.labels is None or self.string_labels:
            return sorted(known, key=_sort_key), None
        if set(known) <= set(self.labels):  # trained on the names
            return [v for v in self.labels if v in set(known)], self.labels
        if all(isinstance(v, int) and 0 <= v < len(self.labels) for v in known):
            return sorted(known), self.labels  # trained on ids, named afterwards
        raise ValueError(f"labels={self.labels} do not name this model's labels {known}: "
                         f"pass names for ids 0..{max(len(known) - 1, 0)}, or the names "
                         "the model was trained on.")

    def _order(self) -> np.ndarray:
        """Classifier columns in label-id order."""
        index = {c: i for i, c in enumerate(self._fitted().labels)}
        return np.array([index[v] for v in self._columns()[0]], dtype=np.int64)

    def _fitted(self) -> TextClassifier:
        if self.classifier is None:
            raise RuntimeError("This SetFitModel is not trained yet: train it with "
                               "Trainer(model=..., train_dataset=...).train() first.")
        return self.classifier

    def __repr__(self) -> str:
        state = "trained" if self.classifier is not None else "untrained"
        return f"SetFitModel({self.model_body!r}, labels={self.labels!r}, {state}, textune)"


def _tensor(values: np.ndarray, as_numpy: bool):
    if as_numpy:
        return values
    import torch

    return torch.from_numpy(np.ascontiguousarray(values))


def _sort_key(v: Any):
    return (str(type(v)), v)
