"""`TextClassifier`: the one estimator and the one artifact.

scikit-learn conventions (`get_params`/`set_params`, `classes_`, `score`) so it drops into
`cross_val_score` and `Pipeline`. Saved as a folder of safetensors + JSON + tokenizer + model
card, written atomically; no pickle anywhere.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from . import __version__
from .artifact import atomic_dir
from .data import DataError, Examples, from_lists
from .encoder import Encoder, bf16_supported, default_device, set_threads
from .heads import LogisticHead
from .methods import get_method
from .metrics import classification_metrics

log = logging.getLogger(__name__)

CONFIG_FILE = "textune.json"
HEAD_FILE = "head.safetensors"
BODY_DIR = "body"
FORMAT_VERSION = 1


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Train a text classifier with `method` on the `model` backbone.

    Parameters are the method's knobs; every default is tuned to work without tuning:

    - method: "setfit" (contrastive fine-tuning of the body, then a head) or "probe"
      (frozen body, head only).
    - model: backbone name ("minilm", offline), local folder, or hub name.
    - steps: contrastive optimizer steps; None: `epochs` passes, clipped to 20..2,000.
    - epochs: passes over the distinct training texts when `steps` is None.
    - batch_size: distinct texts per contrastive step, every pair inside is scored; None:
      half the distinct texts, between 4 and 16 (small stochastic batches generalise best).
    - learning_rate, warmup_ratio: AdamW with linear warmup and decay.
    - head_c: inverse regularisation of the logistic-regression head.
    - max_length: token limit per text (None: the backbone's own).
    - bf16: "auto" (use bf16 autocast for training where the hardware has it), True, False.
    - seed: makes sampling, batching and initialisation reproducible.
    """

    def __init__(self, method: str = "setfit", model: str = "minilm", *,
                 steps: int | None = None, epochs: float = 10.0, batch_size: int | None = None,
                 learning_rate: float = 5e-5, warmup_ratio: float = 0.1, loss: str = "cosine",
                 head_c: float = 1.0, max_length: int | None = None, bf16: Any = "auto",
                 seed: int = 0, show_progress: bool = False):
        self.method = method
        self.model = model
        self.steps = steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.loss = loss
        self.head_c = head_c
        self.max_length = max_length
        self.bf16 = bf16
        self.seed = seed
        self.show_progress = show_progress

    # ------------------------------------------------------------------ training

    def fit(self, X: Any, y: Sequence[Any] | None = None) -> "TextClassifier":
        """Train on `Examples`, or texts / (text, text_pair) tuples `X` with labels `y`."""
        ex = _as_examples(X, y, "training data")
        ex.require_labels()
        method = get_method(self.method)
        set_threads()
        device = default_device()
        self.encoder_ = Encoder.load(self.model, device, self.max_length)
        self.classes_ = np.array(ex.classes)
        self.is_pair_ = ex.is_pair
        index = {c: i for i, c in enumerate(ex.classes)}
        y_idx = np.array([index[v] for v in ex.labels])
        use_bf16 = bf16_supported(device) if self.bf16 == "auto" else bool(self.bf16)

        t0 = time.perf_counter()
        self.fit_stats_ = method.train(
            self.encoder_, ex, steps=self.steps, epochs=self.epochs,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            warmup_ratio=self.warmup_ratio, loss=self.loss, bf16=use_bf16, seed=self.seed,
            progress=self.show_progress)
        X_emb = self.encoder_.embed(ex.texts, ex.text_pairs, progress=self.show_progress,
                                    desc="encoding train")
        self.head_ = LogisticHead(C=self.head_c).fit(X_emb, y_idx, seed=self.seed)
        self.train_seconds_ = time.perf_counter() - t0
        self.n_train_ = len(ex)
        self.fit_stats_.update(train_seconds=self.train_seconds_, n_train=len(ex),
                               bf16=use_bf16, device=str(device))
        log.info("trained %s on %d examples, %d classes in %.1fs", self.method, len(ex),
                 len(self.classes_), self.train_seconds_)
        return self

    # ------------------------------------------------------------------ inference

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of `classes_`."""
        self._check_fitted()
        ex = _as_examples(X, None, "input")
        if ex.is_pair != self.is_pair_:
            want = "(text, text_pair) tuples" if self.is_pair_ else "single texts"
            raise DataError(f"{ex.source}: this model was trained on {want}; pass the same kind "
                            "of input.")
        emb = self.encoder_.embed(ex.texts, ex.text_pairs, progress=self.show_progress,
                                  desc="predicting")
        return self.head_.predict_proba(emb)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def evaluate(self, X: Any, y: Sequence[Any] | None = None) -> dict:
        """Accuracy, macro-F1, per-class precision/recall/F1 and confusion matrix."""
        ex = _as_examples(X, y, "evaluation data")
        if ex.labels is None:
            raise DataError(f"{ex.source}: evaluation needs labels; name the label column.")
        self._check_fitted()
        ex.check_known_labels(list(self.classes_))
        pred = self.predict(ex)
        return classification_metrics(ex.labels, pred.tolist(), list(self.classes_))

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write the model folder atomically: a crash mid-way keeps any previous model."""
        from safetensors.numpy import save_file

        self._check_fitted()
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.encoder_.save(str(tmp / BODY_DIR))
            save_file(self.head_.state_dict(), str(tmp / HEAD_FILE))
            config = self._config()
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str) + "\n")
            (tmp / "README.md").write_text(_model_card(config))
        log.info("saved model to %s", path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        from safetensors.numpy import load_file

        path = Path(path)
        cfg_path = path / CONFIG_FILE
        if not cfg_path.is_file():
            what = "does not exist" if not path.exists() else f"has no {CONFIG_FILE}"
            raise FileNotFoundError(f"{path} {what}: not a textune model folder. Pass the "
                                    "folder written by `textune train --output`.")
        config = json.loads(cfg_path.read_text())
        if config.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} was saved by a newer textune "
                             f"({config.get('textune_version')}); upgrade textune to load it.")
        clf = cls(**{k: v for k, v in config["params"].items()
                     if k in cls._get_param_names()})
        clf.encoder_ = Encoder.load(str(path / BODY_DIR), default_device(),
                                    config.get("max_length"))
        clf.encoder_.model.eval()
        clf.head_ = LogisticHead.from_state_dict(load_file(str(path / HEAD_FILE)),
                                                 C=config["params"].get("head_c", 1.0))
        clf.classes_ = np.array(config["labels"])
        clf.is_pair_ = bool(config["text_pair"])
        clf.fit_stats_ = config.get("train", {})
        clf.train_seconds_ = clf.fit_stats_.get("train_seconds")
        clf.n_train_ = clf.fit_stats_.get("n_train")
        return clf

    # ------------------------------------------------------------------ helpers

    @property
    def labels(self) -> list[Any]:
        """`classes_` as plain Python values (for JSON and display)."""
        self._check_fitted()
        return [c.item() if hasattr(c, "item") else c for c in self.classes_]

    def _check_fitted(self) -> None:
        if not hasattr(self, "head_"):
            raise RuntimeError("this TextClassifier is not trained yet; call fit() or load().")

    def _config(self) -> dict:
        import sentence_transformers
        import sklearn
        import torch
        import transformers

        return {
            "format_version": FORMAT_VERSION,
            "textune_version": __version__,
            "method": self.method,
            "backbone": self.model,
            "labels": self.labels,
            "text_pair": self.is_pair_,
            "head": {"type": "logistic_regression", "file": HEAD_FILE},
            "embedding_dim": self.encoder_.dim,
            "max_length": self.encoder_.max_length,
            "params": self.get_params(),
            "train": self.fit_stats_,
            "versions": {"textune": __version__, "torch": torch.__version__,
                         "transformers": transformers.__version__,
                         "sentence_transformers": sentence_transformers.__version__,
                         "scikit_learn": sklearn.__version__,
                         "python": platform.python_version()},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def _as_examples(X: Any, y: Any, what: str) -> Examples:
    if isinstance(X, Examples):
        return X
    if isinstance(X, (str, Path)):
        raise DataError(f"{what}: got a path-like {X!r}; load files with "
                        "textune.load_examples(path) first.")
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    if y is not None and hasattr(y, "tolist"):
        y = y.tolist()
    return from_lists(X, y, source=what)


def _model_card(cfg: dict) -> str:
    stats = cfg.get("train", {})
    labels = ", ".join(f"`{v}`" for v in cfg["labels"])
    return f"""# textune text classifier

- method: `{cfg['method']}`
- backbone: `{cfg['backbone']}`
- labels: {labels}
- input: {'text pairs' if cfg['text_pair'] else 'single texts'}
- trained on {stats.get('n_train', '?')} examples in {stats.get('train_seconds', 0):.1f}s
- textune {cfg['textune_version']}, saved {cfg['created']}

```python
from textune import TextClassifier
clf = TextClassifier.load("path/to/this/folder")
clf.predict(["some text"])
```

Files: `textune.json` (config, labels, versions), `head.safetensors` (classification head),
`body/` (the sentence-transformer encoder: safetensors weights and tokenizer). No pickle.
"""
