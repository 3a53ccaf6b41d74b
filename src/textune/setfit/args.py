"""`TrainingArguments` with the `setfit` 1.x fields, and how they map onto textune's training.

A `setfit` step encodes `batch_size` text *pairs* (both sides); a textune step encodes `b`
distinct texts once and scores all b(b-1)/2 pairs among them. The amount of contrastive
training is matched in pairs scored:

- setfit's pairs per epoch: `2 * num_iterations * n` when `num_iterations` is set, else its
  `sampling_strategy` count over the n training rows (pairs with replacement, self-pairs
  included: "oversampling" = 2 * max(positive, negative), "undersampling" = 2 * min,
  "unique" = all);
- setfit steps = ceil(pairs / batch_size) per epoch, times `num_epochs` (or `max_steps`);
- textune steps = ceil(setfit steps * batch_size / (t(t-1)/2)), where t is the number of
  texts a textune step holds: its own batch for n rows (4-16 texts, tuned on SST-2 dev; at
  most 2 * batch_size, the distinct texts one setfit step can hold), as many as its
  class-balanced sampler fills. `eval_steps`, `save_steps` and `max_steps` convert the same
  way (a `save_steps` that is a multiple of `eval_steps` stays one).

`use_amp=False` (setfit's default) leaves textune's bf16 autocast on "auto" (on where the
hardware has bf16 units); `use_amp=True` forces it on.

The second element of a tuple `batch_size` / `num_epochs` / `body_learning_rate`, and
`head_learning_rate`, configure setfit's differentiable head, which textune does not offer
(`SetFitModel.from_pretrained(use_differentiable_head=True)` is refused); with the
logistic-regression head setfit does not read them either. Every other field textune does
not honour is refused when set to anything but setfit's default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..methods import all_knobs
from ..methods.setfit import schedule, texts_per_step

REPORT_NOWHERE = (None, "all", ["all"], "none", ["none"])  # textune reports to no tracker
STRATEGIES = ("no", "steps", "epoch")


@dataclass
class TrainingArguments:
    """The `setfit.TrainingArguments` fields. An unset learning rate (None) means textune's
    tuned default (5e-5; 2e-4 for label sets; setfit's is 2e-5); `greater_is_better=None`
    means True unless the metric is a loss."""

    output_dir: str = "checkpoints"
    batch_size: int | tuple[int, int] = (16, 2)
    num_epochs: int | tuple[int, int] = (1, 16)
    max_steps: int = -1
    sampling_strategy: str = "oversampling"
    num_iterations: int | None = None
    body_learning_rate: float | tuple[float, float] | None = None
    head_learning_rate: float = 1e-2
    loss: Callable | None = None  # None: CosineSimilarityLoss
    distance_metric: Callable | None = None
    margin: float = 0.25
    end_to_end: bool = False
    use_amp: bool = False
    warmup_proportion: float = 0.1
    l2_weight: float | None = None
    max_length: int | None = None
    samples_per_label: int = 2
    show_progress_bar: bool = True
    seed: int = 42
    report_to: str = "all"
    run_name: str | None = None
    logging_dir: str | None = None
    logging_strategy: str = "steps"
    logging_first_step: bool = True
    logging_steps: int = 50
    eval_strategy: str = "no"
    evaluation_strategy: str | None = field(default=None, repr=False)
    eval_steps: int | None = None
    eval_delay: int = 0
    eval_max_steps: int = -1
    save_strategy: str = "steps"
    save_steps: int = 500
    save_total_limit: int | None = 1
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = "embedding_loss"
    greater_is_better: bool | None = None
    # textune's own, not setfit's: the label names as extra training sentences ("auto": where
    # the labels are words; False trains on the given texts only, as setfit does)
    label_anchors: bool | str = "auto"

    def __post_init__(self) -> None:
        if self.evaluation_strategy is not None:  # the older name
            self.eval_strategy = self.evaluation_strategy
        self.eval_strategy = _strategy(self.eval_strategy, "eval_strategy")
        self.save_strategy = _strategy(self.save_strategy, "save_strategy")
        if self.report_to in REPORT_NOWHERE or self.report_to == []:
            self.report_to = "all"  # nothing to report to either way
        refused = [f.name for f in dataclasses.fields(self)
                   if f.name in NOT_HONOURED and getattr(self, f.name) != f.default]
        if refused:
            raise ValueError(" ".join(f"TrainingArguments({name}={getattr(self, name)!r}): "
                                      f"{NOT_HONOURED[name]}" for name in refused))
        _loss_name(self.loss)  # refuse an unsupported loss now, not after loading a model
        # the TextClassifier parameters these fields become, checked as those knobs are
        knobs = all_knobs()
        for field_name, param in (("label_anchors", "label_anchors"),
                                  ("warmup_proportion", "warmup_ratio")):
            knobs[param].validate(getattr(self, field_name),
                                  f"TrainingArguments({field_name}=...)")
        if self.sampling_strategy not in ("oversampling", "undersampling", "unique"):
            raise ValueError("TrainingArguments(sampling_strategy=...) must be 'oversampling', "
                             f"'undersampling' or 'unique', not {self.sampling_strategy!r}.")
        # setfit's (and transformers') own rules for evaluation and the best model
        if self.eval_steps is not None and self.eval_strategy == "no":
            self.eval_strategy = "steps"
        if self.eval_strategy == "steps" and not self.eval_steps:
            self.eval_steps = self.logging_steps
        if self.load_best_model_at_end:
            if self.eval_strategy != self.save_strategy:
                raise ValueError("TrainingArguments(load_best_model_at_end=True) needs the same "
                                 f"eval_strategy and save_strategy, not {self.eval_strategy!r} "
                                 f"and {self.save_strategy!r}.")
            if self.eval_strategy == "no":
                raise ValueError("TrainingArguments(load_best_model_at_end=True) needs an "
                                 "eval_strategy ('epoch' or 'steps').")
            if self.eval_strategy == "steps" and self.save_steps % self.eval_steps:
                raise ValueError("TrainingArguments(load_best_model_at_end=True) needs "
                                 f"save_steps ({self.save_steps}) to be a multiple of "
                                 f"eval_steps ({self.eval_steps}).")

    # ---------------------------------------------------------------- setfit -> textune

    @property
    def embedding_batch_size(self) -> int:
        return _first(self.batch_size)

    @property
    def embedding_num_epochs(self) -> int:
        return _first(self.num_epochs)

    @property
    def body_embedding_learning_rate(self) -> float | None:
        """None: textune's default for the data (5e-5; 2e-4 for label sets)."""
        return _first(self.body_learning_rate)

    def plan(self, labels: list, multi_label: bool) -> "Plan":
        """textune's batch and step counts for these rows (`labels`: one per row, a label id
        or a 0/1 list), matched to setfit's in pairs scored."""
        n, pair_batch = len(labels), self.embedding_batch_size
        if self.num_iterations is not None and self.num_iterations > 0:
            per_epoch = 2 * self.num_iterations * n
        else:
            per_epoch = _sampled_pairs(labels, multi_label, self.sampling_strategy)
        setfit_epoch_steps = math.ceil(per_epoch / pair_batch)
        b, _ = schedule(n, None, 1, 1.0)
        b = max(2, min(b, 2 * pair_batch, n))
        rows = np.asarray(labels, dtype=np.float32 if multi_label else None)
        texts = texts_per_step(rows, b)  # class-balanced steps can hold fewer than b
        per_step = max(1, texts * (texts - 1) // 2)

        def steps(setfit_steps: int) -> int:
            return max(1, math.ceil(setfit_steps * pair_batch / per_step))

        epoch_steps = steps(setfit_epoch_steps)
        total = (steps(self.max_steps) if self.max_steps > 0
                 else epoch_steps * self.embedding_num_epochs)

        def interval(strategy: str, setfit_steps: int | None) -> int | None:
            if strategy == "no":
                return None
            return epoch_steps if strategy == "epoch" else steps(setfit_steps or 1)

        eval_every = interval(self.eval_strategy, self.eval_steps)
        save_every = interval(self.save_strategy, self.save_steps)
        if eval_every and self.save_strategy == self.eval_strategy == "steps" and \
                self.save_steps % self.eval_steps == 0:  # checkpoints stay on evaluations
            save_every = eval_every * (self.save_steps // self.eval_steps)
        return Plan(batch_size=b, steps=total, epoch_steps=epoch_steps,
                    eval_every=eval_every, save_every=save_every,
                    setfit_steps=(self.max_steps if self.max_steps > 0
                                  else setfit_epoch_steps * self.embedding_num_epochs))

    def textune_params(self) -> dict:
        """The `TextClassifier` parameters these arguments set (steps come from `plan`)."""
        return {"learning_rate": self.body_embedding_learning_rate,
                "warmup_ratio": self.warmup_proportion, "seed": self.seed,
                "max_length": self.max_length, "show_progress": self.show_progress_bar,
                "bf16": True if self.use_amp else "auto", "loss": _loss_name(self.loss),
                "label_anchors": self.label_anchors}

    @property
    def best_metric_key(self) -> str:
        """`metric_for_best_model` without its "eval_" prefix (None: the embedding loss)."""
        key = self.metric_for_best_model or "embedding_loss"
        return key[len("eval_"):] if key.startswith("eval_") else key

    def best_is_greater(self) -> bool:
        if self.greater_is_better is not None:
            return self.greater_is_better
        return not self.best_metric_key.endswith("loss")


@dataclass
class Plan:
    batch_size: int        # distinct texts per textune step
    steps: int             # textune steps in all
    epoch_steps: int       # textune steps per setfit epoch
    eval_every: int | None
    save_every: int | None
    setfit_steps: int      # what setfit would have run, for the log


NOT_HONOURED = {
    "end_to_end": "end-to-end training of a differentiable head is not offered; textune "
                  "trains the body contrastively, then a logistic-regression head.",
    "l2_weight": "applies to setfit's differentiable head, which textune does not offer.",
    "distance_metric": "applies to setfit's triplet losses; textune trains with "
                       "CosineSimilarityLoss only.",
    "margin": "applies to setfit's triplet losses; textune trains with CosineSimilarityLoss "
              "only.",
    "samples_per_label": "applies to setfit's batch-hard losses; textune trains with "
                         "CosineSimilarityLoss only.",
    "report_to": "textune reports to no tracker (wandb, tensorboard, ...); it logs through "
                 "Python logging. Use report_to='none' or remove it.",
    "run_name": "textune reports to no tracker; remove it.",
    "logging_dir": "textune writes no tensorboard logs; it logs through Python logging.",
    "logging_strategy": "textune logs progress through Python logging and its progress bar; "
                        "remove it.",
    "logging_first_step": "textune logs progress through Python logging; remove it.",
    "logging_steps": "textune logs progress through Python logging; remove it.",
    "eval_delay": "textune evaluates from the first interval on; remove it.",
    "eval_max_steps": "textune evaluates on the whole eval_dataset (at most 1,024 rows for the "
                      "embedding loss); remove it.",
}


def _strategy(value: Any, name: str) -> str:
    value = getattr(value, "value", value)  # transformers' IntervalStrategy enum
    if value not in STRATEGIES:
        raise ValueError(f"TrainingArguments({name}={value!r}): use one of "
                         f"{', '.join(STRATEGIES)}.")
    return value


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) else value


def _loss_name(loss: Any) -> str:
    """textune's name for a setfit loss class; only the cosine-similarity loss maps."""
    if loss is None or getattr(loss, "__name__", "") == "CosineSimilarityLoss":
        return "cosine"
    raise ValueError(f"loss={getattr(loss, '__name__', loss)!r}: textune's contrastive "
                     "training implements CosineSimilarityLoss (SetFit's default); remove the "
                     "loss argument or pass sentence_transformers.losses.CosineSimilarityLoss.")


def _sampled_pairs(labels: list, multi_label: bool, strategy: str) -> int:
    """setfit's pair count for one epoch (`sampler.ContrastiveDataset`): all pairs with
    replacement, split into positive (same label / overlapping sets) and negative."""
    n = len(labels)
    total = n * (n + 1) // 2
    if multi_label:  # overlapping sets, counted on at most 4,096 rows and scaled up
        Y = np.asarray(labels, dtype=np.float32)
        if n > 4096:
            Y = Y[np.random.default_rng(0).choice(n, 4096, replace=False)]
        overlap = (Y @ Y.T) > 0
        m = len(Y)
        share = (np.triu(overlap).sum()) / (m * (m + 1) // 2)
        pos = round(share * total)
    else:
        counts: dict = {}
        for v in labels:
            counts[v] = counts.get(v, 0) + 1
        pos = sum(c * (c + 1) // 2 for c in counts.values())
    neg = total - pos
    return {"unique": total, "undersampling": 2 * min(pos, neg),
            "oversampling": 2 * max(pos, neg)}[strategy]
