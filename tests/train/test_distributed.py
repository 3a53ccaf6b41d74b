"""`accelerate launch --num_processes 2` on CPU (gloo): the same training code runs
data-parallel with no change, and every process ends with the same weights."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from accelerate import PartialState
from textune import TextClassifier
pos = ["a wonderful, moving film", "brilliant acting and a great story",
       "i loved every minute of it", "funny, warm and beautifully made"]
neg = ["a dull, tedious mess", "terrible acting and a boring plot",
       "i hated every minute of it", "lazy, clumsy and badly made"]
method, out = sys.argv[1], sys.argv[2]
steps = {"steps": 6} if method == "setfit" else {}  # finetune reads no contrastive steps
clf = TextClassifier(method=method, epochs=2, seed=0, **steps).fit(pos + neg, ["p"] * 4 + ["n"] * 4)
state = PartialState()
proba = clf.predict_proba(pos + neg).round(5).tolist()
with open(f"{out}/rank{state.process_index}.json", "w") as f:
    json.dump({"world": state.num_processes, "proba": proba,
               "procs": clf.fit_stats_.get("num_processes")}, f)
clf.save(f"{out}/model")
"""


@pytest.mark.parametrize("method", ["finetune", "setfit"])
def test_accelerate_launch_two_cpu_processes(method, tmp_path):
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    # --multi_gpu selects the torchrun launcher; with no GPU each process runs on CPU (gloo)
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no",
           str(script), method, str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    if method == "finetune":
        assert ranks[0]["procs"] == 2
    assert ranks[0]["proba"] == ranks[1]["proba"]  # DDP kept the replicas identical
    assert (tmp_path / "model" / "textune.json").is_file()


RESUME_SCRIPT = """
import json, sys
from accelerate import PartialState
from textune import TextClassifier
texts = ["a wonderful, moving film", "brilliant acting and a great story",
         "i loved every minute of it", "funny, warm and beautifully made",
         "a dull, tedious mess", "terrible acting and a boring plot",
         "i hated every minute of it", "lazy, clumsy and badly made",
         "an average film", "it was fine i guess", "neither good nor bad", "watchable, forgettable"]
labels = ["good"] * 4 + ["bad"] * 4 + ["so-so"] * 4
mode, out = sys.argv[1], sys.argv[2]
ck = {} if mode == "full" else dict(checkpoint_dir=f"{out}/ck", checkpoint_every=2)
clf = TextClassifier(method="finetune", epochs=4, batch_size=2, seed=0, **ck).fit(
    texts, labels, resume=mode == "resume")
rank = PartialState().process_index
with open(f"{out}/{mode}{rank}.json", "w") as f:
    json.dump({"proba": clf.predict_proba(texts).tolist(),
               "resumed_from": clf.fit_stats_.get("resumed_from")}, f)
"""


