"""Long runs survive interruption: a run killed at a random step (SIGKILL, as a pre-empted
machine or the OOM killer does it) and resumed with `--resume` ends with the same weights
and predictions as a run never stopped; a kill in the middle of writing a checkpoint leaves
the previous one usable; SIGINT/SIGTERM write a checkpoint and print the command that
resumes. Real model (MiniLM), real data (BBC News, 5 topics with string labels in
first-seen order), every method that trains on the engine. The fast tier checks the same
agreement in process on the tiny random backbone."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from textune import TextClassifier
from textune.engine.checkpoint import Checkpointing, complete

COMMON = ["--max-length", "48", "--seed", "3", "--checkpoint-every", "2", "--quiet"]
METHODS = {  # CLI flags, the same run as TextClassifier parameters, optimizer steps
    "finetune": (["--method", "finetune", "--epochs", "3", "--batch-size", "8"],
                 dict(method="finetune", epochs=3, batch_size=8), 15),
    "lora": (["--method", "peft", "--peft", "lora", "--epochs", "3", "--batch-size", "8"],
             dict(method="peft", peft="lora", epochs=3, batch_size=8), 15),
    "setfit": (["--method", "setfit", "--steps", "12"], dict(method="setfit", steps=12), 12),
}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TEXTUNE = [sys.executable, "-m", "textune"]


@pytest.fixture(scope="module")
def news(bbc_news5, tmp_path_factory):
    import pandas as pd

    train, test = bbc_news5
    folder = tmp_path_factory.mktemp("news")
    pd.DataFrame({"text": train.texts, "label": train.labels}).to_csv(folder / "train.csv",
                                                                      index=False)
    return folder / "train.csv", train, test


@pytest.fixture(scope="module")
def uninterrupted(news, tmp_path_factory):
    """Each method trained once without a stop, saved: what every resumed run must equal."""
    _, train, test = news
    out = {}
    for name, (_, params, _) in METHODS.items():
        clf = TextClassifier(max_length=48, seed=3, **params).fit(train)
        path = clf.save(tmp_path_factory.mktemp(name) / "model")
        out[name] = (path, clf.predict_proba(test))
    return out


def _train(data: Path, output: Path, flags: list[str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*TEXTUNE, "train", "--data", str(data), "--output", str(output),
                             *flags, *COMMON, *extra], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(folder: Path, step: int, proc: subprocess.Popen, timeout: float = 600) -> int:
    """Wait until `folder` holds a checkpoint of `step` or later (a busy machine may poll
    after the next ones are written and step's pruned); return the newest step."""
    deadline = time.monotonic() + timeout
    while True:
        done = complete(folder)
        newest = int(done[-1].name.split("-")[1]) if done else 0
        if newest >= step:
            return newest
        if proc.poll() is not None:
            raise AssertionError(f"training ended (rc {proc.returncode}) before step {step}'s "
                                 f"checkpoint in {folder}:\n{proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"no checkpoint of step {step} in {timeout}s"
        time.sleep(0.005)


def _resume(data, output, flags):
    done = subprocess.run([*TEXTUNE, "train", "--data", str(data), "--output", str(output),
                           *flags, *COMMON, "--resume", "--json"], env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _assert_same_model(resumed: Path, reference, test, why: str):
    """Same weights (every safetensors file of the model folder) and same predictions."""
    from safetensors.numpy import load_file

    path, proba = reference
    files = sorted(p.relative_to(path) for p in path.rglob("*.safetensors"))
    assert files and files == sorted(p.relative_to(resumed)
                                     for p in resumed.rglob("*.safetensors")), why
    for f in files:
        a, b = load_file(str(path / f)), load_file(str(resumed / f))
        assert a.keys() == b.keys(), why
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=f"{why}: {k}")
    clf = TextClassifier.load(resumed)
    got = clf.predict_proba(test)
    np.testing.assert_allclose(got, proba, atol=1e-5, err_msg=why)
    assert (got.argmax(1) == proba.argmax(1)).all(), why


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "setfit"])
def test_a_run_killed_at_a_random_step_resumes_to_the_same_model(method, news, uninterrupted,
                                                                 tmp_path):
    data, _, test = news
    flags, _, steps = METHODS[method]
    kill_after = random.Random().randrange(2, steps - 1, 2)  # a checkpoint before the end
    why = f"{method} killed after step {kill_after}"
    output = tmp_path / "model"
    proc = _train(data, output, flags)
    _wait_for(output.with_name("model.checkpoints"), kill_after, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not output.exists(), why  # killed before it could save
    stats = _resume(data, output, flags)
    assert stats["output"] == str(output)
    _assert_same_model(output, uninterrupted[method], test, why)
    # the run is complete: its checkpoints are gone with it
    assert not output.with_name("model.checkpoints").exists(), why


KILL_MID_WRITE = """
import os, signal, sys
import textune.engine.checkpoint as ck

N = int(sys.argv[1])
calls = []
save = ck._save_tensors

def save_then_die(tensors, path):
    save(tensors, path)
    if path.name == "optimizer.safetensors":
        calls.append(path)
        if len(calls) == N:  # weights and optimizer of checkpoint N on disk, state.json not
            os.kill(os.getpid(), signal.SIGKILL)

ck._save_tensors = save_then_die
from textune.cli import main
sys.argv = ["textune", *sys.argv[2:]]
main()
"""


@pytest.mark.slow
def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_usable(news,
                                                                          uninterrupted,
                                                                          tmp_path):
    data, _, test = news
    flags, _, steps = METHODS["finetune"]
    nth = random.Random().randrange(2, steps // 2)  # the checkpoint being written dies
    why = f"finetune killed while writing checkpoint {nth} (step {2 * nth})"
    output = tmp_path / "model"
    died = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, str(nth), "train", "--data",
                           str(data), "--output", str(output), *flags, *COMMON], env=ENV,
                          capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL, died.stderr[-3000:]
    folder = output.with_name("model.checkpoints")
    left = sorted(p.name for p in folder.iterdir())
    assert f".tmp-step-{2 * nth:08d}" in left, (why, left)  # the torn one, never renamed
    assert [p.name for p in complete(folder)][-1] == f"step-{2 * nth - 2:08d}", (why, left)
    _resume(data, output, flags)
    _assert_same_model(output, uninterrupted["finetune"], test, why)


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_says_how_to_resume(news, uninterrupted, tmp_path):
    data, _, test = news
    flags, _, _ = METHODS["finetune"]
    output = tmp_path / "model"
    folder = output.with_name("model.checkpoints")
    proc = _train(data, output, flags)
    _wait_for(folder, 2, proc)  # training is under way
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "interrupted by SIGTERM at step" in err, err[-3000:]
    step = int(err.split("interrupted by SIGTERM at step ")[1].split()[0])
    assert complete(folder)[-1].name == f"step-{step:08d}", err  # written on the signal
    command = err.split("Resume with:")[1].strip().splitlines()[0]
    assert command.startswith("textune train ") and command.endswith("--resume"), command
    _resume(data, output, flags)
    _assert_same_model(output, uninterrupted["finetune"], test, "finetune after SIGTERM")


def _fake_checkpoint(folder: Path, step: int, settings: dict) -> None:
    (folder / f"step-{step:08d}").mkdir(parents=True)
    (folder / f"step-{step:08d}" / "state.json").write_text(json.dumps({"settings": settings}))


def test_resume_refuses_other_settings_and_a_fresh_run_refuses_old_checkpoints(tmp_path):
    run = {"method": "finetune", "epochs": 3.0, "data": "abc"}
    _fake_checkpoint(tmp_path, 4, run)
    (tmp_path / ".tmp-step-00000006").mkdir()  # a torn write is not a checkpoint
    assert Checkpointing(tmp_path, resume=True, settings=run).start().name == "step-00000004"
    with pytest.raises(ValueError, match=r"data \(was 'abc', now 'xyz'\); epochs \(was 3.0, "
                                         r"now 5.0\)"):
        Checkpointing(tmp_path, resume=True,
                      settings={**run, "epochs": 5.0, "data": "xyz"}).start()
    # a setting named free (one that does not affect training) may change
    _fake_checkpoint(tmp_path / "decided", 4, {**run, "threshold": 0.5})
    for free in (frozenset(), frozenset({"threshold"})):
        ck = Checkpointing(tmp_path / "decided", resume=True,
                           settings={**run, "threshold": 0.3}, free=free)
        if free:
            assert ck.start().name == "step-00000004"
        else:
            with pytest.raises(ValueError, match=r"threshold \(was 0.5, now 0.3\)"):
                ck.start()
    with pytest.raises(ValueError, match="unfinished run.*step-00000004.*--resume"):
        Checkpointing(tmp_path, settings=run).start()
    assert Checkpointing(tmp_path / "empty", resume=True, settings=run).start() is None


def test_the_classifier_refuses_before_loading_a_model(tiny_texts, tmp_path, monkeypatch):
    import transformers

    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded before the refusal")

    # refused from the files alone: loading the model or its tokenizer fails the test
    for cls in (transformers.AutoModelForSequenceClassification, transformers.AutoTokenizer):
        monkeypatch.setattr(cls, "from_pretrained", loaded)
    texts, labels = tiny_texts
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        TextClassifier(method="finetune").fit(texts, labels, resume=True)
    _fake_checkpoint(tmp_path, 2, {"method": "finetune", "data": "abc"})
    with pytest.raises(ValueError, match=r"different settings: data \(was 'abc', now '[0-9a-f]{16}'\)\. Resume"):
        TextClassifier(method="finetune", checkpoint_dir=tmp_path).fit(texts, labels,
                                                                       resume=True)


def test_checkpoints_are_due_by_steps_by_time_and_on_a_signal(tmp_path):
    ck = Checkpointing(tmp_path, every=5, minutes=10)
    assert [s for s in range(1, 12) if ck.due(s)] == [5, 10]
    ck._last -= 601  # ten minutes and a second since the last one
    assert ck.due(3)
    ck.written()
    assert not ck.due(3) and not Checkpointing(tmp_path, minutes=None).due(3)
    ck.interrupted = signal.SIGINT
    assert ck.due(3)


@pytest.mark.slow
def test_a_failed_save_keeps_the_checkpoints(tiny_texts, tmp_path):
    """`textune train` removes its checkpoints only once the model folder is written."""
    import pandas as pd
    from typer.testing import CliRunner

    from textune.cli import app

    texts, labels = tiny_texts
    data = tmp_path / "train.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    output = tmp_path / "model"
    output.write_text("a file where the model folder should go")
    r = CliRunner().invoke(app, ["train", "--data", str(data), "--output", str(output),
                                 "--method", "finetune", "--epochs", "1", "--batch-size", "8",
                                 "--max-length", "16", "--checkpoint-every", "1", "-q"])
    assert r.exit_code != 0
    assert [p.name for p in complete(tmp_path / "model.checkpoints")] == ["step-00000001"]


@pytest.mark.parametrize("method", ["finetune", "setfit"])
def test_resumed_on_the_tiny_backbone_ends_as_the_run_that_never_stopped(method, tiny_backbone,
                                                                       bbc_news5, tmp_path):
    """The whole path (TextClassifier -> method -> engine) in process: a run checkpointed
    after every step predicts as one without checkpoints, and a run resumed from an early or
    the last checkpoint predicts the same, bit for bit (5 topics, first-seen label order)."""
    train, test = bbc_news5
    params = dict(model=tiny_backbone, max_length=32, seed=3, method=method,
                  **(dict(epochs=2, batch_size=8, validation=0.25) if method == "finetune"
                     else dict(steps=8)))
    reference = TextClassifier(**params).fit(train)
    expected = reference.predict_proba(test)
    every = TextClassifier(**params, checkpoint_dir=tmp_path / "every", checkpoint_every=1,
                           keep_checkpoints=1000)
    every.clear_checkpoints_after_fit = False
    np.testing.assert_array_equal(every.fit(train).predict_proba(test), expected)
    steps = [int(p.name.split("-")[1]) for p in complete(tmp_path / "every")]
    assert steps == list(range(1, reference.fit_stats_["steps" if method == "finetune"
                                                       else "contrastive_steps"]))
    for k in (2, steps[-1]):
        folder = tmp_path / f"killed-{k}"
        shutil.copytree(tmp_path / "every" / f"step-{k:08d}", folder / f"step-{k:08d}")
        clf = TextClassifier(**params, checkpoint_dir=folder).fit(train, resume=True)
        assert clf.fit_stats_["resumed_from"] == k
        np.testing.assert_array_equal(clf.predict_proba(test), expected, err_msg=f"step {k}")
        assert clf.fit_stats_.get("history") == reference.fit_stats_.get("history")
        assert not folder.exists()  # a finished run clears its checkpoints


# ---------------------------------------------------------------- decision-only changes
# The multi-label decision (threshold, min_labels) turns probabilities into labels after
# training and never touches it, so `--resume` accepts a change to it and applies it to the
# final model; every other setting still has to match.

MULTI = dict(method="finetune", max_length=32, seed=3, epochs=2, batch_size=8)  # 12 steps
MULTI_FLAGS = ["--method", "finetune", "--max-length", "32", "--seed", "3", "--epochs", "2",
               "--batch-size", "8", "--checkpoint-every", "1"]
NEW_DECISION = dict(threshold=0.6, min_labels=2)
NEW_DECISION_FLAGS = ["--threshold", "0.6", "--min-labels", "2"]


@pytest.fixture(scope="module")
def emotion_sets(tmp_path_factory):
    """GoEmotions' Ekman emotions as label sets (7 string labels, 6 texts each; some texts
    carry two) in a CSV with '|' between labels, read the way `textune train --multi-label
    --label-separator '|'` reads it; 30 dev texts to predict."""
    import pandas as pd

    from tests.conftest import shared_file
    from textune import load_examples, sample_per_class

    folder = shared_file("goemotions")
    read = dict(header=False, text_column="0", label_column="1", multi_label=True,
                label_names=folder / "ekman_labels.txt")
    train = sample_per_class(load_examples(folder / "ekman_train.tsv", **read), 6, seed=0)
    dev = load_examples(folder / "ekman_dev.tsv", **read).texts[:30]
    path = tmp_path_factory.mktemp("emotions") / "train.csv"
    pd.DataFrame({"text": train.texts, "label": ["|".join(y) for y in train.labels]}).to_csv(
        path, index=False)
    return path, load_examples(path, multi_label=True, label_separator="|"), dev


@pytest.fixture(scope="module")
def decided_later(emotion_sets, tiny_backbone, tmp_path_factory):
    """A multi-label run checkpointed after every step with the default decision (threshold
    0.5, no min_labels), and the run never stopped with NEW_DECISION, saved: what a resume
    with the new decision must equal."""
    _, train, _ = emotion_sets
    folder = tmp_path_factory.mktemp("decided-later")
    first = TextClassifier(model=tiny_backbone, **MULTI, checkpoint_dir=folder / "every",
                           checkpoint_every=1, keep_checkpoints=1000)
    first.clear_checkpoints_after_fit = False
    first.fit(train)
    reference = TextClassifier(model=tiny_backbone, **MULTI, **NEW_DECISION).fit(train)
    return folder / "every", reference.save(folder / "reference"), reference


def _killed_at(every: Path, step: int, folder: Path) -> Path:
    """`folder` as a run killed after `step` leaves it: that step's checkpoint only."""
    shutil.copytree(every / f"step-{step:08d}", folder / f"step-{step:08d}")
    return folder


def _assert_same_weights(path: Path, reference: Path) -> None:
    from safetensors.numpy import load_file

    files = sorted(p.relative_to(reference) for p in reference.rglob("*.safetensors"))
    assert files and files == sorted(p.relative_to(path) for p in path.rglob("*.safetensors"))
    for f in files:
        a, b = load_file(str(reference / f)), load_file(str(path / f))
        assert a.keys() == b.keys(), f
        for k in a:
            np.testing.assert_array_equal(b[k], a[k], err_msg=f"{f}: {k}")


def _assert_decided_anew(model: Path, reference, dev) -> None:
    """`model` decides with NEW_DECISION, as `reference` does, and that differs from what the
    interrupted run's decision would have predicted."""
    from textune.models.decision import Decision

    saved = json.loads((model / "textune.json").read_text())
    assert saved["decision"] == {"multi_label": True, "thresholds": [0.6] * 7,
                                 "min_labels": 2}
    clf = TextClassifier.load(model)
    pred = clf.predict(dev)
    np.testing.assert_array_equal(pred, reference.predict(dev))
    assert clf.predict_labels(dev) == reference.predict_labels(dev)
    assert (pred.sum(axis=1) >= 2).all()  # min_labels=2 applied
    old = Decision(multi_label=True, thresholds=[0.5] * 7).indicator(clf.predict_proba(dev))
    assert (pred != old).any()  # the change is visible, so the test can fail


def test_resume_accepts_a_new_threshold_and_ends_as_a_run_that_had_it_all_along(
        emotion_sets, decided_later, tiny_backbone, tmp_path, caplog):
    _, train, dev = emotion_sets
    every, reference_path, reference = decided_later
    folder = _killed_at(every, 4, tmp_path / "killed")
    with caplog.at_level("INFO", logger="textune.engine.checkpoint"):
        clf = TextClassifier(model=tiny_backbone, **MULTI, **NEW_DECISION,
                             checkpoint_dir=folder).fit(train, resume=True)
    assert clf.fit_stats_["resumed_from"] == 4
    assert "threshold (was 0.5, now 0.6)" in caplog.text
    assert "min_labels (was 0, now 2)" in caplog.text
    _assert_same_weights(clf.save(tmp_path / "model"), reference_path)
    _assert_decided_anew(tmp_path / "model", reference, dev)


def test_resume_still_refuses_a_change_that_affects_training(emotion_sets, decided_later,
                                                            tiny_backbone, tmp_path):
    _, train, _ = emotion_sets
    folder = _killed_at(decided_later[0], 4, tmp_path / "killed")
    for changed, said in [(dict(epochs=3), r"epochs \(was 2, now 3\)"),
                          (dict(learning_rate=1e-3), r"learning_rate \(was None, now 0.001\)")]:
        with pytest.raises(ValueError, match=said) as refused:
            TextClassifier(model=tiny_backbone, **{**MULTI, **changed}, **NEW_DECISION,
                           checkpoint_dir=folder).fit(train, resume=True)
        # only what affects training is named as the difference
        assert "(was 0.5" not in str(refused.value), refused.value
        assert "min_labels, threshold may change" in str(refused.value), refused.value
    assert [p.name for p in complete(folder)] == ["step-00000004"]  # untouched


def test_train_resume_on_the_command_line_takes_a_new_threshold(emotion_sets, decided_later,
                                                               tiny_backbone, tmp_path):
    from typer.testing import CliRunner

    from textune.cli import app

    data, _, dev = emotion_sets
    every, reference_path, reference = decided_later
    output = tmp_path / "model"
    _killed_at(every, 8, output.with_name("model.checkpoints"))
    command = ["train", "--data", str(data), "--multi-label", "--label-separator", "|",
               "--output", str(output), "--model", tiny_backbone, *MULTI_FLAGS, "--resume",
               "-q"]
    refused = CliRunner().invoke(app, [*command, *NEW_DECISION_FLAGS, "--learning-rate",
                                       "1e-3"])
    assert refused.exit_code == 2, refused.output
    assert "learning_rate (was None, now 0.001)" in refused.stderr, refused.stderr
    r = CliRunner().invoke(app, [*command, *NEW_DECISION_FLAGS, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["thresholds"] == dict.fromkeys(
        reference.labels, 0.6)
    _assert_same_weights(output, reference_path)
    _assert_decided_anew(output, reference, dev)
    assert not output.with_name("model.checkpoints").exists()  # the run is complete
