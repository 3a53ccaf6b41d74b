"""One training loop for every method, on `accelerate`.

A method hands the engine a `Task`: the model, a DataLoader of training batches and a loss
for one batch (plus, optionally, an evaluation on a validation split). The engine does the
rest the same way for all of them: device placement, bf16 autocast where the hardware has it,
gradient accumulation, AdamW with warmup and linear decay, evaluation every epoch (or every N
steps), early stopping, restoring the best weights, seeding, progress bars and the training
health checks (`health.py`). Started with `accelerate launch --num_processes N`, the same code
trains data-parallel (DDP) with no change.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from . import health

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Knobs of the loop; every method fills in its own defaults."""

    epochs: float = 3.0
    max_steps: int | None = None          # optimizer updates; overrides `epochs`
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    grad_accum: int = 1
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "auto"         # "auto" (bf16 where fast), "bf16", "fp16", "no"
    eval_every: int | None = None         # optimizer updates between evaluations; None: epoch
    patience: int | None = None           # evaluations without improvement before stopping
    metric: str = "accuracy"              # validation metric that picks the best weights
    greater_is_better: bool = True        # False for a loss used as `metric`
    keep_best: bool = True                # restore the best weights at the end (else the last)
    seed: int = 0
    progress: bool = False
    desc: str = "training"
    class_names: list[str] | None = None  # label names for warnings, in class-id order


class Task(Protocol):
    """What a method gives the engine."""

    model: torch.nn.Module

    def train_loader(self) -> torch.utils.data.DataLoader: ...

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor: ...

    # Optional: `after_step(model, step)` after each optimizer update (e.g. checkpoints);
    # `evaluate(model) -> {"accuracy", "f1_macro", "pred": class ids}` on the
    # validation split; `train_label_ids` (np.ndarray) and `predict_train(model)` (class ids
    # for the same rows, used when there is no validation split) for the collapse check.


class ClassifierTask:
    """What tasks whose model predicts class probabilities share: batches of row indices,
    scores on the validation split, and predictions on training rows for the collapse check.
    Subclasses set `model` and `predictor` (anything with `predict_proba(texts, pairs)`) and
    define `loss`."""

    def __init__(self, texts, pairs, y, batch_sampler, val=None):
        self.rows = (texts, pairs)
        self.y = self.train_label_ids = y
        self.batch_sampler = batch_sampler
        self.val = val  # (texts, pairs, label ids) or None
        if val is None:
            self.evaluate = None

    def collate(self, idx: list[int]):
        return torch.as_tensor(idx)

    def train_loader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(range(len(self.y)), batch_sampler=self.batch_sampler,
                                           collate_fn=self.collate)

    @property
    def multi_label(self) -> bool:
        """Labels are a (rows, labels) 0/1 matrix rather than class ids."""
        return np.ndim(self.y) == 2

    def predict_train(self, model, limit: int = 256):
        if self.multi_label:  # the collapse check is about one class for every row
            return None
        texts, pairs = self.rows  # a sample is enough to see a collapse
        pairs = None if pairs is None else pairs[:limit]
        return self.predictor.predict_proba(texts[:limit], pairs).argmax(axis=1)

    def evaluate(self, model) -> dict:
        from sklearn.metrics import accuracy_score, f1_score

        texts, pairs, y = self.val
        proba = self.predictor.predict_proba(texts, pairs)
        if self.multi_label:  # labels at 0.5; micro-F1 picks the best weights
            pred = (proba >= 0.5).astype(int)
            return {"f1_micro": float(f1_score(y, pred, average="micro", zero_division=0)),
                    "f1_macro": float(f1_score(y, pred, average="macro", zero_division=0)),
                    "subset_accuracy": float(accuracy_score(y, pred))}
        pred = proba.argmax(axis=1)
        return {"accuracy": float(accuracy_score(y, pred)),
                "f1_macro": float(f1_score(y, pred, average="macro")), "pred": pred}


