"""`TextClassifier`: the one estimator and the one artifact.

scikit-learn conventions (`get_params`/`set_params`, `classes_`, `score`) so it drops into
`cross_val_score` and `Pipeline`. Saved as a folder of safetensors + JSON + tokenizer + model
card, written atomically; no pickle anywhere.
"""

from __future__ import annotations

import dataclasses
import inspect
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
from .artifact.files import atomic_dir
from .data import DataError, align_labels, coerce_inputs
from .engine.checkpoint import Checkpointing
from .engine.device import default_device, set_threads
from .engine.together import together
from .methods import (METHODS, CheckpointConfig, DecisionConfig, MethodParamError, all_knobs,
                      method_config, readers)
from .metrics import classification_metrics, multilabel_metrics
from .models import model_kind
from .models.decision import DEFAULT_THRESHOLD, Decision, tune_thresholds
from .artifact.selfcheck import KEY as SELF_CHECK
from .artifact.selfcheck import record
from .artifact.selfcheck import verify as verify_canaries

log = logging.getLogger(__name__)

CONFIG_FILE = "textune.json"
# read by the classifier, not by a method
DECISION_PARAMS = tuple(f.name for f in dataclasses.fields(DecisionConfig))
# where and how often to checkpoint: read by the engine, not by a method, and not part of
# the model (a saved model does not remember them)
CHECKPOINT_PARAMS = tuple(f.name for f in dataclasses.fields(CheckpointConfig))
FORMAT_VERSION = 1
# every parameter, each declared once as a config field (`methods/config.py`)
_KNOBS = all_knobs()

_INTRO = """Train a text classifier with `method` on the `model` backbone.

    Parameters are the methods' knobs; None means "the method's tuned default". Each method
    reads only its own (its config dataclass in `methods/`, listed by `textune methods`);
    setting one the chosen method does not read makes `fit` raise `MethodParamError`. The
    list below is generated from those declarations (`methods.all_knobs()`); in parentheses,
    the methods that read a parameter, where not all of them do:

"""


def _parameter_docs(knobs: dict) -> str:
    """The docstring's parameter list: each knob's long help, flags named as parameters."""
    import re
    import textwrap

    flags = {k.flag: k.name for k in knobs.values() if k.flag}
    who = readers()
    every = set(METHODS)
    lines = []
    for k in knobs.values():
        methods = who.get(k.name, [])
        where = f" ({', '.join(methods)})" if methods and not every <= set(methods) else ""
        text = re.sub(r"--[a-z][a-z0-9-]*", lambda m: f"`{flags[m.group()]}`"
                      if m.group() in flags else m.group(), k.doc)
        lines.append(textwrap.fill(f"- {k.name}{where}: {text}", width=92,
                                   initial_indent="    ", subsequent_indent="      ",
                                   break_on_hyphens=False, break_long_words=False))
    return "\n".join(lines) + "\n    "


def _signature(knobs: dict) -> inspect.Signature:
    """`__init__`'s signature: `method` and `model`, then every other knob keyword-only,
    with its declared default and type."""
    P = inspect.Parameter
    return inspect.Signature([P("self", P.POSITIONAL_OR_KEYWORD)] + [
        P(k.name, P.POSITIONAL_OR_KEYWORD if k.name in ("method", "model") else P.KEYWORD_ONLY,
          default=k.default, annotation=k.type) for k in knobs.values()])


