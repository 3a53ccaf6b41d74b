"""ONNX export: parity with torch on real inputs, int8, and the CLI round trip."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")

from textune.cli import app  # noqa: E402
from textune.serving.onnx import OnnxClassifier, export_onnx  # noqa: E402

runner = CliRunner()

# real, varied inputs: short, long (truncated at 256 tokens), punctuation, non-Latin script
INPUTS = ["a wonderful, moving film", "dull", "it's not bad -- but it's not good either!",
          "한국어 문장도 오류 없이 처리되어야 합니다", "Ünïcödé façade naïve café",
          " ".join(["an overlong review that keeps going"] * 80)]


@pytest.fixture(scope="module")
def exports(probe_model, tmp_path_factory):
    _, path = probe_model
    root = tmp_path_factory.mktemp("onnx")
    return export_onnx(path, root / "fp32"), export_onnx(path, root / "int8", quantize="int8")


def test_fp32_matches_torch(probe_model, exports, tiny_texts):
    clf, _ = probe_model
    texts = tiny_texts[0] + INPUTS
    onnx = OnnxClassifier.load(exports[0])
    assert onnx.labels == clf.labels and not onnx.is_pair_
    diff = np.abs(onnx.predict_proba(texts) - clf.predict_proba(texts)).max()
    assert diff <= 1e-4, diff
    emb = clf.encoder_.embed(texts)
    assert np.abs(onnx.embed(texts) - emb).max() <= 1e-4
    # batching must not change results: order restored, padding masked
    one_by_one = np.vstack([onnx.predict_proba([t]) for t in texts])
    assert np.abs(one_by_one - onnx.predict_proba(texts, batch_size=3)).max() <= 1e-5


def test_both_runtimes_are_one_predictor(probe_model, exports, tiny_texts):
    """torch and ONNX behind the same `Predictor` protocol: same labels, same card keys,
    same answers, and the same refusal of text pairs for a single-text model."""
    from textune.data import DataError
    from textune.serving.batch import load_predictor, predict_frame
    from textune.serving.predictor import Predictor

    runtimes = [load_predictor(probe_model[1]), load_predictor(exports[0], "onnx")]
    assert all(isinstance(p, Predictor) for p in runtimes)
    torch_p, onnx_p = runtimes
    assert torch_p.labels == onnx_p.labels == probe_model[0].labels
    assert set(torch_p.info) | {"quantize"} == set(onnx_p.info)
    assert (torch_p.info["backend"], onnx_p.info["backend"]) == ("torch", "onnx")
    texts = tiny_texts[0]
    assert np.abs(torch_p.predict_proba(texts) - onnx_p.predict_proba(texts)).max() <= 1e-4
    frame = pd.DataFrame({"text": texts[:2], "pair": texts[2:4]})
    for p in runtimes:
        with pytest.raises(DataError, match="trained on single texts; set text_pair_column"):
            predict_frame(frame, p, text_pair_column="pair")
        with pytest.raises(DataError, match=r"texts\[1\] is empty"):  # zero-width only
            p.predict_proba([texts[0], "\u200b\u2060 \ufeff"])
    marked = ["\ufeff" + texts[0] + "\u200b"]  # real text: classified as written
    assert np.abs(torch_p.predict_proba(marked) - onnx_p.predict_proba(marked)).max() <= 1e-4


def test_fp32_parity_on_sst2(probe_model, exports, sst2_test):
    clf, _ = probe_model
    texts = sst2_test.texts[:200]
    diff = np.abs(OnnxClassifier.load(exports[0]).predict_proba(texts)
                  - clf.predict_proba(texts)).max()
    assert diff <= 1e-4, diff


def test_int8_is_smaller_and_close(probe_model, exports, tiny_texts):
    clf, _ = probe_model
    fp32, int8 = exports
    assert (int8 / "model.onnx").stat().st_size < 0.75 * (fp32 / "model.onnx").stat().st_size
    q = OnnxClassifier.load(int8)
    assert q.config["onnx"]["quantize"] == "int8"
    texts = tiny_texts[0]
    assert np.abs(q.predict_proba(texts) - clf.predict_proba(texts)).max() < 0.05


def test_pair_model_exports_token_types(tmp_path):
    from textune import TextClassifier

    a = ["the cat sat on the mat", "he plays guitar", "prices rose sharply", "it is raining",
         "she won the race", "the shop is closed"]
    b = ["a cat was sitting on the mat", "he is a guitarist", "the sky is green",
         "my dog likes bones", "she came first in the race", "bananas are yellow"]
    y = [1, 1, 0, 0, 1, 0]
    clf = TextClassifier(method="probe").fit(list(zip(a, b)), y)
    clf.save(tmp_path / "m")
    onnx = OnnxClassifier.load(export_onnx(tmp_path / "m", tmp_path / "x"))
    assert onnx.is_pair_ and "token_type_ids" in onnx.input_names
    diff = np.abs(onnx.predict_proba(a, b) - clf.predict_proba(list(zip(a, b)))).max()
    assert diff <= 1e-4, diff


def test_cli_export_and_predict_backend_onnx(probe_model, tmp_path, tiny_texts):
    import pandas as pd

    _, path = probe_model
    data = tmp_path / "in.csv"
    pd.DataFrame({"text": tiny_texts[0]}).to_csv(data, index=False)
    out = tmp_path / "x"
    r = runner.invoke(app, ["export", str(path), "--format", "onnx", "--output", str(out),
                            "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["quantize"] is None
    preds = {}
    for backend, folder in (("torch", path), ("onnx", out)):
        dest = tmp_path / f"{backend}.jsonl"
        r = runner.invoke(app, ["predict", str(folder), "--backend", backend, "--data",
                                str(data), "--output", str(dest), "-q"])
        assert r.exit_code == 0, r.output
        preds[backend] = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [p["label"] for p in preds["onnx"]] == [p["label"] for p in preds["torch"]]
    for a, b in zip(preds["onnx"], preds["torch"]):
        assert set(a["probabilities"]) == {"neg", "pos"}
        assert max(abs(a["probabilities"][k] - b["probabilities"][k]) for k in a["probabilities"]) <= 1e-4
    # the wrong folder for the backend is a clear error, not a traceback
    r = runner.invoke(app, ["predict", str(path), "--backend", "onnx", "--data", str(data),
                            "--output", str(tmp_path / "e.jsonl")])
    assert r.exit_code == 2 and "textune export" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["predict", str(out), "--data", str(data),
                            "--output", str(tmp_path / "e.jsonl")])
    assert r.exit_code == 2 and "--backend onnx" in r.output
    r = runner.invoke(app, ["export", str(path), "--quantize", "int4", "--output",
                            str(tmp_path / "bad")])
    assert r.exit_code == 2 and "int8" in r.output and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("method,peft", [("finetune", None), ("peft", "lora")])
def test_sequence_models_export_with_torch_parity(method, peft, tiny_texts, tiny_backbone,
                                                  tmp_path):
    """finetune and LoRA models (adapter folded in) export as one graph that matches torch,
    pairs included (agreement: the tiny random backbone)."""
    from textune import TextClassifier

    texts, labels = tiny_texts
    pairs = list(zip(texts, reversed(texts)))
    clf = TextClassifier(method=method, peft=peft, model=tiny_backbone, epochs=2,
                         seed=0).fit(pairs, labels)
    clf.save(tmp_path / "m")
    onnx = OnnxClassifier.load(export_onnx(tmp_path / "m", tmp_path / "x"))
    assert onnx.outputs == ["probabilities", "logits"] and "token_type_ids" in onnx.input_names
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    diff = np.abs(onnx.predict_proba(a, b) - clf.predict_proba(pairs)).max()
    assert diff <= 1e-4, diff
    with pytest.raises(ValueError, match="no sentence embeddings"):
        onnx.embed(a, b)


def test_prompt_adapter_export_is_refused_with_advice(tiny_texts, tiny_backbone, tmp_path):
    from textune import TextClassifier
    from textune.serving.onnx import ExportError

    texts, labels = tiny_texts
    TextClassifier(method="prompt", model=tiny_backbone, epochs=1).fit(
        texts, labels).save(tmp_path / "m")
    with pytest.raises(ExportError, match="--peft lora"):
        export_onnx(tmp_path / "m", tmp_path / "x")
    assert not (tmp_path / "x").exists()