@dataclass
class TrainResult:
    steps: int = 0
    epochs: float = 0.0
    seconds: float = 0.0
    examples_per_second: float = 0.0
    history: list[dict] = field(default_factory=list)
    best: dict | None = None
    stopped_early: bool = False
    warnings: list[str] = field(default_factory=list)
    loss_first: float | None = None  # the first and the last optimizer step's loss
    loss_last: float | None = None
    last_pred: Any = None  # class ids predicted at the last evaluation
    num_processes: int = 1
    resumed_from: int | None = None  # the step of the checkpoint this run resumed from

    def as_dict(self) -> dict:
        return {"steps": self.steps, "epochs": round(self.epochs, 3),
                "engine_seconds": self.seconds,
                "examples_per_second": self.examples_per_second, "history": self.history,
                "loss_first": self.loss_first, "loss_last": self.loss_last,
                "best": self.best, "stopped_early": self.stopped_early,
                "num_processes": self.num_processes, "resumed_from": self.resumed_from,
                "health_warnings": self.warnings}


def mixed_precision(setting: str | bool) -> str:
    """Resolve "auto" to bf16 where the device has fast bf16 matrix units, else "no"."""
    from .device import bf16_supported, default_device

    if setting in (True, "bf16"):
        return "bf16"
    if setting in (False, "no", None):
        return "no"
    if setting == "fp16":
        return "fp16"
    return "bf16" if bf16_supported(default_device()) else "no"


