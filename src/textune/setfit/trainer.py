"""`Trainer` (setfit 1.x) and `SetFitTrainer` (setfit 0.x): setfit's training API, run by
textune's contrastive training (one encoding per distinct text, every pair in the batch).

Per-epoch (or per-N-step) evaluation scores the body as it is: the contrastive loss on
eval rows (`embedding_loss`, setfit's default `metric_for_best_model`), and, when the best
model is chosen by the trainer's metric instead, that metric from a logistic head fitted on
the training rows' embeddings. `load_best_model_at_end` restores the best body before the
final head is trained; `save_strategy` writes the body to `output_dir/checkpoint-<step>`.
Metrics are computed with scikit-learn, so `metric="accuracy"` works offline.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from ..artifact.files import atomic_dir
from ..classifier import TextClassifier
from ..data import DataError, from_lists
from ..methods.setfit import Monitor
from .args import TrainingArguments
from .model import SetFitModel

log = logging.getLogger(__name__)
REQUIRED = ("text", "label")
EVAL_LOSS_ROWS = 1024


class Trainer:
    """Train a `SetFitModel` on a `datasets.Dataset`, a pandas DataFrame or a dict of
    lists with "text" and "label" columns (or `column_mapping` to them)."""

    def __init__(self, model: SetFitModel | None = None, args: TrainingArguments | None = None,
                 train_dataset: Any = None, eval_dataset: Any = None,
                 model_init: Callable[[], SetFitModel] | None = None,
                 metric: str | Callable = "accuracy", metric_kwargs: dict | None = None,
                 callbacks: list | None = None, column_mapping: dict | None = None):
        if args is not None and not isinstance(args, TrainingArguments):
            raise ValueError("args must be textune.setfit.TrainingArguments (the drop-in for "
                             "setfit.TrainingArguments).")
        if callbacks:
            raise ValueError("Trainer(callbacks=...): textune does not run transformers "
                             "callbacks; remove them (evaluation and checkpoints follow "
                             "TrainingArguments' eval_strategy and save_strategy).")
        if (model is None) == (model_init is None):
            raise ValueError("Trainer needs either model=SetFitModel.from_pretrained(...) or "
                             "model_init, not both and not neither.")
        self.model = model if model is not None else model_init()
        self.args = args or TrainingArguments()
        self.column_mapping = column_mapping
        self.metric, self.metric_kwargs = metric, metric_kwargs or {}
        _check_metric(metric)
        self.train_dataset = (None if train_dataset is None
                              else _columns(train_dataset, column_mapping, "train_dataset"))
        self.eval_dataset = (None if eval_dataset is None
                             else _columns(eval_dataset, column_mapping, "eval_dataset"))
        self.state = SimpleNamespace(log_history=[], best_metric=None,
                                     best_model_checkpoint=None, global_step=0)

    # ---------------------------------------------------------------- training

    def train(self, args: TrainingArguments | None = None, trial: Any = None,
              **kwargs) -> None:
        if trial is not None or kwargs:
            raise ValueError("Trainer.train takes only args; hyperparameter trials and "
                             f"keyword arguments ({sorted(kwargs) or 'trial'}) are not "
                             "supported. Pass a TrainingArguments instead.")
        args = args or self.args
        if self.train_dataset is None:
            raise ValueError("Training requires a train_dataset given to the Trainer.")
        self.state = SimpleNamespace(log_history=[], best_metric=None,
                                     best_model_checkpoint=None, global_step=0)
        texts, labels = self.train_dataset
        multi = _is_multi(labels)
        ex = self._examples(texts, labels, "train_dataset")
        plan = args.plan(labels, multi)
        log.info("textune: %d contrastive steps of up to %d distinct texts (setfit would run "
                 "%d steps of %d pairs)", plan.steps, plan.batch_size, plan.setfit_steps,
                 args.embedding_batch_size)
        monitor = self._monitor(args, plan, ex)
        with tempfile.TemporaryDirectory() as tmp:
            body = self.model.model_body
            if self.model.classifier is not None:  # trained in memory: go on from there
                body = str(Path(tmp) / "body")
                self.model.classifier.encoder_.save(body)
            clf = TextClassifier(method="setfit", model=body, steps=plan.steps,
                                 batch_size=plan.batch_size, **args.textune_params())
            clf.fit(ex, monitor=monitor)
        self.model.classifier = clf
        self.model.string_labels = not multi and bool(labels) and isinstance(labels[0], str)
        self.state.global_step = plan.steps
        best = clf.fit_stats_.get("best_evaluation")
        if best and args.load_best_model_at_end:
            self.state.best_metric = best.get(args.best_metric_key)
            step = Path(args.output_dir) / f"checkpoint-{best['step']}"
            self.state.best_model_checkpoint = str(step) if step.is_dir() else None

    def _examples(self, texts: list, labels: list, what: str):
        """textune Examples with setfit's label ids turned into the model's label names."""
        names = self.model.labels
        if _is_multi(labels):
            width = len(labels[0])
            vocab = names if names is not None else list(range(width))
            if len(vocab) != width:
                raise DataError(f"{what}: label rows have {width} entries but the model has "
                                f"{len(vocab)} labels; pass labels=[...] with one name per "
                                "column.")
            sets = [[vocab[j] for j, v in enumerate(row) if v] for row in labels]
            return from_lists(texts, sets, source=what, label_names=vocab)
        if names is not None:
            labels = [_name(v, names, what, i) for i, v in enumerate(labels)]
        return from_lists(texts, labels, source=what)

    def _monitor(self, args: TrainingArguments, plan, ex) -> Monitor | None:
        want_eval = args.eval_strategy != "no" or args.load_best_model_at_end
        if not want_eval and plan.save_every is None:
            return None
        if want_eval and self.eval_dataset is None:
            raise ValueError("TrainingArguments(eval_strategy=..., load_best_model_at_end=...) "
                             "needs an eval_dataset given to the Trainer.")
        evaluate = None
        key = args.best_metric_key
        if key != "embedding_loss" and isinstance(self.metric, str) and key != self.metric:
            raise ValueError(f"metric_for_best_model={args.metric_for_best_model!r}: the "
                             f"evaluation scores embedding_loss and {self.metric}.")
        if want_eval:
            evaluate = self._evaluator(args, plan, ex, key)
        return Monitor(evaluate=evaluate, eval_every=plan.eval_every or plan.epoch_steps,
                       metric=key, greater_is_better=args.best_is_greater(),
                       keep_best=args.load_best_model_at_end,
                       save=self._checkpointer(args, key) if plan.save_every else None,
                       save_every=plan.save_every)

    def _evaluator(self, args: TrainingArguments, plan, ex, key: str):
        """evaluate(encoder) -> scores of the body as it is now."""
        import torch

        from ..engine.losses import LOSSES
        from ..models.heads import LogisticHead

        texts, labels = self.eval_dataset
        eval_ex = self._examples(texts, labels, "eval_dataset")
        loss_rows = np.random.default_rng(args.seed).permutation(len(eval_ex))[:EVAL_LOSS_ROWS]
        loss_ex = eval_ex.subset(sorted(loss_rows))
        classes = ex.classes
        loss_fn = LOSSES[args.textune_params()["loss"]]

        def targets(e):  # an eval label the training set lacks: id -1, a class of its own
            return e.label_ids(classes, unknown=-1)

        y_loss = targets(loss_ex)

        def evaluate(encoder, step: int) -> dict:
            scores = {}
            emb = encoder.embed(loss_ex.texts)
            scores["embedding_loss"] = float(loss_fn(torch.from_numpy(emb),
                                                     torch.from_numpy(y_loss)))
            if key != "embedding_loss":
                head = LogisticHead(multi_label=ex.multi_label).fit(
                    encoder.embed(ex.texts), targets(ex), seed=args.seed)
                proba = head.predict_proba(encoder.embed(eval_ex.texts))
                pred = self._predictions(proba, classes, labels)
                scores.update(self._score(pred, labels))
            record = {f"eval_{k}": v for k, v in scores.items()}
            record.update(epoch=round(step / plan.epoch_steps, 3), step=step)
            self.state.log_history.append(record)
            log.info("evaluation: %s", record)
            if key not in scores:
                raise ValueError(f"metric_for_best_model={args.metric_for_best_model!r} is "
                                 f"not among the evaluation's scores {sorted(scores)}.")
            return scores

        return evaluate

    def _checkpointer(self, args: TrainingArguments, key: str):
        out = Path(args.output_dir)
        written: list[Path] = []

        def save(encoder, step: int) -> None:
            from accelerate import PartialState

            if not PartialState().is_main_process:  # under accelerate launch: one writer
                return
            path = out / f"checkpoint-{step}"
            with atomic_dir(path) as tmp:
                encoder.save(str(tmp))
            written.append(path)
            best = self._best_step(key, args)
            keep = args.save_total_limit
            while keep is not None and len(written) > keep:
                old = next((p for p in written if p.name != f"checkpoint-{best}"), None)
                if old is None or old == path:
                    break
                written.remove(old)
                shutil.rmtree(old, ignore_errors=True)

        return save

    def _best_step(self, key: str, args: TrainingArguments) -> int | None:
        """The step of the best evaluation so far (its checkpoint is kept)."""
        history = [r for r in self.state.log_history if f"eval_{key}" in r]
        if not history:
            return None
        sign = 1 if args.best_is_greater() else -1
        return max(history, key=lambda r: sign * r[f"eval_{key}"])["step"]

    # ---------------------------------------------------------------- evaluation

    def evaluate(self, dataset: Any = None, metric_key_prefix: str = "test") -> dict:
        """The trainer's metric on `dataset` (default: the eval_dataset)."""
        data = (self.eval_dataset if dataset is None
                else _columns(dataset, self.column_mapping, "dataset"))
        if data is None:
            raise ValueError("No evaluation dataset given to Trainer.evaluate nor to the "
                             "Trainer.")
        texts, labels = data
        pred = self.model.predict(texts, use_labels=False, as_numpy=True)  # as setfit does
        return self._score(np.asarray(pred), labels)

    def _predictions(self, proba: np.ndarray, classes: list, truth: list) -> np.ndarray:
        """Predictions in the dataset's own label space: ids (or the raw labels) as setfit
        compares them, a 0/1 row per text for multi-label (columns in label-id order)."""
        if _is_multi(truth):  # `classes` are the label names in id order
            return (proba >= 0.5).astype(np.int64)
        names = [classes[i] for i in proba.argmax(axis=1)]
        if self.model.labels is not None and not isinstance(truth[0], str):
            position = {v: i for i, v in enumerate(self.model.labels)}
            return np.array([position[v] for v in names])
        return np.asarray(names)

    def _score(self, pred: np.ndarray, truth: list) -> dict:
        y_true = np.asarray(truth)
        if y_true.dtype.kind in "US" or np.asarray(pred).dtype.kind in "US":
            from sklearn.preprocessing import LabelEncoder

            enc = LabelEncoder().fit(list(y_true) + list(pred))
            y_true, pred = enc.transform(y_true), enc.transform(pred)
        if callable(self.metric):
            result = self.metric(pred, y_true, **self.metric_kwargs)
        else:
            result = METRICS[self.metric](y_true, pred, **self.metric_kwargs)
        return result if isinstance(result, dict) else {"metric": result}

    def push_to_hub(self, *args, **kwargs):
        raise ValueError("push_to_hub: textune saves locally only; use "
                         "trainer.model.save_pretrained(folder).")


