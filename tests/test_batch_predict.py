"""Streaming prediction over files, and the batch -> batch function for Ray Data / Spark."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textune.batch_predict import (BatchPredictor, TorchPredictor, load_predictor,
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
    with pytest.raises(DataError, match=r"empty in row 2 \(line 7\)"):
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