def test_two_processes_killed_mid_run_resume_to_the_same_model(tmp_path):
    """Every process's RNG states go into the checkpoint, so a data-parallel run resumes
    exactly too (SIGKILL to every process of the launch, then the same launch + resume)."""
    import time

    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}

    def launch(mode):
        return subprocess.Popen(
            [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
             "--mixed_precision", "no", "--dynamo_backend", "no", str(script), mode,
             str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)

    for mode in ("full", "kill", "resume"):
        proc = launch(mode)
        if mode == "kill":
            deadline = time.monotonic() + 300
            while not (tmp_path / "ck" / "step-00000004").is_dir():
                assert proc.poll() is None and time.monotonic() < deadline, \
                    proc.communicate()[1][-3000:]
                time.sleep(0.01)
            _kill_launch(proc)
            continue
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    full, resumed = (json.loads((tmp_path / f"{m}0.json").read_text()) for m in ("full", "resume"))
    other = json.loads((tmp_path / "resume1.json").read_text())
    assert not list(tmp_path.glob("kill*.json"))  # the killed run never finished
    assert resumed["resumed_from"] >= 4
    assert resumed["proba"] == other["proba"]  # the replicas agree
    assert resumed["proba"] == full["proba"]  # and equal the run never stopped


def _kill_launch(proc) -> None:
    """SIGKILL the launcher and every worker. torch's elastic agent starts each worker in a
    session of its own, so killing the launcher's process group leaves the workers running:
    they went on writing checkpoints into the folder the resumed run was reading (a flaky
    failure of the resumed run, or a "resume" from the survivors' later checkpoints)."""
    import signal

    import psutil

    launcher = psutil.Process(proc.pid)
    victims = [launcher, *launcher.children(recursive=True)]
    for p in victims:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    psutil.wait_procs(victims, timeout=30)


FAIL_SCRIPT = """
import sys
from textune import TextClassifier
texts = ["a wonderful, moving film", "brilliant acting and a great story",
         "a dull, tedious mess", "terrible acting and a boring plot",
         "an average film", "neither good nor bad"]
labels = ["good", "good", "bad", "bad", "so-so", "so-so"]
where, out = sys.argv[1], sys.argv[2]
ck = dict(checkpoint_dir=f"{out}/ck", checkpoint_every=2) if where == "checkpoint" else {}
clf = TextClassifier(method="finetune", epochs=2, batch_size=2, seed=0, **ck).fit(texts, labels)
clf.save(f"{out}/model")
"""


@pytest.mark.parametrize("where", ["checkpoint", "save"])
def test_a_write_failing_on_one_process_fails_every_process(where, tmp_path):
    """The main process cannot write (here: a file stands where its folder goes; in life a
    full disk). Every process stops with the cause named: the main one with its error, the
    others saying another process failed. Not a wait at a barrier, which ends only where a
    launcher's agent kills the survivors (torchrun does, with no word of why) and never under
    launchers without one."""
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    script = tmp_path / "train.py"
    script.write_text(FAIL_SCRIPT)
    if where == "checkpoint":
        (tmp_path / "ck").mkdir()
        (tmp_path / "ck" / ".tmp-step-00000002").write_text("in the way")
    else:
        (tmp_path / "model").write_text("in the way")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(script), where,
         str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        _kill_launch(proc)
        pytest.fail(f"the launch hung after a failed {where} write (a process at a barrier)")
    assert proc.returncode != 0
    assert "FileExistsError" in err, err[-3000:]  # the main process says why
    assert "failed on another process of this launch" in err, err[-3000:]  # the other stops


NAN_SCRIPT = """
import os, sys, time
import torch
from accelerate.state import GradientState
from textune import TextClassifier

model, out, validation, poison_epoch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rank, epochs_seen = int(os.environ["RANK"]), 0
cross_entropy = torch.nn.functional.cross_entropy


def poisoned(*args, **kwargs):
    # Rank 1's loss is NaN on the last batch of epoch `poison_epoch` (test only): the batch
    # whose loss the epoch-end check reads, before DDP's gradient average spreads the NaN to
    # rank 0's weights (a NaN earlier in the epoch reaches every process's loss by itself).
    global epochs_seen
    loss = cross_entropy(*args, **kwargs)
    if GradientState().end_of_dataloader:
        epochs_seen += 1
        if rank == 1 and epochs_seen == poison_epoch:
            with open(f"{out}/nan_at", "w") as f:
                f.write(repr(time.time()))
            return loss * float("nan")
    return loss


torch.nn.functional.cross_entropy = poisoned
texts = ["a wonderful, moving film", "brilliant acting and a great story",
         "i loved every minute of it", "funny, warm and beautifully made",
         "a dull, tedious mess", "terrible acting and a boring plot",
         "i hated every minute of it", "lazy, clumsy and badly made",
         "an average film", "it was fine i guess", "neither good nor bad", "watchable, forgettable"]
labels = ["good"] * 4 + ["bad"] * 4 + ["so-so"] * 4
clf = TextClassifier(method="finetune", model=model, epochs=3, batch_size=2, seed=0,
                     validation=validation).fit(texts, labels)
clf.save(f"{out}/model")
"""


@pytest.mark.parametrize("validation", [0, 0.25], ids=["no-best-weights", "best-weights-kept"])
def test_a_nan_loss_on_one_process_stops_every_process(validation, tiny_backbone, tmp_path):
    """Rank 1's loss turns NaN at an epoch end; rank 0's does not. Every process takes the
    same decision from the loss summed over the launch, within a minute of the NaN: without
    a validation split all raise the NaN error (exit != 0); with one, whose best weights
    came before the NaN, all keep them, warn and save. Each process decided on its own
    loss before: rank 1 stopped, rank 0 trained on into DDP's next all-reduce and hung (with
    a validation split) or died of "Connection closed by peer" with no word of the NaN.

    The two processes are started directly (the environment torchrun gives them), not under
    `accelerate launch`: its agent kills the others once one fails, which would hide a
    process that never ends by itself, and it merges their exit codes."""
    import socket
    import time

    script = tmp_path / "train.py"
    script.write_text(NAN_SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poison_epoch = 1 if not validation else 2  # after a first evaluation kept best weights
    procs, logs = [], []
    for rank in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
               "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
        logs.append(open(tmp_path / f"rank{rank}.err", "w+"))
        procs.append(subprocess.Popen(
            [sys.executable, str(script), tiny_backbone, str(tmp_path), str(validation),
             str(poison_epoch)], env=env, stdout=subprocess.DEVNULL, stderr=logs[-1]))
    ended = {}
    deadline = time.monotonic() + 300  # starting two processes on a busy machine, then 60 s
    try:
        while len(ended) < 2 and time.monotonic() < deadline:
            for rank, p in enumerate(procs):
                if rank not in ended and p.poll() is not None:
                    ended[rank] = time.time()
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        errs = []
        for f in logs:
            f.seek(0)
            errs.append(f.read())
            f.close()
    assert (tmp_path / "nan_at").is_file(), errs[1][-3000:]  # the NaN was injected
    assert len(ended) == 2, f"a process still ran 300 s after the start: {errs[0][-2000:]}"
    after_nan = max(ended.values()) - float((tmp_path / "nan_at").read_text())
    logging.getLogger(__name__).info("both processes ended %.1f s after the NaN", after_nan)
    assert after_nan < 60, f"the processes took {after_nan:.0f} s after the NaN to end"
    for rank, (p, err) in enumerate(zip(procs, errs)):
        assert "the loss became NaN or infinite" in err, f"rank {rank}: {err[-3000:]}"
        if validation:
            assert p.returncode == 0, f"rank {rank}: {err[-3000:]}"
            assert "The best weights seen before it are kept" in err
        else:
            assert p.returncode != 0, f"rank {rank} exited 0"
            assert "TrainingDiverged" in err, f"rank {rank}: {err[-3000:]}"
    assert (tmp_path / "model" / "textune.json").is_file() == bool(validation)