def adamw(named_params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Fused AdamW (one kernel for all parameters, 5x faster step than a Python loop); biases
    and norm weights are not decayed, the BERT convention `transformers.Trainer` follows."""
    decay, no_decay = [], []
    for name, p in named_params:
        (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # an older torch or an unsupported device
        return torch.optim.AdamW(groups, lr=lr)


def warmup_linear(opt: torch.optim.Optimizer, total: int, warmup: int):
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warmup) if s < warmup
        else max(0.0, (total - s) / max(1, total - warmup)))


def fit(task: Task, cfg: TrainConfig, *, examples_per_batch: Callable[[Any], int] | None = None
        ) -> TrainResult:
    """Train `task.model` in place; return the history. The best weights (by `cfg.metric` on
    the validation split, when the task has one) are restored at the end. Under an active
    `checkpoint.checkpointing(...)` the run writes checkpoints and can resume from one."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from . import checkpoint

    ck = checkpoint.take()
    set_seed(cfg.seed)
    acc = _accelerator(cfg)
    model = task.model
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    trainable = {n for n, _ in named}
    params = [p for _, p in named]
    opt = adamw(named, cfg.learning_rate, cfg.weight_decay)
    loader = task.train_loader()
    model, opt, loader = acc.prepare(model, opt, loader)
    if acc.num_processes == 1:
        # Autocast comes from `acc.autocast()` around each loss; take off the second layer
        # that prepare() wraps around forward, which also copies every output (token
        # embeddings included) back to fp32 at each call: ~10% of a few-shot setfit step.
        acc.unwrap_model(model, keep_fp32_wrapper=False)
    # Schedule in this process's optimizer updates: in DDP every process updates in lockstep.
    per_epoch = max(1, math.ceil(len(loader) / cfg.grad_accum))
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
    sched = warmup_linear(opt, total, math.ceil(cfg.warmup_ratio * total))
    evaluate = getattr(task, "evaluate", None)
    after_step = getattr(task, "after_step", None)
    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    # the loop's bookkeeping, all of it in a checkpoint
    st = {"epoch": 0, "batches": 0,        # the sampler's position: epoch, batches consumed
          "window": [],                    # losses since the last progress update
          "epoch_sum": 0.0, "epoch_count": 0,
          "epoch_losses": [],              # mean training loss of each epoch
          "n_examples": 0, "bad_evals": 0, "seconds": 0.0}
    rng = None
    if ck is not None:
        ck.settings = {**ck.settings, "processes": acc.num_processes, "total_steps": total}
        resume_from = ck.start()
        if resume_from is not None:
            best_state, rng = _restore(checkpoint.read(resume_from, acc.process_index), acc,
                                       model, opt, sched, st, result, trainable)
            log.info("resuming from %s (step %d of %d)", resume_from, result.steps, total)
    show = cfg.progress and acc.is_local_main_process
    bar = tqdm(total=total, initial=result.steps, desc=cfg.desc, unit="step",
               disable=not show, leave=False)
    window = [torch.tensor(v, device=acc.device) for v in st["window"]]
    t0 = time.perf_counter() - st["seconds"]

    def run_eval(epoch: float) -> bool:
        """Evaluate, keep the best weights; return True when patience has run out."""
        nonlocal best_state
        inner = acc.unwrap_model(model)
        inner.eval()
        with torch.inference_mode(), acc.autocast():
            scores = evaluate(inner)
        inner.train()
        losses = st["epoch_losses"]
        record = {"step": result.steps, "epoch": round(epoch, 3),
                  "train_loss": round(losses[-1], 5) if losses else None,
                  **{k: v for k, v in scores.items() if k != "pred"}}
        result.history.append(record)
        bar.set_postfix(loss=record["train_loss"], **{cfg.metric: f"{scores[cfg.metric]:.3f}"})
        sign = 1 if cfg.greater_is_better else -1
        if result.best is None or sign * scores[cfg.metric] > sign * result.best[cfg.metric]:
            result.best = record
            if cfg.keep_best:
                best_state = {n: t.detach().to("cpu", copy=True)
                              for n, t in inner.state_dict().items() if n in trainable}
            st["bad_evals"] = 0
        else:
            st["bad_evals"] += 1
        result.last_pred = scores.get("pred")
        return cfg.patience is not None and st["bad_evals"] >= cfg.patience

    def save_checkpoint() -> Path:
        inner = acc.unwrap_model(model)
        state = {**st, "window": [w.item() for w in window],
                 "seconds": time.perf_counter() - t0, "accelerator_step": acc.step,
                 "steps": result.steps, "history": result.history, "best": result.best,
                 "loss_first": result.loss_first,
                 "loss_last": None if loss is None else loss.item(),
                 "last_pred": None if result.last_pred is None
                 else np.asarray(result.last_pred).tolist(),
                 "scheduler": sched.state_dict(),
                 "scaler": None if acc.scaler is None else acc.scaler.state_dict()}
        return checkpoint.write(
            ck, result.steps, rank=acc.process_index, is_main=acc.is_main_process,
            weights={n: t for n, t in inner.state_dict().items() if n in trainable},
            best=best_state, optimizer=opt.state_dict(), state=state)

    model.train()
    stop = diverged = False
    loss = None
    with ck.signals() if ck is not None else contextlib.nullcontext():
        while not stop and result.steps < total:
            sampler = getattr(task, "batch_sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(st["epoch"])
            if hasattr(loader, "set_epoch"):  # accelerate's loader re-sets it from its own count
                loader.set_epoch(st["epoch"])
            batches = iter(loader)
            for _ in range(st["batches"]):  # resuming: batches this epoch already trained on
                next(batches)
            if rng is not None:  # after the loader drew its seed, as the first run did
                checkpoint.restore_rng(rng)
                rng = None
            for batch in batches:
                with acc.accumulate(model):
                    with acc.autocast():
                        loss = task.loss(model, batch)
                    acc.backward(loss)
                    if acc.sync_gradients and cfg.max_grad_norm:
                        acc.clip_grad_norm_(params, cfg.max_grad_norm)
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                window.append(loss.detach().float())
                st["batches"] += 1
                st["epoch_count"] += 1
                st["n_examples"] += examples_per_batch(batch) if examples_per_batch else 0
                if not acc.sync_gradients:
                    continue
                sched.step()
                result.steps += 1
                if result.steps == 1:
                    result.loss_first = loss.item()
                bar.update(1)
                if result.steps % 10 == 0 or result.steps == total:
                    value = torch.stack(window).sum().item()
                    st["epoch_sum"] += value
                    value /= len(window)
                    window.clear()
                    bar.set_postfix(loss=f"{value:.4f}")
                    if not math.isfinite(value):
                        stop = diverged = True
                        break
                if after_step is not None:
                    after_step(acc.unwrap_model(model), result.steps)
                if evaluate and cfg.eval_every and result.steps % cfg.eval_every == 0:
                    if run_eval(result.steps / per_epoch):
                        stop = True
                        break
                if result.steps >= total:
                    break
                # 0: no checkpoint, 1: one is due, a signal number: one was received; the
                # largest over all processes, so every one writes and stops together
                code = 0 if ck is None else _agree(
                    acc, ck.interrupted or int(ck.due(result.steps)))
                if code:
                    path = save_checkpoint()
                    if code > 1:
                        bar.close()
                        raise checkpoint.TrainingInterrupted(code, result.steps, total, path)
            st["epoch"] += 1
            st["batches"] = 0
            if window:
                st["epoch_sum"] += torch.stack(window).sum().item()
                window.clear()
            if st["epoch_count"]:
                st["epoch_losses"].append(st["epoch_sum"] / st["epoch_count"])
                st["epoch_sum"], st["epoch_count"] = 0.0, 0
                if not math.isfinite(st["epoch_losses"][-1]):
                    stop = diverged = True
            if evaluate and not cfg.eval_every and not stop:
                stop = run_eval(st["epoch"])
    bar.close()
    result.seconds = time.perf_counter() - t0
    result.loss_last = result.loss_last if loss is None else loss.item()
    result.epochs = result.steps / per_epoch
    result.stopped_early = stop and result.steps < total
    result.examples_per_second = st["n_examples"] * acc.num_processes / max(result.seconds, 1e-9)

    # keep_fp32_wrapper=False takes off the autocast accelerate put around forward, so the
    # trained model predicts in full precision, exactly as it will after save and load.
    inner = acc.unwrap_model(model, keep_fp32_wrapper=False)
    if best_state is not None and cfg.keep_best:
        inner.load_state_dict(best_state, strict=False)
        log.info("restored the best weights (%s %.4f at step %d)", cfg.metric,
                 result.best[cfg.metric], result.best["step"])
    elif diverged:
        raise health.TrainingDiverged(health.NAN_ADVICE.format(lr=cfg.learning_rate))
    inner.eval()
    checked_on = "validation"
    if result.last_pred is None and hasattr(task, "predict_train"):
        with torch.inference_mode():  # no validation split: check the fit on training rows
            result.last_pred = task.predict_train(inner)
        checked_on = "training"
    result.num_processes = acc.num_processes
    result.warnings = health.check(
        losses=st["epoch_losses"], pred=result.last_pred,
        train_labels=getattr(task, "train_label_ids", None), lr=cfg.learning_rate,
        checked_on=checked_on, class_names=cfg.class_names, diverged=diverged)
    for w in result.warnings:
        log.warning(w)
    return result


def _restore(saved, acc, model, opt, sched, st: dict, result: TrainResult,
             trainable: set) -> tuple[dict | None, dict]:
    """Load a checkpoint into the prepared model, optimizer and schedule and the loop's
    bookkeeping; return the best weights so far and the RNG states (restored later)."""
    inner = acc.unwrap_model(model)
    missing = trainable - set(saved.weights)
    if missing:
        raise ValueError(f"the checkpoint lacks trained weights for {sorted(missing)[:3]}; "
                         "it was written for a different model. Remove the folder to start "
                         "over.")
    inner.load_state_dict(saved.weights, strict=False)
    opt.load_state_dict(saved.optimizer)
    sched.load_state_dict(saved.state["scheduler"])
    if acc.scaler is not None and saved.state.get("scaler"):
        acc.scaler.load_state_dict(saved.state["scaler"])
    acc.step = saved.state["accelerator_step"]
    for key in st:
        st[key] = saved.state[key]
    result.steps = saved.state["steps"]
    result.history = saved.state["history"]
    result.best = saved.state["best"]
    result.loss_first = saved.state["loss_first"]
    result.loss_last = saved.state.get("loss_last")
    if saved.state["last_pred"] is not None:
        result.last_pred = np.asarray(saved.state["last_pred"])
    result.resumed_from = result.steps
    return saved.best, saved.rng


def _agree(acc, code: int) -> int:
    """The largest `code` over all processes: one decision for every process (a signal or a
    clock may reach them at different steps; a checkpoint needs all of them)."""
    if acc.num_processes == 1:
        return code
    t = torch.tensor([int(code)], device=acc.device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return int(t.item())


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch before a method builds its model, so that a fresh head
    or adapter starts from the same weights for the same seed."""
    from accelerate.utils import set_seed

    set_seed(seed)


def _accelerator(cfg: TrainConfig):
    """A fresh Accelerator for this run.

    accelerate keeps its settings in process-wide singletons that refuse a second, different
    `mixed_precision`; a library trains many models in one process (compare, tests), so reset
    them, keeping the distributed state (`PartialState`) that `accelerate launch` set up.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    from .device import default_device

    # cpu=True where there is no GPU: `accelerate launch` processes then join over gloo.
    return Accelerator(mixed_precision=mixed_precision(cfg.mixed_precision),
                       gradient_accumulation_steps=cfg.grad_accum,
                       step_scheduler_with_optimizer=False,
                       cpu=default_device().type == "cpu",
                       # some weights get no gradient (a sentence encoder's unused pooler,
                       # a frozen base around an adapter); DDP must not wait for them
                       kwargs_handlers=[DistributedDataParallelKwargs(
                           find_unused_parameters=True)])