class SetFitTrainer(Trainer):
    """setfit 0.x's trainer: training arguments as keywords (the SetFit blog post's shape).
    `learning_rate=None` means textune's tuned default (setfit 0.x used 2e-5)."""

    def __init__(self, model: SetFitModel | None = None, train_dataset: Any = None,
                 eval_dataset: Any = None, model_init: Callable | None = None,
                 metric: str | Callable = "accuracy", metric_kwargs: dict | None = None,
                 loss_class: Any = None, num_iterations: int = 20, num_epochs: int = 1,
                 learning_rate: float | None = None, batch_size: int = 16, seed: int = 42,
                 column_mapping: dict | None = None, use_amp: bool = False,
                 warmup_proportion: float = 0.1, distance_metric: Any = None,
                 margin: float = 0.25, samples_per_label: int = 2):
        args = TrainingArguments(num_iterations=num_iterations, num_epochs=num_epochs,
                                 body_learning_rate=learning_rate, batch_size=batch_size,
                                 seed=seed, use_amp=use_amp,
                                 warmup_proportion=warmup_proportion,
                                 distance_metric=distance_metric, margin=margin,
                                 samples_per_label=samples_per_label, loss=loss_class)
        super().__init__(model=model, args=args, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, model_init=model_init, metric=metric,
                         metric_kwargs=metric_kwargs, column_mapping=column_mapping)


