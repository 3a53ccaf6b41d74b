"""One training loop for every method, on `accelerate`.

A method hands the engine a `Task` (`task.py`): the model, a DataLoader of training batches
and a loss for one batch (plus, optionally, an evaluation on a validation split). The engine
does the rest the same way for all of them: device placement, bf16 autocast where the
hardware has it, gradient accumulation, AdamW with warmup and linear decay, evaluation every
epoch (or every N steps), early stopping, restoring the best weights, seeding, progress bars,
checkpoints and resume (`checkpoint.py`) and the training health checks (`health.py`).
Started with `accelerate launch --num_processes N`, the same code trains data-parallel (DDP)
with no change.

`fit` reads top to bottom, like nanoGPT's train.py: set up once (`_prepare`), resume if asked,
then epochs of steps. All that the loop knows between two steps is one `LoopState`, which is
also what a checkpoint holds besides the weights, the optimizer and the RNG states.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import checkpoint as checkpoints
from . import health
from .checkpoint import Checkpointing
from .task import ClassifierTask, Task  # noqa: F401  (methods and models import them here)

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


@dataclass
class LoopState:
    """Everything the loop knows between two optimizer steps. The fields up to `last_pred`
    are a checkpoint's `state.json` (with the schedule's); the rest live in one process."""

    steps: int = 0                    # optimizer updates done
    epoch: int = 0                    # the sampler's position: the epoch, and the batches
    batches: int = 0                  # of it already trained on
    window: list = field(default_factory=list)  # losses since the last progress update
    epoch_sum: float = 0.0            # this epoch's losses so far: their sum and count
    epoch_count: int = 0
    epoch_losses: list[float] = field(default_factory=list)  # mean loss of each epoch
    n_examples: int = 0
    bad_evals: int = 0                # evaluations since the best one (early stopping)
    seconds: float = 0.0              # training time before this process (a resumed run)
    history: list[dict] = field(default_factory=list)  # one record per evaluation
    best: dict | None = None          # the best evaluation's record
    loss_first: float | None = None   # the first optimizer step's loss
    loss_last: Any = None             # the last one's: a tensor while training (no sync)
    last_pred: Any = None             # class ids predicted at the last evaluation
    # in this process only (the best weights go to a checkpoint's best.safetensors)
    best_weights: dict | None = None  # the trainable weights at `best`
    resumed_from: int | None = None   # the step of the checkpoint this run resumed from
    t0: float = 0.0                   # perf_counter() when training would have started
    stop: bool = False
    diverged: bool = False

    def to_json(self) -> dict:
        """The JSON part of a checkpoint."""
        return {**{name: getattr(self, name) for name in _SAVED},
                "window": [w.item() for w in self.window],
                "seconds": time.perf_counter() - self.t0,
                "loss_last": None if self.loss_last is None else float(self.loss_last),
                "last_pred": None if self.last_pred is None
                else np.asarray(self.last_pred).tolist()}

    @classmethod
    def from_json(cls, state: dict, device) -> LoopState:
        st = cls(**{k: state[k] for k in _SAVED if k in state})  # older ones lack loss_last
        st.window = [torch.tensor(v, device=device) for v in st.window]
        if st.last_pred is not None:
            st.last_pred = np.asarray(st.last_pred)
        return st


_SAVED = [f.name for f in dataclasses.fields(LoopState)
          if f.name not in ("best_weights", "resumed_from", "t0", "stop", "diverged")]


@dataclass
class Run:
    """What `fit` sets up once: the accelerator and the model, optimizer, loader and schedule
    it prepared, and the length of the schedule in optimizer steps."""

    acc: Any
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    loader: Any
    sched: Any
    params: list            # the trainable parameters (gradient clipping)
    trainable: set[str]     # and their names (checkpoints, the best weights)
    per_epoch: int          # optimizer steps per epoch (in DDP: per process, in lockstep)
    total: int


def fit(task: Task, cfg: TrainConfig, *, checkpoint: Checkpointing | None = None,
        examples_per_batch: Callable[[Any], int] | None = None) -> TrainResult:
    """Train `task.model` in place; return the history. The best weights (by `cfg.metric` on
    the validation split, when the task has one) are restored at the end. With `checkpoint`
    the run writes checkpoints, stops after writing one on SIGINT/SIGTERM, and resumes from
    the newest one when `checkpoint.resume` (ending exactly as the run that never stopped)."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    set_seed(cfg.seed)
    run = _prepare(task, cfg)
    st, rng = _resume(checkpoint, run) if checkpoint is not None else (LoopState(), None)
    st.t0 = time.perf_counter() - st.seconds
    evaluates = getattr(task, "evaluate", None) is not None
    after_step = getattr(task, "after_step", None)
    bar = tqdm(total=run.total, initial=st.steps, desc=cfg.desc, unit="step", leave=False,
               disable=not (cfg.progress and run.acc.is_local_main_process))
    signals = checkpoint.signals() if checkpoint is not None else contextlib.nullcontext()
    run.model.train()
    with bar, signals:
        while not st.stop and st.steps < run.total:
            batches = _epoch_batches(task, run, st)
            if rng is not None:  # after the loader drew its seed, as the first run did
                checkpoints.restore_rng(rng)
                rng = None
            for batch in batches:
                st.loss_last = _train_step(task, cfg, run, batch)
                st.window.append(st.loss_last.float())
                st.batches += 1
                st.epoch_count += 1
                st.n_examples += examples_per_batch(batch) if examples_per_batch else 0
                if not run.acc.sync_gradients:
                    continue  # accumulating gradients: no optimizer update yet
                run.sched.step()
                st.steps += 1
                if st.steps == 1:
                    st.loss_first = st.loss_last.item()
                bar.update(1)
                if st.steps % 10 == 0 or st.steps == run.total:
                    _report_loss(run.acc, st, bar)
                    if st.stop:
                        break
                if after_step is not None:
                    after_step(run.acc.unwrap_model(run.model), st.steps)
                if evaluates and cfg.eval_every and st.steps % cfg.eval_every == 0:
                    _evaluate(task, cfg, run, st, bar, st.steps / run.per_epoch)
                    if st.stop:
                        break
                if st.steps >= run.total:
                    break
                if checkpoint is not None:
                    _checkpoint_if_due(checkpoint, run, st)
            _end_epoch(run.acc, st)
            if evaluates and not cfg.eval_every and not st.stop:
                _evaluate(task, cfg, run, st, bar, st.epoch)
    return _finish(task, cfg, run, st)


