"""Multi-label models (label sets: GoEmotions' emotions) give the same answer through every
path, decide by per-label thresholds, and report multi-label metrics; what is not built yet
for label sets is refused with a message that says what to use."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import shared_file
from tests.paths import assert_same_answer_everywhere
from textune import DataError, Examples, TextClassifier, load_examples, sample_per_class
from textune.cli import app
from textune.models.decision import Decision, tune_thresholds

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def _goemotions(part: str):
    path = shared_file(f"goemotions/ekman_{part}.tsv")
    return load_examples(path, header=False, text_column="0", label_column="1",
                         label_names=shared_file("goemotions/ekman_labels.txt"),
                         multi_label=True)


@pytest.fixture(scope="module")
def ekman():
    train, dev = _goemotions("train"), _goemotions("dev")
    return sample_per_class(train, 8, seed=0), dev


def _mixed_rows(dev: Examples) -> Examples:
    """Dev rows with 1, 2 and 3 labels, plus two rows whose labels were removed (a text with
    no label is predicted like any other)."""
    by_size = {k: [i for i, y in enumerate(dev.labels) if len(y) == k] for k in (1, 2, 3)}
    idx = by_size[1][:6] + by_size[2][:3] + by_size[3][:2]
    assert len(by_size[3]) >= 2, "GoEmotions ekman dev has rows with 3 labels"
    return dev.subset(idx)


def test_raw_goemotions_reads_as_label_sets(ekman):
    train, dev = ekman
    assert train.multi_label and train.classes == EKMAN  # the labels file's order
    assert max(len(y) for y in dev.labels) >= 3
    counts = train.indicator().sum(axis=0)
    assert (counts >= 8).all()  # at least 8 examples for every label


def test_probe_on_label_sets_gives_the_same_answer_everywhere(ekman, tmp_path):
    train, dev = ekman
    clf = TextClassifier(method="probe", max_length=64, min_labels=1).fit(train)
    assert clf.multi_label and clf.labels == EKMAN
    test = _mixed_rows(dev)
    pred = clf.predict(test)
    assert pred.shape == (len(test), 7) and set(np.unique(pred)) <= {0, 1}
    assert (pred.sum(axis=1) >= 1).all()  # min_labels=1: never an empty answer
    proba = clf.predict_proba(test)
    assert not np.allclose(proba.sum(axis=1), 1)  # independent sigmoids, not a softmax
    assert_same_answer_everywhere(clf, test, tmp_path)
    saved = json.loads((tmp_path / "model" / "textune.json").read_text())
    assert saved["multi_label"] is True
    assert saved["decision"] == {"multi_label": True, "thresholds": [0.5] * 7, "min_labels": 1}


@pytest.mark.slow
def test_setfit_on_label_sets_trains_and_reloads_identically(ekman, tmp_path):
    train, dev = ekman
    test = _mixed_rows(dev)
    clf = TextClassifier(method="setfit", steps=6, max_length=64).fit(train)
    assert clf.fit_stats_["contrastive_steps"] == 6
    clf.save(tmp_path / "m")
    again = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), clf.predict_proba(test), atol=1e-6)
    assert again.predict_labels(test) == clf.predict_labels(test)
    scores = again.evaluate(test)
    for key in ("f1_micro", "f1_macro", "f1_samples", "subset_accuracy", "hamming_loss", "n"):
        assert key in scores
    assert scores["n"] == len(test) and set(scores["per_class"]) == set(EKMAN)


def test_the_raw_files_train_evaluate_and_predict_with_flags_only(tmp_path):
    flags = ["--multi-label", "--no-header", "--text-column", "0", "--label-column", "1",
             "--label-names-file", str(shared_file("goemotions/ekman_labels.txt"))]
    train, dev = (str(shared_file(f"goemotions/ekman_{p}.tsv")) for p in ("train", "dev"))
    run = CliRunner().invoke
    r = run(app, ["train", "--data", train, *flags, "--method", "probe", "--shots", "8",
                  "--max-length", "64", "--min-labels", "1", "--output", str(tmp_path / "m"),
                  "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["multi_label"] is True
    # the dev file, cut to 60 rows so the test stays quick
    small = tmp_path / "dev.tsv"
    small.write_text("".join(open(dev, encoding="utf-8").readlines()[:60]), encoding="utf-8")
    r = run(app, ["evaluate", str(tmp_path / "m"), "--data", str(small), *flags, "--json",
                  "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output.strip().splitlines()[-1])
    assert m["n"] == 60 and 0.0 < m["f1_micro"] <= 1.0 and len(m["per_class"]) == 7
    out = tmp_path / "pred.jsonl"
    # no --no-header: a column named by position that line 1 lacks means a headerless file
    r = run(app, ["predict", str(tmp_path / "m"), "--data", str(small),
                  "--text-column", "0", "--output", str(out), "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 60 and all(row["labels"] and set(row["labels"]) <= set(EKMAN)
                                   for row in rows)


def test_thresholds_and_min_labels_decide():
    proba = np.array([[0.9, 0.6, 0.1], [0.2, 0.3, 0.1], [0.45, 0.55, 0.5]])
    assert Decision(True).labels(proba, ["a", "b", "c"]) == [["a", "b"], [], ["b", "c"]]
    assert Decision(True, min_labels=1).labels(proba, ["a", "b", "c"]) == \
        [["a", "b"], ["b"], ["b", "c"]]
    assert Decision(True, thresholds=[0.95, 0.5, 0.4]).labels(proba, [1, 2, 3]) == \
        [[2], [], [2, 3]]
    assert Decision(False).labels(proba, ["a", "b", "c"]) == ["a", "b", "b"]


def test_tuned_thresholds_maximise_each_labels_f1():
    rng = np.random.default_rng(0)
    truth = rng.random((60, 4)) < [0.1, 0.3, 0.5, 0.0]  # the last label never occurs
    proba = np.clip(truth * 0.3 + rng.random((60, 4)) * 0.7, 0, 1)
    tuned = tune_thresholds(proba, truth)
    assert tuned[3] == 0.5  # nothing to tune on

    def f1(k, t):
        pred = proba[:, k] >= t
        return 2 * (pred & truth[:, k]).sum() / (pred.sum() + truth[:, k].sum())

    for k in range(3):  # no threshold on a fine grid beats the tuned one
        assert f1(k, tuned[k]) >= max(f1(k, t) for t in np.linspace(0.01, 0.99, 197)) - 1e-12
    assert tune_thresholds([[0.9], [0.7], [0.3], [0.2]], [[1], [1], [0], [0]]) == [0.5]


def test_tuned_thresholds_are_saved_and_decide_everywhere(ekman, tmp_path):
    """--threshold tune: out-of-fold probabilities pick a threshold per label; the tuned
    thresholds are saved, printed, and every path decides with them."""
    flags = ["--multi-label", "--no-header", "--text-column", "0", "--label-column", "1",
             "--label-names-file", str(shared_file("goemotions/ekman_labels.txt"))]
    r = CliRunner().invoke(app, ["train", "--data", str(shared_file("goemotions/ekman_train.tsv")),
                                 *flags, "--method", "probe", "--shots", "8", "--max-length",
                                 "64", "--threshold", "tune", "--output", str(tmp_path / "m"),
                                 "--json", "-q"])
    assert r.exit_code == 0, r.output
    printed = json.loads(r.output.strip().splitlines()[-1])["thresholds"]
    assert list(printed) == EKMAN and len(set(printed.values())) > 1  # tuned per label
    clf = TextClassifier.load(tmp_path / "m")
    assert clf.decision_.thresholds == list(printed.values())
    assert clf.fit_stats_["tuned_on_rows"] >= 7 * 8
    assert_same_answer_everywhere(clf, _mixed_rows(ekman[1]), tmp_path / "paths")
    r = CliRunner().invoke(app, ["train", "--data", "x.tsv", "--threshold", "high"])
    assert r.exit_code != 0 and "neither a number between 0 and 1 nor 'tune'" in r.output


def test_scikit_learn_label_lists_and_indicator_matrices():
    texts = ["rain and wind", "sunny and warm", "stocks fell", "shares rose on rain news",
             "a warm market day", "wind hits the port", "sunny stocks", "cold rain"]
    sets = [("weather",), ("weather",), ("markets",), ("markets", "weather"), ("markets",),
            ("weather", "ports"), ("markets", "weather"), ("weather",)]
    clf = TextClassifier(method="probe").fit(texts, [list(s) for s in sets])
    assert list(clf.classes_) == ["markets", "ports", "weather"]
    assert clf.predict(texts).shape == (8, 3)
    Y = np.array([[int(c in s) for c in ("markets", "ports", "weather")] for s in sets])
    by_matrix = TextClassifier(method="probe").fit(texts, Y)
    assert list(by_matrix.classes_) == [0, 1, 2]  # MultiLabelBinarizer convention
    np.testing.assert_allclose(by_matrix.predict_proba(texts), clf.predict_proba(texts),
                               atol=1e-6)
    assert 0.0 <= clf.score(texts, [list(s) for s in sets]) <= 1.0  # subset accuracy


@pytest.mark.parametrize("kw", [dict(method="finetune", epochs=2, validation=0.3,
                                     threshold="tune"),
                                dict(method="peft", peft="lora", epochs=2)],
                         ids=["finetune-tuned", "lora"])
def test_fine_tuned_label_sets_give_the_same_answer_everywhere(ekman, tiny_backbone, tmp_path,
                                                              kw):
    """Sigmoid outputs and binary cross-entropy (transformers' multi_label_classification),
    through reload, CLI, batch, HTTP and ONNX (agreement: the tiny random backbone)."""
    train, dev = ekman
    clf = TextClassifier(max_length=48, seed=0, class_weight="balanced", model=tiny_backbone,
                         **kw).fit(train)
    assert clf.multi_label and clf.model_.multi_label
    if kw.get("threshold") == "tune":  # on the validation split the run held out
        assert clf.fit_stats_["tuned_on_rows"] == clf.fit_stats_["validation_rows"] > 0
        assert len(clf.decision_.thresholds) == 7
    assert_same_answer_everywhere(clf, _mixed_rows(dev), tmp_path)


def test_settings_label_sets_do_not_take_are_refused_clearly():
    texts = ["rain today", "stocks up", "rain on stocks", "port closed"]
    sets = [["weather"], ["markets"], ["markets", "weather"], ["ports"]]
    with pytest.raises(ValueError, match="threshold and min_labels apply to multi-label"):
        TextClassifier(method="probe", threshold=0.3).fit(texts, ["x", "y", "x", "y"])
    with pytest.raises(ValueError, match="threshold must be a number between 0 and 1 or 'tune'"):
        TextClassifier(method="probe", threshold=1.5).fit(texts, sets)
    with pytest.raises(DataError, match="--threshold tune picks thresholds on the validation "
                       "split.*with 4 rows.*--validation 0.2"):  # before any training
        TextClassifier(method="finetune", threshold="tune").fit(texts, sets)
    big = [f"{t} {i}" for i in range(60) for t in texts]  # 240 rows, a label in 60 of them
    with pytest.raises(DataError, match="default 10% split is impossible.*single row"):
        TextClassifier(method="finetune", threshold="tune").fit(
            big + ["a lone tag"], [s for _ in range(60) for s in sets] + [["rare"]])
    with pytest.raises(ValueError, match="min_labels must be between 0 and the 3 labels"):
        TextClassifier(method="probe", min_labels=4).fit(texts, sets)
    with pytest.raises(DataError, match="empty in row 2.*--allow-empty-labels"):
        TextClassifier(method="probe").fit(texts, [["weather"], [], ["markets"], ["ports"]])


def test_causal_lm_refuses_label_sets():
    pytest.importorskip("gguf")
    with pytest.raises(ValueError, match="does not train on label sets"):
        TextClassifier(method="peft", peft="prompt", model="smollm2").fit(
            ["rain today", "stocks up", "rain on stocks", "port closed"],
            [["weather"], ["markets"], ["markets", "weather"], ["ports"]])


@pytest.mark.slow
def test_compare_runs_label_sets_with_micro_f1_as_the_headline(tmp_path):
    go = shared_file("goemotions")
    small = tmp_path / "dev.tsv"
    small.write_text("".join(open(go / "ekman_dev.tsv", encoding="utf-8").readlines()[:80]),
                     encoding="utf-8")
    out = tmp_path / "cmp"
    r = CliRunner().invoke(app, [
        "compare", "--data", str(go / "ekman_train.tsv"), "--eval-data", str(small),
        "--multi-label", "--no-header", "--text-column", "0", "--label-column", "1",
        "--label-names-file", str(go / "ekman_labels.txt"), "--methods", "probe,setfit",
        "--method-option", "setfit:steps=4", "--shots", "4", "--n-seeds", "1",
        "--max-length", "48", "--output", str(out), "--json", "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(0.0 <= r["f1_micro"] <= 1.0 and "accuracy" not in r for r in rows)
    report = (out / "report.md").read_text()
    assert "micro-F1" in report and "--multi-label" in report
