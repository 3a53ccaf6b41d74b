"""Streaming prediction over files, and the batch -> batch function for Ray Data / Spark."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textune.serving.batch import (BatchPredictor, TorchPredictor, load_predictor,
                                   predict_frame, stream_predict)
from textune.cli import app
from textune.data import DataError

runner = CliRunner()


@pytest.fixture(scope="module")
def predictor(probe_model):
    return TorchPredictor(probe_model[0])


def test_predict_frame_pandas_and_arrow(predictor, tiny_texts):
    import pyarrow as pa

    texts = tiny_texts[0]
    df = pd.DataFrame({"id": range(len(texts)), "text": texts})
    out = predict_frame(df, predictor)
    assert list(out.columns) == ["id", "text", "label", "proba_neg", "proba_pos"]
    want = predictor.predict_proba(texts)
    assert np.allclose(out[["proba_neg", "proba_pos"]].to_numpy(), want, atol=1e-6)
    assert out["label"].tolist() == tiny_texts[1]
    table = predict_frame(pa.Table.from_pandas(df), predictor, keep_columns=False)
    assert isinstance(table, pa.Table) and table.column_names == ["label", "proba_neg",
                                                                  "proba_pos"]
    assert predict_frame(df.iloc[:0], predictor).shape[0] == 0  # empty batches happen
    with pytest.raises(DataError, match="no column 'body'"):
        predict_frame(df, predictor, text_column="body")


def test_batch_predictor_is_a_ray_style_callable(probe_model, tiny_texts):
    fn = BatchPredictor(str(probe_model[1]), text_column="review")
    out = fn(pd.DataFrame({"review": tiny_texts[0][:3]}))
    assert out["label"].tolist() == ["pos"] * 3


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_stream_in_chunks_equals_one_shot(predictor, tiny_texts, tmp_path, fmt):
    texts = tiny_texts[0]
    df = pd.DataFrame({"sentence": texts, "label": tiny_texts[1]})
    src = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        df.to_parquet(src)
    elif fmt == "jsonl":
        df.to_json(src, orient="records", lines=True)
    else:
        df.to_csv(src, index=False, sep="\t" if fmt == "tsv" else ",")
    out = tmp_path / "out.jsonl"
    n = stream_predict(src, out, predictor, chunk_size=3)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == len(rows) == len(texts)
    want = predictor.predict_proba(texts)
    assert [r["label"] for r in rows] == [predictor.labels[i] for i in want.argmax(1)]
    got = np.array([[r["probabilities"]["neg"], r["probabilities"]["pos"]] for r in rows])
    assert np.abs(got - want).max() < 1e-5


def test_stream_error_leaves_no_partial_output(predictor, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("text,id\n" + "fine text,1\n" * 5 + ",6\nmore,7\n")  # row 6 empty
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    with pytest.raises(DataError, match=r"empty in row 6 \(line 7\)"):  # file row, not chunk row
        stream_predict(src, out, predictor, chunk_size=2)
    assert out.read_text() == "previous results\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.jsonl"]


def test_cli_predict_chunked_json(probe_model, tiny_texts, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": tiny_texts[0]}).to_csv(src, index=False)
    out = tmp_path / "p.jsonl"
    r = runner.invoke(app, ["predict", str(probe_model[1]), "--data", str(src), "--output",
                            str(out), "--chunk-size", "5", "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output.strip().splitlines()[-1])
    assert res["n"] == 16 and res["backend"] == "torch" and res["texts_per_second"] > 0
    assert len(out.read_text().splitlines()) == 16
    r = runner.invoke(app, ["predict", str(probe_model[1]), "--backend", "tensorflow",
                            "--data", str(src), "--output", str(out)])
    assert r.exit_code == 2 and "unknown --backend" in r.output


def test_load_predictor_rejects_unknown_backend(probe_model):
    with pytest.raises(ValueError, match="unknown backend"):
        load_predictor(probe_model[1], "tf")


# ---- output row k is input row k; input columns are never touched --------------------------

TOPICS = {  # digit-string labels, first seen in non-sorted order: "2", "10", "07"
    "2": ["the striker scored twice in the cup final", "a late goal won the football match",
          "the tennis champion won in straight sets", "the team lost the rugby game"],
    "10": ["simmer the onions in butter until soft", "bake the bread for forty minutes",
           "whisk the eggs with sugar and flour", "season the soup with salt and pepper"],
    "07": ["heavy rain and strong winds expected tomorrow", "a sunny afternoon with light clouds",
           "snow will fall overnight in the hills", "the storm brings thunder and hail"],
}


@pytest.fixture(scope="module")
def topic_model(tmp_path_factory):
    from textune import TextClassifier

    texts = [t for group in zip(*TOPICS.values()) for t in group]
    labels = [y for _ in range(4) for y in TOPICS]
    clf = TextClassifier(method="probe").fit(texts, labels)
    path = tmp_path_factory.mktemp("models") / "topics"
    clf.save(path)
    return clf, path


def test_predict_frame_rejects_missing_text_naming_row_and_column(topic_model):
    df = pd.DataFrame({"text": ["a goal in the final", None, np.nan, "  ", "bake a cake"]},
                      index=[10, 11, 12, 13, 14], dtype=object)
    with pytest.raises(DataError) as e:
        predict_frame(df, TorchPredictor(topic_model[0]))
    msg = str(e.value)
    assert "column 'text'" in msg and "row 2 (index 11: None)" in msg
    assert "row 3 (index 12: nan)" in msg and "row 4 (index 13: '  ')" in msg
    assert "row 1 " not in msg and "row 5 " not in msg


def test_predict_frame_never_overwrites_input_columns(topic_model):
    clf, _ = topic_model
    texts = ["rain and wind tonight", "fry the garlic gently", "the keeper saved a penalty"]
    gold = ["2", "07", "10"]  # not what the model predicts: a clobbered column would show
    df = pd.DataFrame({"text": texts, "label": gold, "proba_2": ["mine"] * 3})
    out = predict_frame(df, TorchPredictor(clf))
    assert out["label"].tolist() == gold and out["proba_2"].tolist() == ["mine"] * 3
    probas = [f"predicted_proba_{c}" for c in clf.labels]
    assert sorted(clf.labels) == ["07", "10", "2"]
    assert list(out.columns[3:]) == ["predicted_label", *probas]
    assert out["predicted_label"].tolist() == list(clf.predict(texts)) == ["07", "10", "2"]
    assert np.allclose(out[probas].to_numpy(), clf.predict_proba(texts), atol=1e-6)
    plain = predict_frame(df, TorchPredictor(clf), keep_columns=False)
    assert list(plain.columns) == ["label", *[f"proba_{c}" for c in clf.labels]]
    with pytest.raises(DataError, match=r"already has columns.*predicted_label"):
        predict_frame(df.assign(predicted_label="x"), TorchPredictor(clf))


def test_cli_predict_ignores_label_column_even_with_blanks(topic_model, tmp_path):
    clf, path = topic_model
    texts = ["rain and wind tonight", "fry the garlic gently", "the keeper saved a penalty",
             "a wet and windy weekend"]
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": texts, "label": ["07", "", "2", ""]}).to_csv(src, index=False)
    out = tmp_path / "p.jsonl"
    r = runner.invoke(app, ["predict", str(path), "--data", str(src), "--output", str(out),
                            "--chunk-size", "3", "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["label"] for row in rows] == list(clf.predict(texts))


def test_cli_predict_blank_line_stops_naming_it(topic_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\nrain and wind tonight\n\nfry the garlic gently\n")
    out = tmp_path / "p.jsonl"
    r = runner.invoke(app, ["predict", str(topic_model[1]), "--data", str(src), "--output",
                            str(out), "-q"])
    assert r.exit_code == 2 and "row 2 (line 3)" in r.output and "empty" in r.output
    assert not out.exists()  # never a shorter file whose line k is not input row k


def test_cli_predict_reads_quoted_multiline_tsv(topic_model, tmp_path):
    clf, path = topic_model
    texts = ["rain and wind\ntonight, then \"heavy\" snow", "fry the garlic\tgently",
             "the keeper saved a penalty", "a wet and\r\nwindy weekend"]
    src = tmp_path / "in.tsv"
    pd.DataFrame({"id": ["1", "2", "3", "4"], "review": texts}).to_csv(src, sep="\t",
                                                                       index=False)
    out = tmp_path / "p.jsonl"
    args = ["predict", str(path), "--data", str(src), "--output", str(out), "--chunk-size", "2"]
    r = runner.invoke(app, args + ["-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["label"] for row in rows] == list(clf.predict(texts))
    r = runner.invoke(app, args + ["--quoting", "none"])
    assert r.exit_code == 2 and "line 3 has 1 fields" in r.output and "--quoting csv" in r.output


def test_torch_predictor_recommends_onnx_when_onnxruntime_is_installed(probe_model, caplog):
    pytest.importorskip("onnxruntime")
    caplog.set_level("INFO", logger="textune")
    load_predictor(probe_model[1], "torch")
    assert f"textune export {probe_model[1]} -o" in caplog.text
    assert "--backend onnx" in caplog.text
