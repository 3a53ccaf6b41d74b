"""Checkpoints that let a long run continue exactly where it stopped.

A checkpoint is a folder `step-00000120/` holding everything the loop needs to take the next
step as if it had never stopped: the trainable weights, the optimizer's moments, the LR
schedule, the gradient scaler, each process's RNG states, the sampler's position (epoch and
batches consumed) and the loop's bookkeeping (losses, evaluations, early stopping, the best
weights so far). Files are safetensors + JSON, never pickle. Each is written into a hidden
temporary folder that is renamed into place only when complete, so a kill during a write
leaves the previous checkpoint as the newest usable one.

The engine writes them when it is handed a `Checkpointing` (`engine.fit(..., checkpoint=ck)`;
`TextClassifier.fit` builds it and passes it through the method to the run it checkpoints):
every `every` optimizer steps, at most `minutes` apart, and on SIGINT/SIGTERM, after which it
raises `TrainingInterrupted`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .together import together

log = logging.getLogger(__name__)

PREFIX = "step-"
TMP_PREFIX = ".tmp-step-"


class TrainingInterrupted(Exception):
    """Training stopped on a signal after writing a checkpoint it can resume from."""

    def __init__(self, signum: int, step: int, total: int, path: Path):
        self.signum, self.step, self.total, self.path = signum, step, total, path
        name = signal.Signals(signum).name
        super().__init__(f"{name} at step {step} of {total}; a checkpoint is in {path}. "
                         "Resume with the same settings and resume=True (--resume).")


@dataclass
class Checkpointing:
    """Where and how often to checkpoint one training run, and whether to resume it.

    `settings` are what must match for a checkpoint to be resumed (the method's parameters,
    a hash of the training rows); a difference is refused with the names of what changed.
    Those named in `free` are recorded too, but a resume may change them (they do not affect
    training, e.g. the multi-label decision; the caller applies the new values): a change is
    logged, not refused.
    """

    dir: Path
    every: int | None = None        # optimizer steps between checkpoints (None: time only)
    minutes: float | None = 10.0    # at most this long between checkpoints (None/0: off)
    keep: int = 2                   # newest checkpoints kept
    resume: bool = False
    settings: dict = field(default_factory=dict)
    free: frozenset = frozenset()   # names in `settings` a resume may change
    interrupted: int | None = field(default=None, init=False)  # the signal received
    _last: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self):
        self.dir = Path(self.dir)
        if self.every is not None and self.every < 1:
            raise ValueError(f"checkpoint_every must be at least 1 step, not {self.every}.")
        if self.keep < 1:
            raise ValueError(f"keep_checkpoints must be at least 1, not {self.keep}.")

    def start(self) -> Path | None:
        """The checkpoint to resume from (None: start afresh); refuses what would mix runs."""
        newest = latest(self.dir)
        if newest is None:
            if self.resume:
                log.info("no complete checkpoint in %s; training from the start", self.dir)
            return None
        if not self.resume:
            raise ValueError(
                f"{self.dir} holds checkpoints of an unfinished run (newest: {newest.name}). "
                "Add --resume (resume=True) to continue it, or remove the folder to start "
                "over.")
        saved = json.loads((newest / "state.json").read_text())["settings"]
        # a setting the saved run did not record (an older textune) is not a difference
        changed = {k: f"{k} (was {saved[k]!r}, now {v!r})"
                   for k, v in sorted(self.settings.items()) if k in saved and saved[k] != v}
        refused = [why for k, why in changed.items() if k not in self.free]
        if refused:
            may = (f" ({', '.join(sorted(self.free))} may change: they do not affect "
                   "training)" if self.free else "")
            raise ValueError(f"{newest} was written by a run with different settings: "
                             f"{'; '.join(refused)}. Resume with the same settings{may}, "
                             "or remove the folder to start over.")
        if changed:
            log.info("resuming with changed settings that do not affect training, applied to "
                     "the final model: %s", "; ".join(changed.values()))
        return newest

    def due(self, step: int) -> bool:
        """Whether to write a checkpoint after optimizer step `step`."""
        if self.interrupted is not None:
            return True
        if self.every and step % self.every == 0:
            return True
        return bool(self.minutes) and time.monotonic() - self._last >= 60 * self.minutes

    def written(self) -> None:
        self._last = time.monotonic()

    def clear(self) -> None:
        """Remove this run's checkpoints: it finished, its result is the model."""
        if not self.dir.is_dir():
            return
        for p in self.dir.iterdir():
            if p.name.startswith((PREFIX, TMP_PREFIX)):
                shutil.rmtree(p, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.dir.rmdir()  # only when nothing else lives there

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """While training, SIGINT/SIGTERM ask for a checkpoint at the end of the current
        step. A second Ctrl-C acts at once (its default handler is back); a repeated SIGTERM
        does not, since schedulers and launchers often send it twice."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def ask(signum, frame):
            if self.interrupted is None:
                log.warning("%s received: writing a checkpoint after this step%s",
                            signal.Signals(signum).name,
                            " (Ctrl-C again stops at once)" if signum == signal.SIGINT else "")
            self.interrupted = signum
            signal.signal(signal.SIGINT, old[signal.SIGINT])

        for s in old:
            signal.signal(s, ask)
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def complete(folder: Path) -> list[Path]:
    """Complete checkpoints in `folder`, oldest first (temporary folders are not)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
             and p.name[len(PREFIX):].isdigit() and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest(folder: Path) -> Path | None:
    found = complete(Path(folder))
    return found[-1] if found else None


# ------------------------------------------------------------------------------ writing


def write(ck: Checkpointing, step: int, *, rank: int, is_main: bool,
          weights: dict, best: dict | None, optimizer: dict, state: dict) -> Path:
    """Write the checkpoint of `step` atomically; every process calls this, each writing its
    own RNG states; the main process writes the rest, renames the folder into place and
    prunes old checkpoints. A failure on any process (a full disk) raises on all of them
    (`together`), where a barrier would leave the others waiting for ever."""
    t0 = time.perf_counter()
    target = ck.dir / f"{PREFIX}{step:08d}"
    tmp = ck.dir / f"{TMP_PREFIX}{step:08d}"
    what = f"writing the checkpoint of step {step}"
    with together(what):
        if is_main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
    with together(what):
        _write_rng(tmp, rank)
        if is_main:
            _save_tensors(weights, tmp / "weights.safetensors")
            if best is not None:
                _save_tensors(best, tmp / "best.safetensors")
            tensors, meta = _split_optimizer(optimizer)
            _save_tensors(tensors, tmp / "optimizer.safetensors")
            _write_json(tmp / "optimizer.json", meta)
    with together(what):
        if is_main:
            _write_json(tmp / "state.json", {**state, "settings": ck.settings, "step": step})
            _fsync_dir(tmp)
            shutil.rmtree(target, ignore_errors=True)
            os.rename(tmp, target)
            _fsync_dir(ck.dir)
            for old in complete(ck.dir)[:-ck.keep]:
                shutil.rmtree(old, ignore_errors=True)
            log.info("checkpoint written: %s (%.1fs)", target, time.perf_counter() - t0)
    ck.written()
    return target


def _save_tensors(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file

    # clone: safetensors refuses tensors sharing memory (tied weights, views)
    save_file({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()},
              str(path))
    _fsync(path)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj))
    _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        _fsync(path)


