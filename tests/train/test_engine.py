"""The shared training loop: schedule, accumulation, early stopping, best-weights restore,
divergence and collapse detection, length-grouped batches."""

import json
import math

import numpy as np
import pytest
import torch

from textune import engine
from textune.engine import health
from textune.engine.batching import LengthGroupedBatchSampler, length_batches


class ScriptedTask:
    """A real linear model trained on real batches; validation scores follow a script so the
    test knows which evaluation was best."""

    def __init__(self, scores, n=32, batch=4, loss_value=None):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(3, 2)
        self.x = torch.randn(n, 3)
        self.y = (self.x[:, 0] > 0).long()
        self.batch = batch
        self.scores = list(scores)
        self.snapshots = []  # weights at each evaluation
        self.loss_value = loss_value

    def train_loader(self):
        return torch.utils.data.DataLoader(range(len(self.y)), batch_size=self.batch,
                                           collate_fn=torch.as_tensor)

    def loss(self, model, idx):
        out = torch.nn.functional.cross_entropy(model(self.x[idx]), self.y[idx])
        if self.loss_value is not None:
            return out * self.loss_value
        return out

    def evaluate(self, model):
        self.snapshots.append(model.weight.detach().clone())
        acc = self.scores.pop(0) if self.scores else 0.0
        return {"accuracy": acc, "f1_macro": acc, "pred": np.array([0, 1] * 8)}


def test_early_stopping_restores_the_best_epoch():
    task = ScriptedTask([0.5, 0.9, 0.6, 0.7, 0.95])
    cfg = engine.TrainConfig(epochs=5, learning_rate=0.1, patience=2, mixed_precision="no")
    result = engine.fit(task, cfg)
    # epoch 2 was best; epochs 3 and 4 did not beat it -> stop after epoch 4 of 5
    assert [h["accuracy"] for h in result.history] == [0.5, 0.9, 0.6, 0.7]
    assert result.stopped_early and result.steps == 4 * 8
    assert result.best["epoch"] == 2 and result.best["accuracy"] == 0.9
    assert torch.equal(task.model.weight, task.snapshots[1])
    assert not torch.equal(task.snapshots[1], task.snapshots[3])  # weights really moved on


def test_gradient_accumulation_and_step_budget():
    task = ScriptedTask([], n=30, batch=4)  # 8 batches per epoch
    task.evaluate = None
    cfg = engine.TrainConfig(epochs=3, grad_accum=3, learning_rate=0.05, mixed_precision="no")
    result = engine.fit(task, cfg)
    assert result.steps == 3 * math.ceil(8 / 3)
    cfg = engine.TrainConfig(max_steps=5, learning_rate=0.05, mixed_precision="no")
    assert engine.fit(ScriptedTask([], batch=4), cfg).steps == 5


def test_same_seed_same_weights():
    def run():
        task = ScriptedTask([0.5, 0.6])
        engine.fit(task, engine.TrainConfig(epochs=2, seed=7, mixed_precision="no"))
        return task.model.weight.detach().clone()

    assert torch.equal(run(), run())


def test_nan_loss_stops_with_advice():
    task = ScriptedTask([], loss_value=float("nan"))
    task.evaluate = None
    with pytest.raises(health.TrainingDiverged, match="learning rate"):
        engine.fit(task, engine.TrainConfig(epochs=3, mixed_precision="no"))


def test_health_checks_name_symptom_and_remedy():
    balanced = np.array([0, 1] * 50)
    collapsed = health.check(losses=[0.7, 0.8, 0.9, 1.1], pred=np.zeros(50, int),
                             train_labels=balanced, lr=1e-3)
    assert any("rose" in w and "learning rate" in w for w in collapsed)
    assert any("collapsed" in w and "every validation input" in w for w in collapsed)
    healthy = health.check(losses=[0.7, 0.5, 0.3], pred=balanced, train_labels=balanced,
                           lr=5e-5)
    assert healthy == []
    # one class everywhere is expected when the data is that imbalanced
    skewed = np.array([0] * 95 + [1] * 5)
    assert health.check(losses=[0.5, 0.4, 0.3], pred=np.zeros(40, int), train_labels=skewed,
                        lr=5e-5) == []


def test_length_grouped_batches_cover_every_row_once_and_reshuffle():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 200, size=1000)
    sampler = LengthGroupedBatchSampler(lengths, batch_size=16, seed=1)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert len(first) == len(sampler) == 63
    # padding waste inside batches is far below that of random batches
    waste = np.mean([lengths[b].max() - lengths[b].mean() for b in map(np.array, first)])
    assert waste < 10
    assert list(sampler) == first  # same epoch, same batches
    sampler.set_epoch(1)
    assert list(sampler) != first
    # inference batches: longest first, token budget respected
    batches = list(length_batches(lengths, batch_size=64, max_tokens=2048))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(len(b) * lengths[b].max() <= max(2048, lengths[b].max()) for b in batches)


