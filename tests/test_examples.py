"""Every script in examples/ runs, as a user runs it: a fresh process with this Python,
offline, its defaults pointing at examples/data. A run on the tiny random backbone checks the
script works end to end and that what it prints is what the saved model answers; accuracy
is the other tests' business."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"
CLASSES = ["account", "billing", "bug", "shipping"]
NEW_TEXTS = ["When will my package be delivered?",
             "I was billed for a plan I downgraded last month.",
             "The app closes itself as soon as I tap the camera icon.",
             "Please reset the password for my account."]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(cmd: list, cwd: Path, timeout: int = 600, **env) -> str:
    """Run a command in `cwd`; its stdout, or a failure showing its stderr."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env={**ENV, **env},
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def example(name: str, *args, cwd: Path, **env) -> str:
    return run([sys.executable, EXAMPLES / name, *args], cwd, **env)


def accuracy_line(out: str) -> float:
    found = re.findall(r"^accuracy (\d\.\d{3})  macro-F1 (\d\.\d{3})$", out, flags=re.M)
    assert len(found) == 1, out
    return float(found[0][0])


def probe_model(backbone: str, path: Path) -> Path:
    """A probe on the tickets (tiny backbone), saved: what the serving examples read."""
    from textune import TextClassifier, load_examples

    TextClassifier(method="probe", model=backbone).fit(
        load_examples(DATA / "tickets_train.csv")).save(path)
    return path


def test_every_example_is_run_here_and_listed_in_the_readme():
    source = Path(__file__).read_text()
    readme = (EXAMPLES / "README.md").read_text()
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == ["http_client.py", "quickstart.py", "ray_job.py", "setfit_dropin.py",
                       "train.py"]
    for name in scripts:
        assert f'"{name}"' in source, f"no test runs examples/{name}"
        assert f"examples/{name}" in readme, f"examples/README.md does not list {name}"


def test_quickstart(tiny_backbone, tmp_path):
    out = example("quickstart.py", "--model", tiny_backbone, "--output", "model", cwd=tmp_path)
    assert 0 <= accuracy_line(out) <= 1
    assert f"saved to model; labels {CLASSES}" in out  # sorted, as classes_ are
    printed = [line.split(None, 1) for line in out.splitlines()[-4:]]
    assert [text for _, text in printed] == NEW_TEXTS
    from textune import TextClassifier

    assert [label for label, _ in printed] == list(
        TextClassifier.load(tmp_path / "model").predict(NEW_TEXTS))


def test_setfit_dropin(tiny_backbone, tmp_path):
    out = example("setfit_dropin.py", "--model", tiny_backbone, "--output", "model",
                  cwd=tmp_path, HF_DATASETS_CACHE=str(tmp_path / "datasets-cache"))
    metrics = ast.literal_eval(next(ln for ln in out.splitlines() if ln.startswith("{")))
    assert set(metrics) == {"accuracy"}
    preds = re.findall(r"'([^']*)'", out.splitlines()[-1])
    from textune import load_examples
    from textune.setfit import SetFitModel

    model = SetFitModel.from_pretrained(tmp_path / "model")  # a setfit-style saved folder
    assert (tmp_path / "model" / "config_setfit.json").is_file()
    assert preds == list(model.predict(["Where is my parcel?", "Why was I charged twice?"]))
    assert set(preds) <= set(CLASSES)  # string labels come back as the labels themselves
    test = load_examples(DATA / "tickets_test.csv")
    assert metrics["accuracy"] == pytest.approx(
        np.mean(np.asarray(model.predict(test.texts)) == np.asarray(test.labels)))


def test_train_in_one_process(tiny_backbone, tmp_path):
    out = example("train.py", "--model", tiny_backbone, "--output", "model", cwd=tmp_path)
    assert "trained setfit on 1 process(es)" in out
    from textune import TextClassifier, load_examples

    clf = TextClassifier.load(tmp_path / "model")
    assert accuracy_line(out) == round(clf.score(load_examples(DATA / "tickets_test.csv")), 3)


