"""SetFit-style contrastive fine-tuning of the body, without redundant encoding.

The `setfit` library materialises text pairs and encodes both sides of every pair (80x
redundancy at 8 shots, O(n^2) pairs in memory). Here each step takes a batch of *distinct*
texts, stratified so that it holds positives and negatives, encodes each once and scores
every pair in the batch (`losses.cosine_pair_loss`). Few-shot sets fit in one batch; larger
sets stream batches, so memory is O(batch^2) whatever the data size.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..data import Examples
from .anchors import add_label_anchors
from .base import Method
from .config import (AdapterConfig, AnchorConfig, HeadConfig, LongTextConfig, LoopConfig,
                     VerbalizerConfig, at_least, knob, one_of)

if TYPE_CHECKING:
    import torch

    from ..models.encoder import Encoder

log = logging.getLogger(__name__)

# The keys of `engine.losses.LOSSES`, which the `loss` knob checks against: named here because
# that module needs torch and this one is read by `textune --help` (a test checks they agree).
LOSS_NAMES = ("cosine", "jaccard")


def balanced_batches(labels: np.ndarray, batch_size: int, steps: int,
                     rng: np.random.Generator):
    """Yield `steps` index batches of distinct examples with every class equally present.

    Each class is a queue reshuffled whenever it runs out, so small classes are oversampled
    (as SetFit does) and every batch has same-class and different-class pairs. With more
    classes than fit two to a batch (28 emotions in 16 texts), each step takes the next
    `batch_size // 2` classes of a shuffled rotation, so a step costs `batch_size` texts
    whatever the number of classes, and every class comes round equally often.
    """
    if labels.ndim == 2:  # multi-label: a row is pooled under its rarest label
        labels = _rarest_label(labels)
    classes = np.unique(labels)
    pools = {c: np.flatnonzero(labels == c) for c in classes}
    queues: dict = defaultdict(list)
    per_class = max(2, batch_size // len(classes))
    n_step_classes = min(len(classes), max(2, batch_size // 2))
    rotation: list = []
    for _ in range(steps):
        if n_step_classes == len(classes):
            step_classes = classes
        else:
            step_classes, deferred = [], []
            while len(step_classes) < n_step_classes:
                if not rotation:
                    rotation = list(rng.permutation(classes))
                c = rotation.pop()
                (deferred if c in step_classes else step_classes).append(c)
            rotation.extend(deferred)  # already in this step: first in the next
        batch = []
        for c in step_classes:
            want = min(per_class, len(pools[c]))
            take: list[int] = []
            while len(take) < want:
                if not queues[c]:
                    queues[c] = list(rng.permutation(pools[c]))
                i = queues[c].pop()
                if i not in take:
                    take.append(i)
                elif len(queues[c]) == 0:  # only repeats left; refill on next pass
                    continue
            batch.extend(take)
        yield np.array(batch)


def texts_per_step(labels: np.ndarray, batch_size: int) -> int:
    """How many distinct texts a `balanced_batches` step holds (on average, when classes
    take turns): what a budget in pairs scored divides by."""
    if labels.ndim == 2:
        labels = _rarest_label(labels)
    _, sizes = np.unique(labels, return_counts=True)
    per_class = max(2, batch_size // len(sizes))
    takes = [min(per_class, int(n)) for n in sizes]
    n_step_classes = min(len(sizes), max(2, batch_size // 2))
    return round(n_step_classes * float(np.mean(takes)))


def _rarest_label(Y: np.ndarray) -> np.ndarray:
    """Each row's least frequent label (-1 for a row with none), so that balanced batches
    draw rare labels as often as common ones."""
    freq = Y.sum(axis=0)
    masked = np.where(Y > 0, freq[None, :], np.inf)
    return np.where(Y.sum(axis=1) > 0, masked.argmin(axis=1), -1)


MIN_STEPS, MAX_STEPS = 20, 2000


def schedule(n: int, batch_size: int | None, steps: int | None, epochs: float) -> tuple[int, int]:
    """Default batch size and step count, tuned on SST-2 dev (seeds 10-17), not on test.

    Small batches of distinct texts (at most half the set, 4-16 texts) give more, noisier
    updates, which beat full-batch steps at equal compute (+0.5 to +1.5 points at 8 and 64
    shots). Steps = `epochs` passes, at least 20 (tiny sets), at most 2,000 (large sets, where
    contrastive training saturates; pass `steps` to go further).
    """
    if batch_size is None:
        batch_size = min(16, max(4, n // 2))
    if steps is None:
        steps = min(MAX_STEPS, max(MIN_STEPS, math.ceil(epochs * math.ceil(n / batch_size))))
    return batch_size, steps


def default_epochs(ex: Examples) -> float:
    """10 passes; 7 for label sets, which also take smaller batches at a higher rate (below)."""
    return 7.0 if ex.multi_label else 10.0


def multi_label_defaults(ex: Examples) -> tuple[int | None, float]:
    """Default (batch of distinct texts, learning rate). Label sets: 8 texts at 2e-4, tuned
    on GoEmotions ekman dev, 16 per label, seeds 0-1 (`benchmarks/multilabel_schedule.py`):
    96 steps of 8 texts at 2e-4 gave 0.481 micro-F1 with --min-labels 1 in 21 s, as good as
    the earlier 140 steps of 14 texts at 5e-5 (0.476) in half the time; 48 steps of 16 at 2e-4
    gave 0.468, 96 of 8 at 1e-4 0.467. Single-label sets keep the SST-2-tuned schedule."""
    return (8, 2e-4) if ex.multi_label else (None, 5e-5)


class BalancedBatches:
    """`balanced_batches` as a batch sampler, so accelerate can shard it across processes."""

    def __init__(self, labels: np.ndarray, batch_size: int, steps: int, seed: int):
        self.labels, self.batch_size, self.steps, self.seed = labels, batch_size, steps, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        for idx in balanced_batches(self.labels, self.batch_size, self.steps, rng):
            yield idx.tolist()


@dataclass
class Monitor:
    """Evaluation and checkpoints during contrastive training, for callers that ask for them
    (`textune.setfit`'s eval_strategy / save_strategy / load_best_model_at_end).

    `evaluate(encoder, step)` scores the body as it is now (e.g. a head fitted on its embeddings, or
    the contrastive loss on held-out rows); the engine keeps the weights best by `metric`
    and restores them at the end when `keep_best`. `save(encoder, step)` writes a checkpoint.
    Intervals are in this method's optimizer steps; None: never.
    """

    evaluate: Callable[[Encoder, int], dict] | None = None
    eval_every: int | None = None
    metric: str = "accuracy"
    greater_is_better: bool = True
    keep_best: bool = False
    save: Callable[[Encoder, int], None] | None = None
    save_every: int | None = None


class ContrastiveTask:
    """The engine's view of contrastive training: index batches and the pair loss."""

    def __init__(self, encoder: Encoder, ex: Examples, y: np.ndarray, batch_size: int,
                 steps: int, loss: str, seed: int, monitor: Monitor | None = None,
                 max_length: int | None = None):
        self.encoder, self.ex, self.y = encoder, ex, y
        self.max_length = max_length
        self.model = encoder.model
        from ..engine.losses import LOSSES

        self.batch_sampler = BalancedBatches(y, batch_size, steps, seed)
        self.loss_fn = LOSSES[loss]
        self.monitor, self.step = monitor, 0
        if monitor is not None and monitor.evaluate is not None:
            self.evaluate = lambda model: monitor.evaluate(encoder, self.step)

    def after_step(self, model, step: int) -> None:
        self.step = step
        m = self.monitor
        if m is not None and m.save is not None and m.save_every and step % m.save_every == 0:
            m.save(self.encoder, step)

    def train_loader(self):
        import torch

        return torch.utils.data.DataLoader(range(len(self.y)), batch_sampler=self.batch_sampler,
                                           collate_fn=torch.as_tensor)

    def loss(self, model, idx: torch.Tensor) -> torch.Tensor:
        import torch

        idx = idx.cpu().numpy()
        texts = [self.ex.texts[i] for i in idx]
        pairs = None if self.ex.text_pairs is None else [self.ex.text_pairs[i] for i in idx]
        # a window of each long text, drawn per step from the global generator, which the
        # engine seeds and a checkpoint restores: runs and resumed runs draw the same windows
        window = dict(max_length=self.max_length,
                      rng=np.random.default_rng(np.random.randint(2**31)))
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            # DDP syncs gradients through its own forward, and only once per backward.
            emb = self.encoder.forward(texts, pairs, bucket_size=len(texts), module=model,
                                       **window)
        else:
            emb = self.encoder.forward(texts, pairs, **window)
        with torch.autocast(emb.device.type, enabled=False):  # cosines in fp32
            return self.loss_fn(emb.float(), torch.as_tensor(self.y[idx], device=emb.device))


@dataclass
class SetFitConfig(AdapterConfig, HeadConfig, VerbalizerConfig, AnchorConfig, LongTextConfig,
                   LoopConfig):
    steps: int | None = knob(
        None, "contrastive optimizer steps (None: `epochs` passes, 20 to 2,000)",
        doc="setfit: contrastive optimizer steps (default: --epochs passes, 20 to 2000). "
        "More steps trade time for accuracy.", example="--steps 40")
    loss: str = knob("cosine", f"contrastive loss: {', '.join(LOSS_NAMES)}",
                     check=one_of(*LOSS_NAMES), cli=False)
    train_max_length: int | None = knob(
        64, "tokens per text in the contrastive phase: a longer text is read through one "
        "random window per step (None: max_length; pairs: always max_length); the head and "
        "prediction read max_length",
        doc="setfit: tokens per text in the contrastive phase; a longer text is read through "
        "one random window per step, so long documents train as fast as sentences and a "
        "step costs the same however long the texts are (the head and prediction read "
        "--max-length, or every window with --long-text chunk; text pairs always read "
        "--max-length). None (on the command line 0): --max-length.",
        example="--train-max-length 128",
        check=at_least(8, "must be at least 8 tokens (or None: max_length)", none=True))
    freeze_layers: int = knob(
        0, "lowest transformer layers left untrained in the contrastive phase (their "
        "backward pass is skipped)",
        doc="setfit: leave the lowest N transformer layers untrained in the contrastive "
        "phase (their backward pass is skipped).", example="--freeze-layers 3",
        check=at_least(0, "must be 0 or more"))


class SetFit(Method):
    name = "setfit"
    summary = ("contrastive fine-tuning of the sentence encoder, then a logistic-regression "
               "head (8-64 examples per class)")
    config = SetFitConfig
    multi_label = True  # label sets: a one-vs-rest head
    tunes_thresholds = True  # on out-of-fold heads over the trained body (`held_out`)
    checkpoints = True  # trains on the engine: checkpoints and resume

    def fit(self, cfg: SetFitConfig, ex: Examples, y: np.ndarray,
            monitor: Monitor | None = None, checkpoint=None):
        from ..models.backbones import refuse_static
        from .encoder_head import fit_head, load_encoder

        refuse_static(cfg.model, "setfit")
        ex, y, n_anchors = add_label_anchors(ex, y, cfg.label_anchors, cfg.verbalizers)
        encoder = load_encoder(cfg, ex)
        stats = self.train_body(encoder, ex, cfg, ex.classes, monitor, added=n_anchors,
                                checkpoint=checkpoint)
        model, head_stats = fit_head(encoder, ex, y, cfg)
        return model, {**stats, **head_stats, "label_anchors": n_anchors}

    def held_out(self, cfg: SetFitConfig, ex: Examples, y: np.ndarray, model):
        """Probabilities for tuning thresholds: out-of-fold heads on the trained body."""
        from .encoder_head import held_out_head

        return held_out_head(model, ex, y, cfg)

    def train_body(self, encoder: Encoder, ex: Examples, cfg: SetFitConfig,
                   classes: list | None = None, monitor: Monitor | None = None,
                   added: int = 0, checkpoint=None) -> dict:
        """Contrastive training of `encoder`'s body on `ex`. `added`: texts textune added
        (label anchors), which join the batches but do not lengthen the default schedule.
        `checkpoint` (an `engine.Checkpointing`): checkpoints of this training, and resume."""
        from .. import engine

        ex, n_dup, n_conflict = ex.deduplicated()
        if n_dup:
            log.info("removed %d duplicate texts before contrastive training", n_dup)
        if n_conflict:
            log.warning("%d texts appear with more than one label; contrastive training keeps "
                        "the first label of each.", n_conflict)
        # label sets: pairs are positive when their label sets overlap
        y = ex.label_ids(classes)
        n = len(ex)
        default_batch, default_lr = multi_label_defaults(ex)
        batch_size, steps = schedule(n - added, cfg.batch_size or default_batch, cfg.steps,
                                     default_epochs(ex) if cfg.epochs is None else cfg.epochs)
        # The word-embedding table is half of MiniLM's weights but gets sparse, tiny updates
        # from a few hundred tokens; freezing it cut step time ~15% at equal accuracy (SST-2).
        frozen = encoder.freeze_input_embeddings() + encoder.freeze_bottom_layers(
            cfg.freeze_layers)
        engine.seed_everything(cfg.seed)
        lora = _add_lora(encoder, cfg) if cfg.peft else None
        loop = engine.TrainConfig(
            max_steps=steps, learning_rate=cfg.learning_rate or default_lr,
            warmup_ratio=cfg.warmup_ratio, max_grad_norm=None, grad_accum=cfg.grad_accum,
            mixed_precision=cfg.bf16, seed=cfg.seed, progress=cfg.show_progress,
            desc="contrastive")
        if monitor is not None:
            loop.eval_every = monitor.eval_every or steps + 1
            loop.metric, loop.greater_is_better = monitor.metric, monitor.greater_is_better
            loop.keep_best = monitor.keep_best
        result = engine.fit(ContrastiveTask(encoder, ex, y, batch_size, steps, cfg.loss,
                                            cfg.seed, monitor, cfg.train_max_length), loop,
                            checkpoint=checkpoint)
        if lora is not None:
            trainable = lora
            _merge_lora(encoder)
        else:
            trainable = sum(p.numel() for p in encoder.model.parameters() if p.requires_grad)
        for p in frozen:
            p.requires_grad_(True)
        encoder.model.eval()
        stats = {"contrastive_steps": result.steps, "batch_size": batch_size,
                 "contrastive_seconds": result.seconds, "distinct_texts": n,
                 "duplicates_removed": n_dup, "body_trainable_parameters": trainable,
                 "loss_first": result.loss_first, "loss_last": result.loss_last,
                 "resumed_from": result.resumed_from, "health_warnings": result.warnings}
        if result.history:
            stats["evaluations"] = result.history
            stats["best_evaluation"] = result.best if loop.keep_best else None
        log.info("contrastive training: %d steps over %d distinct texts in %.1fs",
                 result.steps, n, result.seconds)
        return stats


def _add_lora(encoder: Encoder, cfg) -> int:
    """Wrap the body's transformer in a peft adapter; return its trainable parameters."""
    from peft import get_peft_model

    from ..models.adapters import PROMPT_METHODS, peft_config, trainable_counts

    if cfg.peft in PROMPT_METHODS:
        raise ValueError(f"--method setfit takes weight adapters (--peft lora or ia3); "
                         f"'{cfg.peft}' adds virtual tokens, which mean pooling would average "
                         "into every embedding. Use --method peft --peft "
                         f"{cfg.peft} instead.")
    module = encoder.model[0]
    hf = module.model
    module.model = get_peft_model(hf, peft_config(cfg.peft, "FEATURE_EXTRACTION",
                                                  hf.config.model_type, r=cfg.lora_r))
    trainable, total = trainable_counts(module.model)
    log.info("setfit + %s: %s trainable body parameters of %s (%.2f%%)", cfg.peft,
             f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    return trainable


def _merge_lora(encoder: Encoder) -> None:
    """Fold the adapter into the body: the saved artifact, ONNX export and serving stay the
    same as for a fully trained body."""
    module = encoder.model[0]
    module.model = module.model.merge_and_unload()