class DistillationTrainer(Trainer):
    """setfit 1.x's `DistillationTrainer`: a student `SetFitModel` learns a trained teacher's
    answers on unlabelled texts (`train_dataset` needs only a "text" column; a "label"
    column is ignored, as setfit ignores it), by `textune.distill`: the student body trains
    contrastively on the teacher's labels and its head on the teacher's probabilities.
    (setfit's own recipe pairs texts by the teacher's embedding similarity and fits the head
    on the teacher's labels; docs/benchmarks.md compares the two.) `args` set the student's
    schedule as in `Trainer`: `max_steps`, or `num_iterations`/`num_epochs`."""

    def __init__(self, teacher_model: SetFitModel, student_model: SetFitModel | None = None,
                 args: TrainingArguments | None = None, train_dataset: Any = None,
                 eval_dataset: Any = None, model_init: Callable[[], SetFitModel] | None = None,
                 metric: str | Callable = "accuracy", column_mapping: dict | None = None):
        if not isinstance(teacher_model, SetFitModel) or teacher_model.classifier is None:
            raise ValueError("DistillationTrainer(teacher_model=...) needs a trained "
                             "SetFitModel: train it with Trainer first, or load one with "
                             "SetFitModel.from_pretrained(folder).")
        super().__init__(model=student_model, args=args, eval_dataset=eval_dataset,
                         model_init=model_init, metric=metric, column_mapping=column_mapping)
        self.teacher_model = teacher_model
        self.student_model = self.model
        self.train_dataset = (None if train_dataset is None
                              else _texts(train_dataset, column_mapping, "train_dataset"))

    def train(self, args: TrainingArguments | None = None, trial: Any = None,
              **kwargs) -> None:
        from ..data import Examples
        from ..distill import train_student

        if trial is not None or kwargs:
            raise ValueError("DistillationTrainer.train takes only args; hyperparameter "
                             f"trials and keyword arguments ({sorted(kwargs) or 'trial'}) are "
                             "not supported. Pass a TrainingArguments instead.")
        args = args or self.args
        if self.train_dataset is None:
            raise ValueError("Training requires a train_dataset (the unlabelled texts) given "
                             "to the DistillationTrainer.")
        teacher = self.teacher_model.classifier
        teacher.show_progress = args.show_progress_bar
        ex = Examples(list(self.train_dataset), source="train_dataset")
        proba = teacher.predict_proba(ex)
        taught = [list(row) for row in teacher.decision_.indicator(proba)] \
            if teacher.multi_label else proba.argmax(axis=1).tolist()
        plan = args.plan(taught, teacher.multi_label)
        log.info("textune: distilling on %d texts, %d contrastive steps of up to %d distinct "
                 "texts", len(ex), plan.steps, plan.batch_size)
        params = args.textune_params()
        seed = params.pop("seed")
        clf = train_student(teacher, ex, proba, student=self.model.model_body,
                            method="setfit", seed=seed, steps=plan.steps,
                            batch_size=plan.batch_size,
                            **{k: v for k, v in params.items() if k != "show_progress"},
                            show_progress=args.show_progress_bar)
        self.model.classifier = clf
        self.model.labels = self.teacher_model.labels
        self.model.string_labels = self.teacher_model.string_labels
        self.state.global_step = plan.steps