@pytest.mark.slow
def test_train_under_accelerate_launch_two_processes(tiny_backbone, tmp_path):
    """The same train.py under `accelerate launch --num_processes 2` (CPU processes, gloo):
    the processes train as one (the model records 2), one writes, one reports."""
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    out = run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", EXAMPLES / "train.py",
               "--method", "finetune", "--epochs", "2", "--model", tiny_backbone,
               "--output", "model"], tmp_path, OMP_NUM_THREADS="1")
    assert out.count("trained finetune on 2 process(es)") == 1  # the main process reports
    config = json.loads((tmp_path / "model" / "textune.json").read_text())
    assert config["train"]["num_processes"] == 2  # data-parallel, not two separate runs
    from textune import TextClassifier, load_examples

    clf = TextClassifier.load(tmp_path / "model")
    assert accuracy_line(out) == round(clf.score(load_examples(DATA / "tickets_test.csv")), 3)


def test_http_client(tiny_backbone, tmp_path):
    """http_client.py against `textune serve` in another process, with an API key and
    HF_HUB_OFFLINE=1 set (as the tests and offline users have it)."""
    pytest.importorskip("httpx")
    pytest.importorskip("huggingface_hub")
    model = probe_model(tiny_backbone, tmp_path / "model")
    server = subprocess.Popen([sys.executable, "-m", "textune", "serve", model, "--port", "0",
                               "--api-key", "s3cret", "--quiet"], env=ENV, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lines = []
        for line in server.stderr:  # "textune serving ... on http://127.0.0.1:PORT (...)"
            lines.append(line)
            if "http://" in line:
                break
        url = re.search(r"(http://\S+)", "".join(lines))
        assert url, "".join(lines)
        out = example("http_client.py", "--url", url.group(1), "--api-key", "s3cret",
                      cwd=tmp_path)
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert f"model labels: {CLASSES}" in out
    from textune.serving.batch import load_predictor

    predictor = load_predictor(model)
    proba = predictor.predict_proba(NEW_TEXTS)
    for client in ("httpx", "InferenceClient"):
        rows = [re.match(rf"{client} +(\S+) (\d\.\d{{3}})  (.*?)(  \(runner-up.*)?$", line)
                for line in out.splitlines() if line.startswith(client + " ")]
        assert [r.group(3) for r in rows] == NEW_TEXTS, out
        assert [r.group(1) for r in rows] == [predictor.labels[i] for i in proba.argmax(1)]
        assert [float(r.group(2)) for r in rows] == pytest.approx(proba.max(1), abs=6e-4)


@pytest.mark.slow
def test_ray_job(tiny_backbone, tmp_path):
    """ray_job.py starts a local Ray cluster and writes Parquet parts that hold what the
    model answers in this process, row for row."""
    pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'textune[ray]'")
    import pandas as pd

    from textune.serving.batch import load_predictor, predict_frame

    model = probe_model(tiny_backbone, tmp_path / "model")
    out = example("ray_job.py", "--model-dir", model, "--output", "predictions",
                  cwd=tmp_path)
    assert "4 rows written to predictions" in out
    got = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "predictions").glob(
        "*.parquet"))], ignore_index=True).set_index("text").loc[NEW_TEXTS]
    want = predict_frame(pd.DataFrame({"text": NEW_TEXTS}), load_predictor(model))
    assert got["label"].tolist() == want["label"].tolist()
    cols = [f"proba_{c}" for c in CLASSES]
    assert np.abs(got[cols].to_numpy() - want[cols].to_numpy()).max() < 1e-5
    printed = [line.split(None, 2) for line in out.splitlines() if line.endswith(
        tuple(NEW_TEXTS))]
    assert sorted((p[2], p[0]) for p in printed) == sorted(zip(NEW_TEXTS, want["label"]))