def test_evaluation_every_n_steps():
    task = ScriptedTask([0.1, 0.2, 0.3, 0.4, 0.5])
    cfg = engine.TrainConfig(epochs=2, eval_every=4, learning_rate=0.05, mixed_precision="no")
    result = engine.fit(task, cfg)  # 8 batches per epoch -> evaluations at steps 4, 8, 12, 16
    assert [h["step"] for h in result.history] == [4, 8, 12, 16]
    assert result.best["step"] == 16


class DropoutTask:
    """A real 3-class net with dropout, on batches reshuffled every epoch: each random draw
    (dropout masks, batch order) is one that a resumed run must repeat exactly."""

    def __init__(self, n=36, batch=4):
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Dropout(0.3),
                                         torch.nn.Linear(16, 3))
        g = torch.Generator().manual_seed(1)
        self.x, self.x_val = torch.randn(n, 3, generator=g), torch.randn(12, 3, generator=g)
        self.y, self.y_val = self.x.argmax(1), self.x_val.argmax(1)
        self.batch_sampler = LengthGroupedBatchSampler(np.arange(n) % 5 + 1, batch, seed=2)

    def train_loader(self):
        return torch.utils.data.DataLoader(range(len(self.y)), batch_sampler=self.batch_sampler,
                                           collate_fn=torch.as_tensor)

    def loss(self, model, idx):
        return torch.nn.functional.cross_entropy(model(self.x[idx]), self.y[idx])

    def evaluate(self, model):
        pred = model(self.x_val).argmax(1).numpy()
        acc = float((pred == self.y_val.numpy()).mean())
        return {"accuracy": acc, "f1_macro": acc, "pred": pred}


def _fit(task, cfg, ck=None):
    return engine.fit(task, cfg, checkpoint=ck)


def test_resuming_from_any_checkpoint_ends_as_the_run_that_never_stopped(tmp_path):
    """Weights, history, best evaluation and losses of a resumed run are bit-identical to
    those of one uninterrupted run, whether it stopped on a signal or was killed after any
    checkpoint (accumulation, evaluations mid-epoch, early-stopping counters in flight)."""
    import os
    import shutil
    import signal

    from textune.engine.checkpoint import Checkpointing, TrainingInterrupted, complete

    cfg = engine.TrainConfig(epochs=5, grad_accum=2, eval_every=3, patience=4,
                             learning_rate=0.05, mixed_precision="no", seed=5)

    def outcome(task, result):
        return ([p.detach().clone() for p in task.model.parameters()], result.steps,
                result.history, result.best, result.loss_first, result.loss_last,
                result.stopped_early, result.epochs)

    def same(a, b):
        assert all(torch.equal(x, y) for x, y in zip(a[0], b[0]))
        assert a[1:] == b[1:]

    task = DropoutTask()
    reference = outcome(task, _fit(task, cfg))
    # the same run, checkpointed after every step: checkpoints do not change a run
    every = tmp_path / "every"
    task = DropoutTask()
    same(outcome(task, _fit(task, cfg, Checkpointing(every, every=1, minutes=None,
                                                     keep=1000))), reference)
    steps = [int(p.name.split("-")[1]) for p in complete(every)]
    assert steps == list(range(1, reference[1]))  # none after the last step
    # the keys checkpoints have always had: those written by earlier versions still resume
    assert set(json.loads((every / "step-00000004" / "state.json").read_text())) == {
        "accelerator_step", "bad_evals", "batches", "best", "epoch", "epoch_count",
        "epoch_losses", "epoch_sum", "history", "last_pred", "loss_first", "loss_last",
        "n_examples", "scaler", "scheduler", "seconds", "settings", "step", "steps", "window"}
    for k in (1, 4, 7, reference[1] - 1):  # killed after step k: resumed from its checkpoint
        folder = tmp_path / f"killed-{k}"
        shutil.copytree(every / f"step-{k:08d}", folder / f"step-{k:08d}")
        task = DropoutTask()
        result = _fit(task, cfg, Checkpointing(folder, minutes=None, resume=True))
        assert result.resumed_from == k
        same(outcome(task, result), reference)
    # SIGTERM at step 5: a checkpoint, TrainingInterrupted, and a resume that ends the same
    task = DropoutTask()
    task.after_step = lambda model, step: step == 5 and os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as stopped:
        _fit(task, cfg, Checkpointing(tmp_path / "signal", minutes=None))
    assert stopped.value.step == 5 and stopped.value.path.name == "step-00000005"
    task = DropoutTask()
    result = _fit(task, cfg, Checkpointing(tmp_path / "signal", minutes=None, resume=True))
    assert result.resumed_from == 5
    same(outcome(task, result), reference)