# -------------------------------------------------------------------- metrics (offline)

def _sk(fn_name: str, key: str, averaged: bool = False):
    def metric(y_true, y_pred, **kw):
        import sklearn.metrics as m

        if averaged:
            kw.setdefault("average", "binary")
        value = getattr(m, fn_name)(y_true, y_pred, **kw)
        return {key: value.tolist() if hasattr(value, "tolist") and np.ndim(value) else
                float(value)}
    return metric


METRICS = {"accuracy": _sk("accuracy_score", "accuracy"),
           "f1": _sk("f1_score", "f1", averaged=True),
           "precision": _sk("precision_score", "precision", averaged=True),
           "recall": _sk("recall_score", "recall", averaged=True),
           "matthews_correlation": _sk("matthews_corrcoef", "matthews_correlation")}


def _check_metric(metric: Any) -> None:
    if not callable(metric) and metric not in METRICS:
        raise ValueError(f"metric={metric!r}: textune computes {', '.join(METRICS)} offline "
                         "(scikit-learn), or pass a callable metric(y_pred, y_test) -> dict.")


# -------------------------------------------------------------------- datasets

def _columns(data: Any, mapping: dict | None, what: str) -> tuple[list, list]:
    """(texts, labels) from a datasets.Dataset, a DataFrame or a dict of lists, after
    renaming columns by `mapping` as setfit does."""
    if type(data).__name__ == "DatasetDict":
        raise ValueError(f"{what}: a DatasetDict with splits {sorted(data)}; pass one split, "
                         "e.g. dataset['train'].")
    if hasattr(data, "column_names") and hasattr(data, "to_dict"):  # datasets.Dataset
        columns = {c: data[c] for c in data.column_names}
    elif hasattr(data, "columns") and hasattr(data, "to_dict"):  # pandas
        columns = {str(c): data[c].tolist() for c in data.columns}
    elif isinstance(data, dict):
        columns = dict(data)
    else:
        raise DataError(f"{what}: a {type(data).__name__}; pass a datasets.Dataset, a pandas "
                        "DataFrame or a dict of lists with 'text' and 'label' columns.")
    if mapping:
        missing = [c for c in mapping if c not in columns]
        if missing:
            raise DataError(f"{what}: column_mapping names {missing}, but the columns are "
                            f"{sorted(columns)}.")
        columns = {mapping.get(c, c): v for c, v in columns.items()}
    absent = [c for c in REQUIRED if c not in columns]
    if absent:
        raise DataError(f"{what}: no {absent} column among {sorted(columns)}; rename them or "
                        "pass column_mapping={'your_text_column': 'text', "
                        "'your_label_column': 'label'}.")
    labels = [v.tolist() if hasattr(v, "tolist") else v for v in columns["label"]]
    return list(columns["text"]), labels


def _texts(data: Any, mapping: dict | None, what: str) -> list:
    """The "text" column of unlabelled data (a label column, if any, is not read)."""
    if isinstance(data, dict) and "label" not in data:
        data = {**data, "label": [None] * len(data.get("text", []))}
    elif hasattr(data, "column_names") and "label" not in data.column_names:
        data = {c: data[c] for c in data.column_names} | {"label": [None] * len(data)}
    elif hasattr(data, "columns") and hasattr(data, "assign") and "label" not in data.columns:
        data = data.assign(label=None)
    return _columns(data, mapping, what)[0]


def _is_multi(labels: list) -> bool:
    return bool(labels) and isinstance(labels[0], (list, tuple))


def _name(value: Any, names: list, what: str, row: int) -> Any:
    """A label id as the model's label name (setfit's `labels[id]`)."""
    if isinstance(value, str):
        if value not in names:
            raise DataError(f"{what}: row {row} has label {value!r}, which is not among the "
                            f"model's labels {names}.")
        return value
    if not isinstance(value, (int, np.integer)) or not 0 <= int(value) < len(names):
        raise DataError(f"{what}: row {row} has label {value!r}, but the model's labels "
                        f"{names} take ids 0..{len(names) - 1}.")
    return names[int(value)]