def _prepare(task: Task, cfg: TrainConfig) -> Run:
    """The accelerator, the optimizer over the trainable weights, the loader, the schedule."""
    acc = _accelerator(cfg)
    named = [(n, p) for n, p in task.model.named_parameters() if p.requires_grad]
    opt = adamw(named, cfg.learning_rate, cfg.weight_decay)
    model, opt, loader = acc.prepare(task.model, opt, task.train_loader())
    if acc.num_processes == 1:
        # Autocast comes from `acc.autocast()` around each loss; take off the second layer
        # that prepare() wraps around forward, which also copies every output (token
        # embeddings included) back to fp32 at each call: ~10% of a few-shot setfit step.
        acc.unwrap_model(model, keep_fp32_wrapper=False)
    # Schedule in this process's optimizer updates: in DDP every process updates in lockstep.
    per_epoch = max(1, math.ceil(len(loader) / cfg.grad_accum))
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))
    sched = warmup_linear(opt, total, math.ceil(cfg.warmup_ratio * total))
    return Run(acc, model, opt, loader, sched, params=[p for _, p in named],
               trainable={n for n, _ in named}, per_epoch=per_epoch, total=total)


def _epoch_batches(task: Task, run: Run, st: LoopState):
    """This epoch's batches, reshuffled by epoch, past those already trained on (resume)."""
    sampler = getattr(task, "batch_sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(st.epoch)
    if hasattr(run.loader, "set_epoch"):  # accelerate's loader re-sets it from its own count
        run.loader.set_epoch(st.epoch)
    batches = iter(run.loader)
    for _ in range(st.batches):
        next(batches)
    return batches


def _train_step(task: Task, cfg: TrainConfig, run: Run, batch) -> torch.Tensor:
    """Forward and backward on one batch; the optimizer steps when accumulation is done.
    Returns the loss, detached."""
    acc = run.acc
    with acc.accumulate(run.model):
        with acc.autocast():
            loss = task.loss(run.model, batch)
        acc.backward(loss)
        if acc.sync_gradients and cfg.max_grad_norm:
            acc.clip_grad_norm_(run.params, cfg.max_grad_norm)
        run.opt.step()
        run.opt.zero_grad(set_to_none=True)
    return loss.detach()


def _report_loss(acc, st: LoopState, bar) -> None:
    """The mean loss since the last report, on the progress bar; NaN or inf stops training.
    (Every 10 steps: reading a loss waits for the device.)"""
    value = _launch_sum(acc, st.window)
    st.epoch_sum += value
    value /= len(st.window)
    st.window.clear()
    bar.set_postfix(loss=f"{value:.4f}")
    if not math.isfinite(value):
        st.stop = st.diverged = True


def _launch_sum(acc, window: list) -> float:
    """The sum of the losses in `window`, averaged over the processes of a launch.

    The loss that decides "NaN or inf: stop" is the same on every process, so all of them
    stop at the same step and raise the same error. Decided on its own loss, one process
    stopped while the others went on into the next step's all-reduce and waited for it until
    the process-group timeout. One all-reduce of one number, which carries the decision too:
    a NaN or inf on any process makes the sum non-finite. One process: no sync beyond the
    read of the loss."""
    if acc.num_processes == 1:
        return torch.stack(window).sum().item() if window else 0.0
    total = (torch.stack(window).sum() if window else torch.zeros((), device=acc.device))
    total = total.double().reshape(1)
    torch.distributed.all_reduce(total)  # SUM
    return total.item() / acc.num_processes


def _evaluate(task: Task, cfg: TrainConfig, run: Run, st: LoopState, bar,
              epoch: float) -> None:
    """Score the validation split, keep the best weights; stop when patience runs out."""
    inner = run.acc.unwrap_model(run.model)
    inner.eval()
    with torch.inference_mode(), run.acc.autocast():
        scores = task.evaluate(inner)
    inner.train()
    record = {"step": st.steps, "epoch": round(epoch, 3),
              "train_loss": round(st.epoch_losses[-1], 5) if st.epoch_losses else None,
              **{k: v for k, v in scores.items() if k != "pred"}}
    st.history.append(record)
    bar.set_postfix(loss=record["train_loss"], **{cfg.metric: f"{scores[cfg.metric]:.3f}"})
    sign = 1 if cfg.greater_is_better else -1
    if st.best is None or sign * scores[cfg.metric] > sign * st.best[cfg.metric]:
        st.best, st.bad_evals = record, 0
        if cfg.keep_best:
            st.best_weights = {n: t.detach().to("cpu", copy=True)
                               for n, t in inner.state_dict().items() if n in run.trainable}
    else:
        st.bad_evals += 1
    st.last_pred = scores.get("pred")
    st.stop = cfg.patience is not None and st.bad_evals >= cfg.patience


def _end_epoch(acc, st: LoopState) -> None:
    """Move the sampler to the next epoch; record this one's mean loss (NaN or inf stops)."""
    st.epoch += 1
    st.batches = 0
    st.epoch_sum += _launch_sum(acc, st.window)  # on every process, even with none left
    st.window.clear()
    if st.epoch_count:
        st.epoch_losses.append(st.epoch_sum / st.epoch_count)
        st.epoch_sum, st.epoch_count = 0.0, 0
        if not math.isfinite(st.epoch_losses[-1]):
            st.stop = st.diverged = True


def _finish(task: Task, cfg: TrainConfig, run: Run, st: LoopState) -> TrainResult:
    """Restore the best weights, run the health checks, and say how training went."""
    acc = run.acc
    seconds = time.perf_counter() - st.t0
    # keep_fp32_wrapper=False takes off the autocast accelerate put around forward, so the
    # trained model predicts in full precision, exactly as it will after save and load.
    inner = acc.unwrap_model(run.model, keep_fp32_wrapper=False)
    if st.best_weights is not None and cfg.keep_best:
        inner.load_state_dict(st.best_weights, strict=False)
        log.info("restored the best weights (%s %.4f at step %d)", cfg.metric,
                 st.best[cfg.metric], st.best["step"])
    elif st.diverged:
        raise health.TrainingDiverged(health.NAN_ADVICE.format(lr=cfg.learning_rate))
    inner.eval()
    checked_on = "validation"
    if st.last_pred is None and hasattr(task, "predict_train"):
        with torch.inference_mode():  # no validation split: check the fit on training rows
            st.last_pred = task.predict_train(inner)
        checked_on = "training"
    warnings = health.check(
        losses=st.epoch_losses, pred=st.last_pred,
        train_labels=getattr(task, "train_label_ids", None), lr=cfg.learning_rate,
        checked_on=checked_on, class_names=cfg.class_names, diverged=st.diverged)
    for w in warnings:
        log.warning(w)
    return TrainResult(
        steps=st.steps, epochs=st.steps / run.per_epoch, seconds=seconds,
        examples_per_second=st.n_examples * acc.num_processes / max(seconds, 1e-9),
        history=st.history, best=st.best, stopped_early=st.stop and st.steps < run.total,
        warnings=warnings, loss_first=st.loss_first,
        loss_last=None if st.loss_last is None else float(st.loss_last),
        last_pred=st.last_pred, num_processes=acc.num_processes,
        resumed_from=st.resumed_from)


# ------------------------------------------------------------------------- checkpoints


def _resume(ck: Checkpointing, run: Run) -> tuple[LoopState, dict | None]:
    """Open the run's checkpoint folder (refusing another run's) and, from its newest
    checkpoint, load the weights, optimizer, schedule and loop state. Returns the state and
    the RNG states, which `fit` restores once the loader has drawn its seed (None: afresh)."""
    acc = run.acc
    ck.settings = {**ck.settings, "processes": acc.num_processes, "total_steps": run.total}
    path = ck.start()
    if path is None:
        return LoopState(), None
    saved = checkpoints.read(path, acc.process_index)
    missing = run.trainable - set(saved.weights)
    if missing:
        raise ValueError(f"the checkpoint lacks trained weights for {sorted(missing)[:3]}; "
                         "it was written for a different model. Remove the folder to start "
                         "over.")
    acc.unwrap_model(run.model).load_state_dict(saved.weights, strict=False)
    run.opt.load_state_dict(saved.optimizer)
    run.sched.load_state_dict(saved.state["scheduler"])
    if acc.scaler is not None and saved.state.get("scaler"):
        acc.scaler.load_state_dict(saved.state["scaler"])
    acc.step = saved.state["accelerator_step"]
    st = LoopState.from_json(saved.state, acc.device)
    st.best_weights, st.resumed_from = saved.best, st.steps
    log.info("resuming from %s (step %d of %d)", path, st.steps, run.total)
    return st, saved.rng


def _checkpoint_if_due(ck: Checkpointing, run: Run, st: LoopState) -> None:
    """Write a checkpoint when one is due; after a signal, then stop (TrainingInterrupted)."""
    # 0: no checkpoint, 1: one is due, a signal number: one was received; the largest over
    # all processes, so every one writes and stops together
    code = _agree(run.acc, ck.interrupted or int(ck.due(st.steps)))
    if not code:
        return
    path = _save(ck, run, st)
    if code > 1:
        raise checkpoints.TrainingInterrupted(code, st.steps, run.total, path)


def _save(ck: Checkpointing, run: Run, st: LoopState) -> Path:
    acc = run.acc
    inner = acc.unwrap_model(run.model)
    state = {**st.to_json(), "accelerator_step": acc.step,
             "scheduler": run.sched.state_dict(),
             "scaler": None if acc.scaler is None else acc.scaler.state_dict()}
    return checkpoints.write(
        ck, st.steps, rank=acc.process_index, is_main=acc.is_main_process,
        weights={n: t for n, t in inner.state_dict().items() if n in run.trainable},
        best=st.best_weights, optimizer=run.opt.state_dict(), state=state)


# ------------------------------------------------------------------- building blocks


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


_EXIT_HOOK: list[bool] = []


def _leave_process_group_at_exit() -> None:
    """Under `accelerate launch`, destroy the process group when the process exits.

    Left to interpreter shutdown, gloo's background threads are torn down in no set order and
    the process can abort after its work is done ("terminate called without an active
    exception", exit -6: seen about one run in eight on 2 busy CPU cores). Destroying the
    group is local, so it needs no partner; registered once, from the first training run."""
    import torch.distributed as dist

    if _EXIT_HOOK or not (dist.is_available() and dist.is_initialized()):
        return
    import atexit

    def leave() -> None:
        if dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - exiting anyway; nothing left to protect
                pass

    atexit.register(leave)
    _EXIT_HOOK.append(True)


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
    acc = Accelerator(mixed_precision=mixed_precision(cfg.mixed_precision),
                      gradient_accumulation_steps=cfg.grad_accum,
                      step_scheduler_with_optimizer=False,
                      cpu=default_device().type == "cpu",
                      # some weights get no gradient (a sentence encoder's unused pooler,
                      # a frozen base around an adapter); DDP must not wait for them
                      kwargs_handlers=[DistributedDataParallelKwargs(
                          find_unused_parameters=True)])
    _leave_process_group_at_exit()  # the Accelerator has joined the group by now
    return acc