class TextClassifier(ClassifierMixin, BaseEstimator):
    __doc__ = _INTRO + _parameter_docs(_KNOBS)

    # `fit` removes its run's checkpoints when it completes; `textune train` turns this off
    # and removes them only once the model folder is saved (a failed save keeps them)
    clear_checkpoints_after_fit = True

    def __init__(self, method: str = _KNOBS["method"].default,
                 model: str = _KNOBS["model"].default, **params: Any):
        # every parameter is a declared knob (`methods.all_knobs()`); `__signature__` below
        # lists them, keyword-only, so scikit-learn's get_params/set_params/clone see them
        unknown = [k for k in params if k not in _KNOBS or k in ("method", "model")]
        if unknown:
            raise TypeError(f"TextClassifier.__init__() got an unexpected keyword argument "
                            f"'{unknown[0]}'")
        self.method = method
        self.model = model
        for name, k in _KNOBS.items():
            if name not in ("method", "model"):
                setattr(self, name, params.get(name, k.default))

    __init__.__signature__ = _signature(_KNOBS)

    # ------------------------------------------------------------------ training

    def fit(self, X: Any, y: Sequence[Any] | None = None, *,
            monitor: Any = None, resume: bool = False) -> "TextClassifier":
        """Train on `Examples`, or texts / (text, text_pair) tuples `X` with labels `y`.

        `monitor` (setfit only, a `methods.setfit.Monitor`): evaluations, best-weight
        selection and checkpoints during contrastive training, as `textune.setfit` asks.
        `resume`: continue from the newest checkpoint in `checkpoint_dir` (the same settings
        and data, else a ValueError names what differs; `threshold` and `min_labels` may
        change, as they only decide labels); without one, train from the start.
        """
        if monitor is not None and self.method != "setfit":
            raise ValueError(f"monitor applies to method='setfit', not {self.method!r}; "
                             "finetune and peft evaluate on their own validation split.")
        ex = coerce_inputs(X, y, "training data")
        ex.require_labels()
        params = self.get_params()
        _, method_cls, self.method_config_ = method_config(
            self.method, {k: v for k, v in params.items()
                          if k not in DECISION_PARAMS + CHECKPOINT_PARAMS}, _defaults())
        for config in (DecisionConfig, CheckpointConfig):  # their knobs' checks
            config(**{f.name: params[f.name] for f in dataclasses.fields(config)})
        method = method_cls()
        ck = self._checkpointing(ex, resume)
        self.decision_ = self._decision(ex, method)
        set_threads()
        self.classes_ = np.array(ex.classes)
        self.is_pair_ = ex.is_pair
        self.reading_ = None  # `textune train` sets it after fit: how it read the data
        y = ex.label_ids()  # ids in `classes_` order; label sets: a (rows, labels) 0/1 matrix

        t0 = time.perf_counter()
        extra = {} if monitor is None else {"monitor": monitor}
        if method.checkpoints:  # it trains on the engine
            extra["checkpoint"] = ck
        self.model_, stats = method.fit(self.method_config_, ex, y, **extra)
        if self.threshold == "tune":
            t_tune = time.perf_counter()
            stats["tuned_on_rows"] = self._tune_thresholds(method, ex, y)
            stats["tuning_seconds"] = time.perf_counter() - t_tune
        # training time excludes loading the backbone (as the benchmarks measure peers)
        self.train_seconds_ = time.perf_counter() - t0 - stats.get("load_seconds", 0.0)
        self.n_train_ = len(ex)
        self.fit_stats_ = {**stats, "train_seconds": self.train_seconds_, "n_train": len(ex),
                           "device": str(default_device())}
        self.fit_stats_.setdefault("trainable_parameters", _trainable(stats))
        log.info("trained %s on %d examples, %d classes in %.1fs", self.method, len(ex),
                 len(self.classes_), self.train_seconds_)
        self.checkpointing_ = ck
        if ck is not None and self.clear_checkpoints_after_fit:
            ck.clear()  # the run is complete: its result is this model, not the checkpoints
        return self

    def _checkpointing(self, ex, resume: bool) -> Checkpointing | None:
        """The run's checkpoint settings; refuses up front (before loading a model) a folder
        that holds another run's checkpoints."""
        if self.checkpoint_dir is None:
            if resume:
                raise ValueError("resume=True needs checkpoint_dir: the folder the interrupted "
                                 "run wrote its checkpoints to.")
            return None
        run = {k: v for k, v in self.get_params().items()
               if k not in CHECKPOINT_PARAMS + ("show_progress",)}
        ck = Checkpointing(self.checkpoint_dir, every=self.checkpoint_every,
                           minutes=self.checkpoint_minutes, keep=self.keep_checkpoints,
                           resume=resume,
                           settings={**json.loads(json.dumps(run, default=str)),
                                     "data": ex.fingerprint()},
                           # the decision is built from this run's values (`_decision`)
                           free=frozenset(k for k in run if _KNOBS[k].decision_only))
        ck.start()
        return ck

    def _decision(self, ex, method) -> Decision:
        """How probabilities become labels; refuses settings that would be ignored."""
        if not ex.multi_label:
            if self.threshold != DEFAULT_THRESHOLD or self.min_labels:
                raise MethodParamError(
                    f"{ex.source}: threshold and min_labels apply to multi-label data (label "
                    "sets); this data has one label per row, and the top class is predicted. "
                    "Leave them unset, or read the data as multi-label (--multi-label).")
            return Decision()
        if not method.multi_label:
            raise ValueError(method.no_label_sets.format(method=self.method))
        if not 0 <= int(self.min_labels) <= len(ex.classes):
            raise ValueError(f"min_labels must be between 0 and the {len(ex.classes)} labels, "
                             f"not {self.min_labels!r}.")
        if self.threshold == "tune":
            if not method.tunes_thresholds:
                raise ValueError(f"--method {self.method} cannot tune thresholds; pass a "
                                 "number (--threshold 0.4).")
            problem = method.tuning_problem(self.method_config_, ex)
            if problem:
                raise DataError(f"{ex.source}: --threshold tune picks thresholds on the "
                                f"validation split, and this run has none: {problem}. Pass "
                                "--validation 0.2, or a fixed --threshold.")
            threshold = DEFAULT_THRESHOLD  # until tuned after training
        else:
            threshold = float(self.threshold)  # checked by DecisionConfig
        return Decision(multi_label=True, thresholds=[threshold] * len(ex.classes),
                        min_labels=int(self.min_labels))

    def _tune_thresholds(self, method, ex, y: np.ndarray) -> int:
        """Set each label's threshold from held-out probabilities; returns the rows used."""
        proba, truth = method.held_out(self.method_config_, ex, y, self.model_)
        self.decision_.thresholds = tune_thresholds(proba, truth)
        log.info("tuned thresholds on %d held-out rows: %s", len(truth), ", ".join(
            f"{c}={t:.2f}" for c, t in zip(ex.classes, self.decision_.thresholds)))
        return len(truth)

    @property
    def multi_label(self) -> bool:
        """Trained on label sets: `predict` returns a (rows, labels) 0/1 matrix."""
        self._check_fitted()
        return self.decision_.multi_label

    # ------------------------------------------------------------------ inference

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of `classes_`."""
        self._check_fitted()
        ex = coerce_inputs(X, None, "input", with_labels=False)
        if ex.is_pair != self.is_pair_:
            want = "(text, text_pair) tuples" if self.is_pair_ else "single texts"
            raise DataError(f"{ex.source}: this model was trained on {want}; pass the same kind "
                            "of input.")
        return self.model_.predict_proba(ex.texts, ex.text_pairs, progress=self.show_progress,
                                         desc="predicting")

    def predict(self, X: Any) -> np.ndarray:
        """The top class per input; for a multi-label model, a (rows, labels) 0/1 matrix with
        columns in `classes_` order (scikit-learn's MultiLabelBinarizer convention)."""
        proba = self.predict_proba(X)
        if self.decision_.multi_label:
            return self.decision_.indicator(proba)
        return self.classes_[proba.argmax(axis=1)]

    def predict_labels(self, X: Any) -> list:
        """The predicted label per input, or for a multi-label model the list of its labels."""
        return self.decision_.labels(self.predict_proba(X), self.labels)

    def evaluate(self, X: Any, y: Sequence[Any] | None = None) -> dict:
        """Accuracy, macro-F1, per-class precision/recall/F1 and confusion matrix; for a
        multi-label model micro/macro/samples-F1, subset accuracy, Hamming loss and a
        per-label table."""
        truth, pred = self._truth_and_predictions(X, y, "evaluation data")
        if self.decision_.multi_label:
            return multilabel_metrics(truth, pred, self.labels)
        return classification_metrics(truth, pred, self.labels)

    def score(self, X: Any, y: Sequence[Any] | None = None, sample_weight=None) -> float:
        """Accuracy, as scikit-learn's `score` (so `cross_val_score` works); for multi-label
        models subset accuracy (every label of a row right), as scikit-learn scores them."""
        from sklearn.metrics import accuracy_score

        truth, pred = self._truth_and_predictions(X, y, "scoring data")
        return float(accuracy_score(truth, pred, sample_weight=sample_weight))

    def _truth_and_predictions(self, X: Any, y: Any, what: str):
        """Labels as the model's own values and its predictions. Labels match by value or,
        across file types, by spelling (a CSV's "1" is a JSONL's 1). Multi-label: two
        (rows, labels) 0/1 matrices."""
        ex = coerce_inputs(X, y, what)
        if ex.labels is None:
            raise DataError(f"{ex.source}: {what} needs labels; name the label column (or "
                            "pass y).")
        self._check_fitted()
        proba = self.predict_proba(ex)
        if self.decision_.multi_label:
            if not ex.multi_label:  # one label per row is a set of one
                ex = dataclasses.replace(ex, labels=[(v,) for v in ex.labels], multi_label=True)
                try:
                    return ex.indicator(self.labels), self.decision_.indicator(proba)
                except DataError as e:
                    raise DataError(f"{e} This model predicts label sets: read several labels "
                                    "per row with --multi-label (multi_label=True), and ids "
                                    "with --label-names-file.") from None
            return ex.indicator(self.labels), self.decision_.indicator(proba)
        if ex.multi_label:
            raise DataError(f"{ex.source}: {what} holds label sets, but this model predicts "
                            "one label per text; evaluate it on single-label data.")
        truth = align_labels(ex, self.labels)
        return truth, [self.labels[i] for i in proba.argmax(axis=1)]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write the model folder atomically: a crash mid-way keeps any previous model."""
        from accelerate import PartialState

        self._check_fitted()
        path = Path(path)
        # under `accelerate launch` one process writes; if it fails, every process raises
        with together(f"saving the model to {path}"):
            if PartialState().is_main_process:
                check = record(self.model_.predict_proba, self.is_pair_)
                with atomic_dir(path) as tmp:
                    config = {**self._config(), **self.model_.save(tmp), SELF_CHECK: check}
                    (tmp / CONFIG_FILE).write_text(
                        json.dumps(config, indent=2, default=str) + "\n")
                    (tmp / "README.md").write_text(
                        _model_card(config, self.model_.card_files(config)))
                log.info("saved model to %s", path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, verify: bool = True) -> "TextClassifier":
        """Load a model folder and prove it answers as it did when saved (`selfcheck`);
        `verify=False` skips that proof, for inspecting a model that fails it."""
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
        kind = model_kind(config["head"]["type"])
        if kind is None:
            raise ValueError(f"unknown model type '{config['head']['type']}' in {CONFIG_FILE}; "
                             "upgrade textune.")
        clf.model_ = kind.load(path, config)
        if verify and SELF_CHECK in config:
            verify_canaries(clf.model_.predict_proba, config[SELF_CHECK], str(path),
                            versions=config.get("versions"))
        elif verify:
            log.info("%s was saved by textune %s, before load-time self-checks", path,
                     config.get("textune_version", "?"))
        clf.decision_ = Decision.from_json(config.get("decision"))
        clf.classes_ = np.array(config["labels"])
        clf.is_pair_ = bool(config["text_pair"])
        clf.method_config_ = config.get("method_config")
        clf.created_ = config.get("created")
        clf.fit_stats_ = config.get("train", {})
        clf.train_seconds_ = clf.fit_stats_.get("train_seconds")
        clf.n_train_ = clf.fit_stats_.get("n_train")
        clf.reading_ = config.get("reading")  # load_examples' options `textune train` used
        return clf

    # ------------------------------------------------------------------ helpers

    @property
    def labels(self) -> list[Any]:
        """`classes_` as plain Python values (for JSON and display)."""
        self._check_fitted()
        return [c.item() if hasattr(c, "item") else c for c in self.classes_]

    @property
    def kind(self) -> str:
        """"embedding" (setfit/probe), "sequence" (finetune/peft on an encoder) or
        "generative" (a causal LM scoring label words)."""
        self._check_fitted()
        return self.model_.kind

    @property
    def encoder_(self):
        """The sentence encoder of a setfit/probe model (what ONNX export and serving use)."""
        return self._embedding().encoder

    @property
    def head_(self):
        return self._embedding().head

    def _embedding(self):
        self._check_fitted()
        if self.model_.kind != "embedding":
            raise AttributeError(f"a {self.method} model has no separate encoder and head; "
                                 "use predict/predict_proba.")
        return self.model_

    def _check_fitted(self) -> None:
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "model_"):
            raise NotFittedError("this TextClassifier is not trained yet; call fit() or load().")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # one text (or text pair) per row, not a matrix
        tags.input_tags.string = True
        return tags

    def saved_config(self) -> dict:
        """What `save` writes to textune.json (method, backbone, labels, decision, training
        statistics, library versions): what serving reports as the model's card."""
        self._check_fitted()
        return self._config()

    def _config(self) -> dict:
        import sentence_transformers
        import sklearn
        import torch
        import transformers

        import safetensors

        versions = {"textune": __version__, "torch": torch.__version__,
                    "safetensors": safetensors.__version__,
                    "transformers": transformers.__version__,
                    "sentence_transformers": sentence_transformers.__version__,
                    "scikit_learn": sklearn.__version__, "python": platform.python_version()}
        try:
            import peft

            versions["peft"] = peft.__version__
        except ImportError:
            pass
        return {
            "format_version": FORMAT_VERSION,
            "textune_version": __version__,
            "method": self.method,
            "backbone": self.model,
            "labels": self.labels,
            "text_pair": self.is_pair_,
            "multi_label": self.decision_.multi_label,
            "decision": self.decision_.to_json(),
            "params": {k: v for k, v in self.get_params().items()
                       if k not in CHECKPOINT_PARAMS},
            # what the method read (its config dataclass); absent in models saved before 0.3
            "method_config": _as_dict(getattr(self, "method_config_", None)),
            "train": self.fit_stats_,
            # how `textune train` read the data (load_examples' options): evaluate/predict's
            # defaults; absent when the model was not trained by the command
            **({"reading": self.reading_} if getattr(self, "reading_", None) else {}),
            "versions": versions,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def _as_dict(cfg: Any) -> dict | None:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg


def _defaults() -> dict:
    """The estimator's default parameters (their declarations): a value that differs was set
    by the user."""
    return {name: k.default for name, k in _KNOBS.items()}


def _trainable(stats: dict) -> int | None:
    """Trainable parameters of an embedding model: body (if trained) + head."""
    if "body_trainable_parameters" in stats or "head_parameters" in stats:
        return stats.get("body_trainable_parameters", 0) + stats.get("head_parameters", 0)
    return None


def _model_card(cfg: dict, files: str) -> str:
    """The folder's README.md; `files`: what the model kind saved (`card_files`)."""
    stats = cfg.get("train", {})
    labels = ", ".join(f"`{v}`" for v in cfg["labels"])
    return f"""# textune text classifier

- method: `{cfg['method']}`
- backbone: `{cfg['backbone']}`
- labels: {labels}{' (multi-label: several per text)' if cfg.get('multi_label') else ''}
- input: {'text pairs' if cfg['text_pair'] else 'single texts'}
- trained on {stats.get('n_train', '?')} examples in {stats.get('train_seconds', 0):.1f}s
- textune {cfg['textune_version']}, saved {cfg['created']}

```python
from textune import TextClassifier
clf = TextClassifier.load("path/to/this/folder")
clf.predict(["some text"])
```

Files: `textune.json` (config, labels, versions){files}. No pickle.
"""
