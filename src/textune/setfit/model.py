"""`SetFitModel`: the `setfit` model API over a textune `TextClassifier` (method "setfit").

Label ids follow setfit: with `labels=[...]`, id i is `labels[i]` and `predict` returns the
names; without, the ids are the training labels themselves in sorted order (scikit-learn's
`classes_`, what setfit's logistic-regression head uses). The classifier trains on the names,
so the saved folder is an ordinary textune model (`textune predict` / `serve` show the
names); `config_setfit.json` beside it keeps the id order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..artifact.files import atomic_dir
from ..classifier import CONFIG_FILE, TextClassifier

SETFIT_CONFIG = "config_setfit.json"
STRATEGIES = (None, "one-vs-rest", "multi-output")  # both: one logistic head per label


class SetFitModel:
    """A sentence-transformer body and a logistic-regression head, trained by textune."""

    def __init__(self, model_body: str = "minilm", labels: Sequence[Any] | None = None,
                 multi_target_strategy: str | None = None,
                 classifier: TextClassifier | None = None):
        if multi_target_strategy not in STRATEGIES:
            raise ValueError(f"multi_target_strategy={multi_target_strategy!r}: textune "
                             "trains one logistic-regression head per label ('one-vs-rest'; "
                             "'multi-output' is the same thing). A classifier chain is not "
                             "offered; use 'one-vs-rest'.")
        self.model_body = model_body
        self.labels = list(labels) if labels is not None else None
        self.multi_target_strategy = multi_target_strategy
        self.classifier = classifier

    # ---------------------------------------------------------------- loading and saving

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *,
                        labels: Sequence[Any] | None = None,
                        multi_target_strategy: str | None = None,
                        use_differentiable_head: bool = False, head_params: dict | None = None,
                        normalize_embeddings: bool = False, device: Any = None,
                        **hub_kwargs) -> "SetFitModel":
        """A textune model folder saved by `save_pretrained` (or `textune train`), or a
        backbone to train: an offline short name, a sentence-transformers folder, or a hub
        name (offline aliases such as sentence-transformers/all-MiniLM-L6-v2 need no
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
        if (path / CONFIG_FILE).is_file():
            clf = TextClassifier.load(path)
            saved = {}
            if (path / SETFIT_CONFIG).is_file():
                saved = json.loads((path / SETFIT_CONFIG).read_text())
            return cls(clf.model, labels if labels is not None else saved.get("labels"),
                       multi_target_strategy or saved.get("multi_target_strategy"), clf)
        return cls(str(pretrained_model_name_or_path), labels, multi_target_strategy)

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> Path:
        """Write a textune model folder (safetensors + JSON, atomically) with setfit's
        label order in config_setfit.json."""
        if kwargs.get("push_to_hub"):
            raise ValueError("save_pretrained(push_to_hub=True): textune saves locally only.")
        clf = self._fitted()
        with atomic_dir(save_directory) as tmp:
            clf.save(tmp)
            (tmp / SETFIT_CONFIG).write_text(json.dumps(
                {"labels": self.labels, "multi_target_strategy": self.multi_target_strategy,
                 "normalize_embeddings": False}, indent=2) + "\n")
        return Path(save_directory)

    # ---------------------------------------------------------------- prediction

    def predict(self, inputs: str | Sequence[str], batch_size: int = 32, as_numpy: bool = False,
                use_labels: bool = True, show_progress_bar: bool | None = None):
        """Label names when `labels` were given (single-label), else label ids; a single
        text gives a single answer. Multi-label: a (texts, labels) 0/1 matrix."""
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        clf = self._fitted()
        if clf.multi_label:
            out = _tensor(clf.predict(texts)[:, self._order()].astype(np.int64), as_numpy)
            return out[0] if single else out
        names = clf.predict_labels(texts)
        if self.labels is not None:
            if use_labels:
                out = list(names)
            else:
                position = {v: i for i, v in enumerate(self.labels)}
                out = _tensor(np.array([position[v] for v in names], dtype=np.int64), as_numpy)
        else:  # setfit's head predicts the training labels themselves
            values = np.asarray(names)
            out = values if values.dtype.kind in "US" else _tensor(values, as_numpy)
        return out[0] if single else out

    __call__ = predict

    def predict_proba(self, inputs: str | Sequence[str], batch_size: int = 32,
                      as_numpy: bool = False, show_progress_bar: bool | None = None):
        """Probabilities with columns in label-id order (per label for multi-label)."""
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        proba = self._fitted().predict_proba(texts)[:, self._order()]
        out = _tensor(proba, as_numpy)
        return out[0] if single else out

    def encode(self, inputs: Sequence[str], batch_size: int = 32,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """The body's sentence embeddings."""
        return self._fitted().encoder_.embed(list(inputs), batch_size=batch_size,
                                             progress=bool(show_progress_bar))

    # ---------------------------------------------------------------- label ids

    def id_values(self) -> list:
        """The classifier's labels in setfit's column order: `labels` order when given (those
        seen in training), else sorted, as setfit's scikit-learn head orders `classes_`."""
        clf = self._fitted()
        if self.labels is not None:
            return [v for v in self.labels if v in set(clf.labels)]
        return sorted(clf.labels, key=_sort_key)

    def _order(self) -> np.ndarray:
        """Classifier columns in label-id order."""
        index = {c: i for i, c in enumerate(self._fitted().labels)}
        return np.array([index[v] for v in self.id_values()], dtype=np.int64)

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
