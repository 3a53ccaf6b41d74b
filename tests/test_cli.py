import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from textune.cli import app

from .conftest import shared_file

runner = CliRunner()


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture()
def tiny_csv(tmp_path, tiny_texts):
    import pandas as pd

    texts, labels = tiny_texts
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(path, index=False)
    return path


def test_train_evaluate_predict(tmp_path, tiny_csv):
    out = tmp_path / "m"
    r = runner.invoke(app, ["train", "--method", "probe", "--data", str(tiny_csv),
                            "--output", str(out), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["n_train"] == 16 and res["labels"] == ["neg", "pos"] and res["train_seconds"] > 0

    r = runner.invoke(app, ["evaluate", str(out), "--data", str(tiny_csv), "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["accuracy"] == 1.0 and res["n"] == 16 and 0 < res["f1_macro"] <= 1

    pred = tmp_path / "pred.jsonl"
    r = runner.invoke(app, ["predict", str(out), "--data", str(tiny_csv), "--output", str(pred),
                            "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    assert len(rows) == 16
    assert rows[0]["label"] == "pos" and set(rows[0]["probabilities"]) == {"neg", "pos"}


def test_train_setfit_shots_on_sst2(tmp_path):
    data = shared_file("sst2_train.tsv")
    r = runner.invoke(app, ["train", "--data", str(data), "--shots", "8", "--seed", "1",
                            "--output", str(tmp_path / "m"), "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["n_train"] == 16 and res["labels"] == ["0", "1"] and res["method"] == "setfit"


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,a\n,b\n")
    r = runner.invoke(app, ["train", "--data", str(bad), "--output", str(tmp_path / "m")])
    assert r.exit_code == 2
    assert "bad.csv" in r.output and "row 2 (line 3)" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["train", "--data", str(bad), "--text-column", "txt",
                            "--output", str(tmp_path / "m")])
    assert r.exit_code == 2 and "Did you mean 'text'" in r.output
    r = runner.invoke(app, ["evaluate", str(tmp_path / "nomodel"), "--data", str(bad)])
    assert r.exit_code == 2 and "not a textune model folder" in r.output


def test_unknown_method_is_rejected(tmp_path, tiny_csv):
    r = runner.invoke(app, ["train", "--method", "magic", "--data", str(tiny_csv),
                            "--output", str(tmp_path / "m")])
    assert r.exit_code == 2 and "unknown method 'magic'" in r.output


@pytest.mark.parametrize("cmd", [[], ["train"], ["evaluate"], ["predict"], ["demo"], ["compare"],
                                 ["export"], ["serve"]])
def test_help_teaches_with_examples(cmd):
    r = subprocess.run([sys.executable, "-m", "textune", *cmd, "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "Example" in r.stdout


@pytest.mark.slow
def test_train_peft_reports_trainable_parameters_and_predicts(tmp_path, tiny_csv):
    out = tmp_path / "lora"
    r = runner.invoke(app, ["train", "--method", "peft", "--peft", "lora", "--epochs", "2",
                            "--data", str(tiny_csv), "--output", str(out), "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = last_json(r.output)
    assert res["peft"] == "lora" and res["trainable_parameters"] == 74_498
    assert res["total_parameters"] > 22_000_000 and isinstance(res["health_warnings"], list)
    pred = tmp_path / "pred.jsonl"
    r = runner.invoke(app, ["predict", str(out), "--data", str(tiny_csv), "--output",
                            str(pred), "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in pred.read_text().splitlines()]
    assert len(rows) == 16 and {x["label"] for x in rows} <= {"pos", "neg"}
    # the adapter is folded in on export; the ONNX backend predicts the same labels
    r = runner.invoke(app, ["export", str(out), "--output", str(tmp_path / "onnx"), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["predict", str(tmp_path / "onnx"), "--backend", "onnx", "--data",
                            str(tiny_csv), "--output", str(tmp_path / "onnx.jsonl"), "-q"])
    assert r.exit_code == 0, r.output
    onnx_rows = [json.loads(x) for x in (tmp_path / "onnx.jsonl").read_text().splitlines()]
    assert [x["label"] for x in onnx_rows] == [x["label"] for x in rows]


def test_train_help_lists_methods_and_adapters():
    r = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert r.exit_code == 0
    for word in ("finetune", "peft", "lora", "ia3", "prefix", "prompt", "ptuning", "--merge",
                 "--class-weight", "--grad-accum", "--label-words", "smollm2"):
        assert word in r.output, word
