"""What the model knows, the commands know (issue 27 item 6): the options `textune train`
read its data with are saved in the model folder and are the defaults of `evaluate` and
`predict` on it; an option given still wins, and a file the saved options do not fit gets
an error that names them. On the tiny backbone: this checks agreement, not accuracy."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import shared_file
from textune.cli import app

runner = CliRunner()
EKMAN = shared_file("goemotions/ekman_labels.txt")


def _run(*args: str) -> dict:
    r = runner.invoke(app, [*map(str, args), "--json", "-q"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def _rows(part: str, sizes: dict[int, int], per_label: int = 0) -> pd.DataFrame:
    """GoEmotions (Ekman labels, no header, ids) rows: `per_label` rows of each label alone,
    then `sizes[k]` rows with k labels."""
    df = pd.read_csv(shared_file(f"goemotions/ekman_{part}.tsv"), sep="\t", header=None,
                     names=["text", "ids", "id"], dtype=str, quoting=3)
    n = df["ids"].str.count(",") + 1
    alone = [df[df["ids"] == str(i)].head(per_label) for i in range(7)] if per_label else []
    return pd.concat(alone + [df[n == k].head(m) for k, m in sizes.items()])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The issue's format (a header, labels by name: `anger,joy`) and GoEmotions' own (no
    header, ids into the labels file); test rows with 1, 2 and 3 labels."""
    folder = tmp_path_factory.mktemp("reading")
    names = EKMAN.read_text().split()
    out = {}
    for part, sizes, alone in (("train", {2: 20, 3: 4}, 8), ("dev", {1: 4, 2: 3, 3: 2}, 0)):
        df = _rows(part, sizes, alone)
        raw = folder / f"raw_{part}.tsv"
        df[["text", "ids"]].to_csv(raw, sep="\t", header=False, index=False)
        named = df.assign(labels=[",".join(names[int(i)] for i in ids.split(","))
                                  for ids in df["ids"]])[["text", "labels"]]
        path = folder / f"{part}.tsv"
        named.to_csv(path, sep="\t", index=False)
        out[part], out[f"raw_{part}"] = path, raw
    assert len(set(",".join(named["labels"]).split(","))) >= 3
    piped = folder / "piped.tsv"  # the same rows, another separator
    named.assign(labels=named["labels"].str.replace(",", "|")).to_csv(piped, sep="\t",
                                                                       index=False)
    out["piped"] = piped
    return out


@pytest.fixture(scope="module")
def model(files, tiny_backbone, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    _run("train", "--method", "probe", "--model", tiny_backbone, "--multi-label",
         "--data", files["train"], "--text-column", "text", "--label-column", "labels",
         "--output", out)
    return out


def test_a_multi_label_model_evaluates_its_training_format_with_no_repeated_flags(files,
                                                                                   model):
    saved = json.loads((model / "textune.json").read_text())["reading"]
    assert saved == {"multi_label": True, "text_column": "text", "label_column": "labels"}
    # the command: columns named, --multi-label not repeated
    named = _run("evaluate", model, "--data", files["dev"], "--text-column", "text",
                 "--label-column", "labels")
    bare = _run("evaluate", model, "--data", files["dev"])
    full = _run("evaluate", model, "--data", files["dev"], "--text-column", "text",
                "--label-column", "labels", "--multi-label")
    assert named == bare == full
    assert named["multi_label"] and named["n"] == 9 and len(named["labels"]) >= 3
    assert named["labels_per_row"]["true"] == pytest.approx((4 + 2 * 3 + 3 * 2) / 9)


def test_a_multi_label_model_predicts_its_training_format_with_no_flags(files, model,
                                                                        tmp_path):
    bare, full = tmp_path / "bare.jsonl", tmp_path / "full.jsonl"
    assert _run("predict", model, "--data", files["dev"], "--output", bare)["n"] == 9
    _run("predict", model, "--data", files["dev"], "--output", full, "--text-column", "text")
    assert bare.read_text() == full.read_text()
    rows = [json.loads(line) for line in bare.read_text().splitlines()]
    assert all(isinstance(r["labels"], list) for r in rows)  # label sets


def test_a_file_the_model_does_not_fit_names_the_option(files, model):
    r = runner.invoke(app, ["evaluate", str(model), "--data", str(files["piped"]), "-q"])
    assert r.exit_code == 2
    assert "--multi-label" in r.output and "take" in r.output  # what came from the model
    # an option given wins over the model's
    ok = _run("evaluate", model, "--data", files["piped"], "--label-separator", "|")
    assert ok == _run("evaluate", model, "--data", files["dev"])
    r = runner.invoke(app, ["evaluate", str(model), "--data", str(files["dev"]),
                            "--label-separator", ";", "-q"])
    assert r.exit_code == 2 and "given here instead: --label-separator ';'" in r.output


def test_no_header_and_label_names_file_are_saved_too(files, tiny_backbone, tmp_path):
    out = tmp_path / "raw-model"
    _run("train", "--method", "probe", "--model", tiny_backbone, "--multi-label",
         "--no-header", "--text-column", "0", "--label-column", "1",
         "--label-names-file", EKMAN, "--data", files["raw_train"], "--output", out)
    saved = json.loads((out / "textune.json").read_text())["reading"]
    assert saved["label_names"] == EKMAN.read_text().split() and "header" not in saved
    bare = _run("evaluate", out, "--data", files["raw_dev"])
    assert bare == _run("evaluate", out, "--data", files["raw_dev"], "--multi-label",
                        "--no-header", "--text-column", "0", "--label-column", "1",
                        "--label-names-file", EKMAN)
    assert bare["n"] == 9 and bare["labels"] == EKMAN.read_text().split()
    # a file without the model's columns (here: a header, a text column): detected as before
    texts = tmp_path / "texts.csv"
    pd.read_csv(files["dev"], sep="\t")[["text"]].to_csv(texts, index=False)
    assert _run("predict", out, "--data", texts, "--output", tmp_path / "p.jsonl")["n"] == 9


def test_a_folder_without_saved_options_keeps_todays_defaults(files, model, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(model, old)
    config = json.loads((old / "textune.json").read_text())
    del config["reading"]
    (old / "textune.json").write_text(json.dumps(config))
    r = runner.invoke(app, ["evaluate", str(old), "--data", str(files["dev"]), "--text-column",
                            "text", "--label-column", "labels", "-q"])
    assert r.exit_code == 2 and "--multi-label" in r.output  # as before: say it
    assert _run("evaluate", old, "--data", files["dev"], "--text-column", "text",
                "--label-column", "labels", "--multi-label") == _run(
        "evaluate", model, "--data", files["dev"])
