"""The same answer through every path: in memory, reloaded, `textune predict`, `predict_frame`,
ONNX and the HTTP service, for every method, with the label kinds users have.

Binary-only round trips once passed while every 3+-class model reloaded scrambled, so the
matrix uses 4 news topics in non-sorted first-seen order, integer labels, and digit strings
whose text order differs from their numeric order ("007" < "10" < "2" < "7"). The point is
agreement between paths, not accuracy (test_trust.py checks that), so every encoder case
trains on the tiny random backbone (tests/tiny.py), the causal-LM cases on a tiny random
Llama with SmolLM2's tokenizer, and the whole matrix sits in the fast tier; only the
accuracy-and-agreement CLI run is slow. The label kinds live in tests/labels.py, for any test
to use.
"""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.labels import NEWS_TOPICS, labels_of, relabel
from tests.paths import assert_same_answer_everywhere, exports_to_onnx, http_predict
from textune import TextClassifier
from textune.cli import app

TOPICS = NEWS_TOPICS[:4]  # bbc_news4's topics
FAST = dict(max_length=48, seed=0)
METHODS = {
    "probe": dict(method="probe"),
    "setfit": dict(method="setfit", steps=3),
    "setfit+lora": dict(method="setfit", peft="lora", steps=3),
    "finetune": dict(method="finetune", epochs=1, batch_size=8),
    "lora": dict(method="peft", peft="lora", epochs=1, batch_size=8),
    "ia3": dict(method="peft", peft="ia3", epochs=1, batch_size=8),
    "prefix": dict(method="peft", peft="prefix", epochs=1, batch_size=8),
    "prompt": dict(method="peft", peft="prompt", epochs=1, batch_size=8),
    "ptuning": dict(method="peft", peft="ptuning", epochs=1, batch_size=8),
    "causal-lm": dict(method="peft", peft="prompt", epochs=1, batch_size=8),  # tiny Llama
}
ONNX = {"probe", "setfit", "setfit+lora", "finetune", "lora", "ia3"}
slow = pytest.mark.slow
CASES = [  # (method, label kind, text pairs)
    ("probe", "binary", False), ("probe", "strings", False), ("probe", "ints", False),
    ("probe", "digits", False), ("probe", "strings", True),
    ("setfit", "strings", False), ("setfit", "digits", True), ("setfit", "ints", False),
    ("setfit+lora", "strings", False),
    ("finetune", "strings", False), ("finetune", "ints", True), ("finetune", "digits", False),
    ("lora", "strings", True), ("lora", "digits", False), ("ia3", "strings", False),
    ("prefix", "strings", False), ("prefix", "digits", True), ("prompt", "strings", False),
    ("ptuning", "ints", False),
    ("causal-lm", "strings", False), ("causal-lm", "digits", True),
]


@pytest.fixture(scope="module")
def news(bbc_news4):
    train, test = bbc_news4
    return train.subset(range(16)), test.subset(range(0, len(test), 5))  # 4 per topic


@pytest.mark.parametrize("method, kind, pairs", CASES)
def test_every_path_gives_the_same_answer(news, request, tmp_path, method, kind, pairs):
    train, test = (relabel(part, kind, pairs=pairs) for part in news)
    backbone = request.getfixturevalue("tiny_causal_lm" if method == "causal-lm"
                                       else "tiny_backbone")
    clf = TextClassifier(**{**FAST, "model": backbone, **METHODS[method]}).fit(train)
    assert sorted(set(clf.labels)) == sorted(set(labels_of(kind, TOPICS)))
    assert exports_to_onnx(clf) == (method in ONNX)
    assert_same_answer_everywhere(clf, test, tmp_path, onnx=method in ONNX)


@slow
def test_news_setfit_through_the_cli_is_accurate_and_consistent(bbc_news4, tmp_path):
    """Issue 10's acceptance, as a user runs it: 4 news topics, 8 articles each, setfit;
    `textune evaluate` on the reloaded model far above chance, and the torch CLI, the ONNX
    CLI and the HTTP service agree label for label."""
    from textune.serving.batch import load_predictor

    train, test = bbc_news4
    pd.DataFrame({"text": train.texts, "topic": train.labels}).to_csv(tmp_path / "train.csv",
                                                                      index=False)
    pd.DataFrame({"text": test.texts, "topic": test.labels}).to_csv(tmp_path / "test.csv",
                                                                    index=False)
    run = CliRunner().invoke
    model, onnx = tmp_path / "news", tmp_path / "news-onnx"
    r = run(app, ["train", "--data", str(tmp_path / "train.csv"), "--label-column", "topic",
                  "--method", "setfit", "--max-length", "128", "--output", str(model), "-q"])
    assert r.exit_code == 0, r.output
    r = run(app, ["evaluate", str(model), "--data", str(tmp_path / "test.csv"),
                  "--label-column", "topic", "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["accuracy"] >= 0.70
    pytest.importorskip("onnxruntime")
    assert run(app, ["export", str(model), "--output", str(onnx), "-q"]).exit_code == 0
    answers = {}
    for backend, folder in (("torch", model), ("onnx", onnx)):
        out = tmp_path / f"{backend}.jsonl"
        r = run(app, ["predict", str(folder), "--backend", backend, "--data",
                      str(tmp_path / "test.csv"), "--output", str(out), "-q"])
        assert r.exit_code == 0, r.output
        answers[backend] = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    http = [a["label"] for a in http_predict(load_predictor(model), test)]
    assert len(answers["torch"]) == len(test) == len(http)
    assert answers["torch"] == answers["onnx"] == http
