"""Silent wrong answers of the kind issue 10 found: each test here failed before its fix.

Multi-class (4 news topics in non-sorted first-seen order), digit-string labels and every
input container a user passes, on the real MiniLM backbone.
"""

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textune import DataError, TextClassifier, load_examples
from textune.artifact.files import save_arrays
from textune.cli import app
from textune.artifact.selfcheck import ArtifactError


@pytest.fixture(scope="module")
def news_probe(bbc_news4, tmp_path_factory):
    """A 4-class probe on BBC News, trained once and saved."""
    train, test = bbc_news4
    clf = TextClassifier(method="probe", max_length=128).fit(train)
    path = tmp_path_factory.mktemp("trust") / "news-probe"
    clf.save(path)
    return clf, path, test


def _permuted_head(path):
    """Rewrite head.safetensors as textune < 0.2 did: a Fortran-ordered coef's bytes under
    its C-order shape (safetensors #825)."""
    from safetensors.numpy import load_file, save_file

    head = load_file(str(path / "head.safetensors"))
    k, d = head["coef"].shape
    permuted = np.ascontiguousarray(head["coef"].T).reshape(k, d)
    save_file({"coef": permuted, "intercept": head["intercept"]}, str(path / "head.safetensors"))


def test_multiclass_head_reloads_identical(news_probe):
    clf, path, test = news_probe
    again = TextClassifier.load(path)
    assert list(again.classes_) == ["business", "politics", "sports", "tech"]
    np.testing.assert_array_equal(again.head_.coef, clf.head_.coef)
    np.testing.assert_allclose(again.predict_proba(test.texts), clf.predict_proba(test.texts),
                               atol=1e-6)
    assert again.evaluate(test)["accuracy"] >= 0.7


def test_save_arrays_writes_fortran_ordered_arrays_as_they_are(tmp_path):
    from safetensors.numpy import load_file

    coef = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    save_arrays({"coef": coef}, tmp_path / "a.safetensors")
    np.testing.assert_array_equal(load_file(str(tmp_path / "a.safetensors"))["coef"], coef)


def test_model_that_answers_differently_is_refused_at_load(news_probe, tmp_path):
    clf, path, test = news_probe
    damaged = tmp_path / "damaged"
    shutil.copytree(path, damaged)
    _permuted_head(damaged)
    with pytest.raises(ArtifactError, match="does not answer as it did when it was saved"):
        TextClassifier.load(damaged)
    result = CliRunner().invoke(app, ["evaluate", str(damaged), "--data", "x.csv"])
    assert result.exit_code == 2 and "does not answer as it did" in result.output
    assert "Traceback" not in result.output
    TextClassifier.load(damaged, verify=False)  # still openable for inspection


def test_legacy_permuted_head_is_repaired_on_load(news_probe, tmp_path, caplog):
    """A model saved by textune 0.1 (no self-check, head permuted) predicts as trained."""
    clf, path, test = news_probe
    legacy = tmp_path / "legacy"
    shutil.copytree(path, legacy)
    _permuted_head(legacy)
    cfg = json.loads((legacy / "textune.json").read_text())
    del cfg["self_check"]
    cfg["textune_version"] = "0.1.0"
    (legacy / "textune.json").write_text(json.dumps(cfg))
    with caplog.at_level(logging.WARNING):
        again = TextClassifier.load(legacy)
    assert "repaired" in caplog.text
    np.testing.assert_allclose(again.predict_proba(test.texts), clf.predict_proba(test.texts),
                               atol=1e-6)


def test_legacy_head_that_cannot_be_proven_intact_is_refused(news_probe, tmp_path):
    from safetensors.numpy import load_file, save_file

    _, path, _ = news_probe
    legacy = tmp_path / "legacy"
    shutil.copytree(path, legacy)
    head = load_file(str(legacy / "head.safetensors"))
    noise = np.random.default_rng(0).normal(size=head["coef"].shape).astype(np.float32)
    save_file({"coef": noise, "intercept": head["intercept"]}, str(legacy / "head.safetensors"))
    cfg = json.loads((legacy / "textune.json").read_text())
    del cfg["self_check"]
    (legacy / "textune.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactError, match="Retrain it with textune >= 0.2.0"):
        TextClassifier.load(legacy)


# ---------------------------------------------------------------------------- labels

TEXTS = ["the striker scored twice in the final", "the keeper saved a late penalty",
         "shares fell after the profit warning", "the bank raised interest rates",
         "the new phone has a faster chip", "the software update fixes the bug",
         "the minister resigned after the vote", "parliament passed the budget bill"]


def test_digit_string_labels_keep_their_spelling(tmp_path):
    csv = tmp_path / "codes.csv"
    codes = ["007", "007", "07", "07", "7", "7", "0", "0"]
    pd.DataFrame({"text": TEXTS, "label": codes}).to_csv(csv, index=False)
    ex = load_examples(csv)
    assert ex.labels == codes and ex.classes == ["0", "007", "07", "7"]
    clf = TextClassifier(method="probe").fit(ex)
    assert list(clf.classes_) == ["0", "007", "07", "7"]
    assert set(clf.predict(TEXTS)) <= {"0", "007", "07", "7"}
    assert clf.score(TEXTS, codes) == 1.0


def test_digit_string_labels_work_with_sklearn_scoring():
    from sklearn.model_selection import cross_val_score

    y = ["1", "1", "2", "2", "3", "3", "1", "2", "3"] * 2
    X = (TEXTS + ["the coach praised the young team"]) * 2
    clf = TextClassifier(method="probe").fit(X, y)
    assert clf.classes_.dtype.kind == "U"
    assert clf.score(X, y) > 0.5
    scores = cross_val_score(TextClassifier(method="probe"), X, y, cv=2)
    assert len(scores) == 2 and np.all(np.isfinite(scores))


def test_mixed_labels_evaluate_on_a_file_with_fewer_of_them(tmp_path):
    """Trained on "1", "2", "neg"; evaluated on a file holding only "1" and "2"."""
    y = ["1", "1", "2", "2", "neg", "neg", "1", "2"]
    clf = TextClassifier(method="probe").fit(TEXTS, y)
    csv = tmp_path / "eval.csv"
    pd.DataFrame({"text": TEXTS[:4], "label": y[:4]}).to_csv(csv, index=False)
    metrics = clf.evaluate(load_examples(csv))
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_json_numbers_and_csv_digits_are_the_same_labels(tmp_path):
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "label": i % 3}) + "\n"
                             for i, t in enumerate(TEXTS)))
    clf = TextClassifier(method="probe").fit(load_examples(jsonl))
    assert clf.labels == [0, 1, 2]
    csv = tmp_path / "eval.csv"
    pd.DataFrame({"text": TEXTS, "label": [str(i % 3) for i in range(8)]}).to_csv(csv,
                                                                                  index=False)
    assert clf.evaluate(load_examples(csv))["accuracy"] == clf.score(TEXTS, [i % 3 for i in
                                                                            range(8)])
    with pytest.raises(DataError, match=r"label\(s\) \['9'\]"):
        clf.evaluate(TEXTS[:1], ["9"])


