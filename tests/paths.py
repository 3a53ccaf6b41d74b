"""One assertion every method and feature plugs into: a trained classifier gives the same
answer in memory, after a reload, through `textune predict`, through `predict_frame` (what Ray
Data / Spark run), over HTTP and, where the model exports, through ONNX Runtime.

    from tests.paths import assert_same_answer_everywhere
    assert_same_answer_everywhere(clf, test_examples, tmp_path)

Binary-only round trips once passed while every 3+-class model reloaded scrambled: feed it
3+ classes, string labels in first-seen order and digit-string labels: conftest's
`bbc_news4` / `bbc_news5` relabelled with `tests.labels.relabel` (see tests/README.md).
"""

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textune import Examples, TextClassifier
from textune.cli import app


def _frame(ex: Examples) -> pd.DataFrame:
    df = pd.DataFrame({"text": ex.texts})
    if ex.is_pair:
        df["text_pair"] = ex.text_pairs
    return df


def _labels_of(clf, proba) -> list:
    """The top label per row, or the list of chosen labels for a multi-label model."""
    return clf.decision_.labels(np.asarray(proba), clf.labels)


def _serve(predictor):
    from textune.serving.http import create_app
    from textune.serving.server import bind_socket, make_server

    sock = bind_socket("127.0.0.1", 0)
    server = make_server(create_app(predictor), log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def http_predict(predictor, ex: Examples):
    httpx = pytest.importorskip("httpx")
    server, thread, url = _serve(predictor)
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        body = {"texts": ex.texts}
        if ex.is_pair:
            body["text_pairs"] = ex.text_pairs
        r = httpx.post(f"{url}/v1/classify", json=body, timeout=60)
        assert r.status_code == 200, r.text
        # the OpenAPI document describes the shape served ("label" or "labels")
        schema = httpx.get(f"{url}/openapi.json").json()["components"]["schemas"]["Prediction"]
        assert set(schema["properties"]) == set(r.json()[0]) == set(schema["examples"][0])
        return r.json()
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def assert_same_answer_everywhere(clf: TextClassifier, test: Examples, tmp_path, *,
                                  onnx: bool | None = None) -> None:
    """Assert every path agrees with `clf.predict_proba(test)` (probabilities within 1e-5,
    ONNX 1e-4). `onnx=None` exports when the model kind supports it (embedding models and
    encoder fine-tunes without virtual tokens)."""
    from textune.serving.batch import load_predictor, predict_frame

    pairs = test.is_pair
    want = clf.predict_proba(test)
    labels = _labels_of(clf, want)
    key = "labels" if clf.multi_label else "label"  # the output field, in files and HTTP
    assert clf.predict_labels(test) == labels
    if clf.multi_label:  # scikit-learn's convention: a (rows, labels) 0/1 matrix
        np.testing.assert_array_equal(clf.predict(test), clf.decision_.indicator(want))
    else:
        assert list(clf.predict(test)) == labels

    path = tmp_path / "model"
    clf.save(path)
    again = TextClassifier.load(path)
    assert again.labels == clf.labels
    np.testing.assert_allclose(again.predict_proba(test), want, atol=1e-5)

    # the CLI, reading a file and writing JSON Lines
    data = tmp_path / "input.csv"
    _frame(test).to_csv(data, index=False)
    out = tmp_path / "pred.jsonl"
    r = CliRunner().invoke(app, ["predict", str(path), "--data", str(data), "--output",
                                 str(out), "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row[key] for row in rows] == labels  # same values and types ("007" stays text)
    np.testing.assert_allclose([[row["probabilities"][str(c)] for c in clf.labels]
                                for row in rows], want, atol=1e-5)

    # the batch function that Ray Data / Spark run
    predictor = load_predictor(path)
    frame = predict_frame(_frame(test), predictor, text_column="text",
                          text_pair_column="text_pair" if pairs else None)
    assert list(frame[key]) == labels
    np.testing.assert_allclose(frame[[f"proba_{c}" for c in clf.labels]].to_numpy(), want,
                               atol=1e-5)

    # the HTTP service
    answers = http_predict(predictor, test)
    assert [a[key] for a in answers] == labels
    np.testing.assert_allclose([[a["probabilities"][str(c)] for c in clf.labels]
                                for a in answers], want, atol=1e-5)

    hugging_face_answers(clf, path, test, want)

    if onnx is None:
        onnx = exports_to_onnx(clf)
    if onnx:
        pytest.importorskip("onnxruntime")
        from textune.serving.onnx import OnnxClassifier, export_onnx

        export_onnx(path, tmp_path / "onnx")
        runtime = OnnxClassifier.load(tmp_path / "onnx")
        got = runtime.predict_proba(test.texts, test.text_pairs)
        np.testing.assert_allclose(got, want, atol=1e-4)
        same = np.mean([a == b for a, b in zip(runtime.decision.labels(got, runtime.labels),
                                               labels)])
        assert same >= 0.99


def hugging_face_answers(clf: TextClassifier, path, test: Examples, want) -> None:
    """The saved folder read by Hugging Face libraries themselves: a finetune (or merged
    peft) model's `model/` in `transformers.pipeline`, scoring every label by its real
    name; a setfit/probe `body/` in sentence-transformers, whose embeddings give the same
    probabilities through the saved head."""
    max_length = json.loads((path / "textune.json").read_text()).get("max_length")
    if _reads_long_texts(path):  # Hugging Face reads a long text's first window only
        return
    if (path / "model").is_dir():
        from transformers import pipeline

        pipe = pipeline("text-classification", model=str(path / "model"), top_k=None,
                        device="cpu")
        inputs = test.texts if not test.is_pair else [
            {"text": t, "text_pair": p} for t, p in zip(test.texts, test.text_pairs)]
        assert pipe.tokenizer.model_max_length == max_length  # truncates where textune does
        answers = pipe(inputs, truncation=True)
        assert {d["label"] for d in answers[0]} == {str(c) for c in clf.labels}
        got = [[{d["label"]: d["score"] for d in row}[str(c)] for c in clf.labels]
               for row in answers]
        np.testing.assert_allclose(got, want, atol=1e-5)
    elif (path / "body").is_dir() and not test.is_pair:
        from sentence_transformers import SentenceTransformer

        body = SentenceTransformer(str(path / "body"), device="cpu")
        if _is_static(path):  # StaticEmbedding reads whole texts and averages unknown tokens
            known = _without_unknown_tokens(path / "body", test)
            np.testing.assert_allclose(clf.head_.predict_proba(body.encode(known.texts)),
                                       clf.predict_proba(known), atol=1e-5)
            return
        assert body.max_seq_length == max_length
        np.testing.assert_allclose(clf.head_.predict_proba(body.encode(test.texts)), want,
                                   atol=1e-5)


def _is_static(path) -> bool:
    return json.loads((path / "textune.json").read_text()).get("body_format") == "static"


def _without_unknown_tokens(body, test: Examples) -> Examples:
    """The rows with no unknown token: model2vec (and textune) drop unknown tokens,
    sentence-transformers' StaticEmbedding averages the [UNK] vector in."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(body / "tokenizer.json"))
    unk = tok.token_to_id(tok.model.unk_token)
    keep = [i for i, t in enumerate(test.texts)
            if unk not in tok.encode(t, add_special_tokens=False).ids]
    assert keep, "every test text has an unknown token: nothing to compare"
    return test.subset(keep)


def _reads_long_texts(path) -> bool:
    """A `--long-text chunk` model pools windows of a long text; transformers and
    sentence-transformers read the first window only, so they agree on short texts alone."""
    config = json.loads((path / "textune.json").read_text())
    return (config.get("long_text") or {}).get("mode") == "chunk"


def exports_to_onnx(clf: TextClassifier) -> bool:
    """Whether `textune export` supports this model (see serving/onnx.py)."""
    if clf.kind == "embedding":
        return not getattr(clf.encoder_, "static", False)  # no transformer to export
    if clf.kind == "sequence":
        return getattr(clf.model_, "peft", None) in (None, "lora", "ia3")
    return False