def _split_optimizer(sd: dict) -> tuple[dict, dict]:
    """An optimizer state_dict as safetensors-ready tensors + JSON-ready everything else."""
    tensors, state = {}, {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value
            else:
                state.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "state": state,
                     "ids": [str(pid) for pid in sd["state"]]}


def _write_rng(folder: Path, rank: int) -> None:
    from safetensors.torch import save_file

    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    save_file(tensors, str(folder / f"rng-{rank}.safetensors"))
    version, words, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    _write_json(folder / f"rng-{rank}.json", {
        "python": [version, list(words), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]})


# ------------------------------------------------------------------------------ reading


@dataclass
class Saved:
    """A checkpoint read back: what the engine restores."""

    state: dict
    weights: dict
    best: dict | None
    optimizer: dict
    rng: dict


def read(path: Path, rank: int) -> Saved:
    from safetensors.torch import load_file

    state = json.loads((path / "state.json").read_text())
    meta = json.loads((path / "optimizer.json").read_text())
    tensors = load_file(str(path / "optimizer.safetensors"))
    opt_state: dict = {}
    for pid in meta["ids"]:
        entries = dict(meta["state"].get(pid, {}))
        prefix = f"{pid}."
        entries.update({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        opt_state[int(pid)] = entries
    rng_file = path / f"rng-{rank}.safetensors"
    if not rng_file.is_file():
        raise ValueError(f"{path} has no RNG states for process {rank}: it was written by a "
                         "run with fewer processes. Resume with the same number of processes.")
    best = path / "best.safetensors"
    return Saved(state=state, weights=load_file(str(path / "weights.safetensors")),
                 best=load_file(str(best)) if best.is_file() else None,
                 optimizer={"state": opt_state, "param_groups": meta["param_groups"]},
                 rng={"tensors": load_file(str(rng_file)),
                      **json.loads((path / f"rng-{rank}.json").read_text())})


def restore_rng(rng: dict) -> None:
    """Put every generator back where it was when the checkpoint was written."""
    torch.set_rng_state(rng["tensors"]["torch"])
    cuda = [rng["tensors"][k] for k in sorted(rng["tensors"]) if k.startswith("cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, words, gauss = rng["python"]
    random.setstate((version, tuple(words), gauss))
    name, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