# ---------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def four_topics():
    y = ["sport", "sport", "business", "business", "tech", "tech", "politics", "politics"]
    return TextClassifier(method="probe").fit(TEXTS, y), y


def test_every_container_gives_the_same_predictions(four_topics):
    datasets = pytest.importorskip("datasets")
    clf, y = four_topics
    want = list(clf.predict(TEXTS))
    frame = pd.DataFrame({"id": range(8), "text": TEXTS, "label": y})
    for make in (lambda: tuple(TEXTS), lambda: np.array(TEXTS), lambda: pd.Series(TEXTS),
                 lambda: frame, lambda: frame[["text"]], lambda: pd.DataFrame({"body": TEXTS}),
                 lambda: datasets.Dataset.from_pandas(frame), lambda: (t for t in TEXTS)):
        assert list(clf.predict(make())) == want, type(make())
        assert clf.predict_proba(make()).shape == (8, 4)
    assert clf.score(frame) == clf.score(TEXTS, y)  # a frame with its label column


def test_frame_with_blank_labels_still_predicts(four_topics):
    clf, _ = four_topics
    frame = pd.DataFrame({"text": TEXTS, "label": [""] * 8})
    assert len(clf.predict(frame)) == 8


def test_pairs_as_a_two_column_array():
    a = ["the cat sat on the mat", "he bought a new car", "the stock fell", "rain tomorrow"]
    b = ["a cat sat on a mat", "he purchased a car", "my phone is dead", "the bakery opens"]
    clf = TextClassifier(method="probe").fit(list(zip(a, b)), [1, 1, 0, 0])
    arr = np.array(list(zip(a, b)))
    assert list(clf.predict(arr)) == list(clf.predict(list(zip(a, b))))


@pytest.mark.parametrize("bad, match", [({"a", "b"}, "no row order"), ("one text", "list"),
                                        (np.zeros((2, 3)), "shape")])
def test_unusable_containers_get_a_clear_error(four_topics, bad, match):
    clf, _ = four_topics
    with pytest.raises(DataError, match=match):
        clf.predict(bad)


# ---------------------------------------------------------------------------- sklearn


@pytest.mark.parametrize("check", [
    "check_estimator_cloneable", "check_estimator_repr", "check_get_params_invariance",
    "check_set_params", "check_no_attributes_set_in_init",
    "check_parameters_default_constructible", "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order", "check_estimators_unfitted"])
def test_sklearn_estimator_checks_for_a_text_estimator(check):
    """The checks that apply to an estimator of texts (the rest feed numeric matrices)."""
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("TextClassifier", TextClassifier())


def test_multiclass_onnx_export_from_before_the_fix_is_refused(news_probe, tmp_path):
    """0.1 exported 3+-class setfit/probe models from their permuted saved head; such an
    export (no self-check) must not serve answers. A fresh export checks its own graph."""
    pytest.importorskip("onnxruntime")
    from textune.serving.onnx import OnnxClassifier, export_onnx

    clf, path, test = news_probe
    export_onnx(path, tmp_path / "onnx")
    fresh = OnnxClassifier.load(tmp_path / "onnx")
    np.testing.assert_allclose(fresh.predict_proba(test.texts), clf.predict_proba(test.texts),
                               atol=1e-4)
    cfg = json.loads((tmp_path / "onnx" / "textune.json").read_text())
    del cfg["self_check"]
    (tmp_path / "onnx" / "textune.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactError, match="Export the model folder again"):
        OnnxClassifier.load(tmp_path / "onnx")
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "onnx"), "--backend", "onnx",
                                      "--data", "x.csv", "--output", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 2 and "Export the model folder again" in result.output
