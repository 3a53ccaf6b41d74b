"""`textune distill`: a student learns a saved teacher's answers on unlabelled texts.

Agreement (every path, reload, CLI) on the tiny random backbone: these tests check that the
student is an ordinary, complete model with the teacher's classes in the teacher's order,
not its accuracy (the slow test and benchmarks/distill.py measure that on real models)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from textune import DataError, Examples, TextClassifier
from textune.cli import app
from textune.distill import distill
from textune.models.heads import LogisticHead
from tests.labels import relabel
from tests.paths import assert_same_answer_everywhere


@pytest.fixture(scope="module")
def news_teacher(bbc_news4, tiny_backbone, tmp_path_factory):
    """A probe teacher on 4 topics with string labels first seen out of sorted order, its
    folder, and 100 unlabelled articles."""
    train, test = (relabel(part, "strings") for part in bbc_news4)
    teacher = TextClassifier(method="probe", model=tiny_backbone).fit(train)
    path = teacher.save(tmp_path_factory.mktemp("teacher") / "teacher")
    return teacher, path, test


def test_a_soft_student_keeps_the_teachers_classes_and_answers_the_same_on_every_path(
        news_teacher, tiny_backbone, tmp_path):
    teacher, path, test = news_teacher
    unlabelled = test.texts[:60]
    student = distill(path, unlabelled, method="probe", student=tiny_backbone,
                      show_progress=False)
    assert student.labels == teacher.labels  # every class, in the teacher's order
    d = student.fit_stats_["distillation"]
    assert d["texts"] == 60 and d["targets"] == "soft" and d["teacher"] == str(path)
    assert 0.0 <= d["agreement_with_teacher"] <= 1.0
    # the probe student on the teacher's own backbone has the teacher's body: fitted to its
    # probabilities, its head follows them on the texts it learnt from (up to the head's
    # regularisation; this random backbone's probabilities are all near 1/4, so the top
    # class is no test of it)
    got, want = student.predict_proba(unlabelled), teacher.predict_proba(unlabelled)
    assert np.abs(got - want).mean() < 0.03
    assert d["agreement_with_teacher"] == pytest.approx(
        np.mean(got.argmax(1) == want.argmax(1)), abs=1e-4)
    assert_same_answer_everywhere(student, Examples(test.texts[60:75]), tmp_path)


def test_a_multi_label_student_takes_the_teachers_thresholds(bbc_news4, tiny_backbone,
                                                             tmp_path):
    train, test = bbc_news4
    # label sets of 1, 2 and 3 labels: the topic, "long" past 2,000 characters, "quoted"
    # when the article quotes someone
    def sets(ex):
        return [tuple(sorted({y, *(["long"] if len(t) > 2000 else []),
                              *(["quoted"] if '"' in t else [])}))
                for t, y in zip(ex.texts, ex.labels)]
    labelled = Examples(train.texts, sets(train), multi_label=True)
    assert {len(s) for s in labelled.labels} == {1, 2, 3}
    teacher = TextClassifier(method="probe", model=tiny_backbone, threshold=0.4,
                             min_labels=1).fit(labelled)
    student = distill(teacher, test.texts, method="probe", student=tiny_backbone,
                      show_progress=False)
    assert student.multi_label and student.labels == teacher.labels
    assert student.decision_.thresholds == teacher.decision_.thresholds
    assert student.decision_.min_labels == 1
    assert student.fit_stats_["distillation"]["teacher"] is None  # given in memory
    assert_same_answer_everywhere(student, Examples(test.texts[:12]), tmp_path)


def test_the_command_distils_reads_the_teachers_columns_and_reports(news_teacher,
                                                                    tiny_backbone, tmp_path):
    teacher, path, test = news_teacher
    data = tmp_path / "unlabelled.csv"
    import pandas as pd

    pd.DataFrame({"text": test.texts, "topic": test.labels}).to_csv(data, index=False)
    out = tmp_path / "student"
    r = CliRunner().invoke(app, ["distill", str(path), "--data", str(data), "--output",
                                 str(out), "--student", tiny_backbone, "--method", "probe",
                                 "--max-texts", "50", "-q", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])
    assert result["texts"] == 50 and result["targets"] == "soft"
    assert result["labels"] == teacher.labels and result["multi_label"] is False
    saved = json.loads((out / "textune.json").read_text())
    assert saved["train"]["distillation"]["texts"] == 50
    assert TextClassifier.load(out).labels == teacher.labels


def test_a_static_student_is_a_probe_on_static_embeddings_and_answers_everywhere(
        news_teacher, tiny_static, tmp_path):
    teacher, path, test = news_teacher
    student = distill(path, test.texts[:60], student=tiny_static, show_progress=False)
    assert student.method == "probe"  # a static body has no transformer to train
    assert student.labels == teacher.labels
    assert_same_answer_everywhere(student, Examples(test.texts[60:75]), tmp_path)


def test_a_hard_student_without_a_head_names_the_classes_the_teacher_never_gave(
        news_teacher, tiny_backbone):
    teacher, _, test = news_teacher
    proba = teacher.predict_proba(test.texts)
    top = proba.argmax(axis=1)
    # texts the teacher puts in only two of its four classes
    keep = [i for i in range(len(test)) if top[i] in set(top[:1]) | {top[top != top[0]][0]}]
    with pytest.raises(DataError, match="gives none of these texts the label"):
        distill(teacher, [test.texts[i] for i in keep], method="probe",
                student=tiny_backbone, targets="hard", show_progress=False)


def test_bad_inputs_get_named_errors(news_teacher, tiny_backbone, tmp_path):
    teacher, path, test = news_teacher
    with pytest.raises(DataError, match="trained on single texts, but these are text pairs"):
        distill(teacher, [("a", "b"), ("c", "d")], student=tiny_backbone)
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n")
    with pytest.raises(DataError, match="empty.csv: no data rows"):
        distill(teacher, empty, student=tiny_backbone)
    with pytest.raises(DataError, match="every one of these 3 texts the label"):
        distill(teacher, [test.texts[0]] * 3, student=tiny_backbone, show_progress=False)
    with pytest.raises(ValueError, match="targets must be one of"):
        distill(teacher, test.texts, targets="kl")
    r = CliRunner().invoke(app, ["distill", str(tmp_path / "nope"), "--data", str(empty),
                                 "--output", str(tmp_path / "s")])
    assert r.exit_code == 2 and "not a textune model folder" in r.output


def test_a_soft_head_fitted_to_one_hot_targets_is_scikit_learns_head():
    rng = np.random.default_rng(0)
    for k in (2, 3):
        X = rng.normal(size=(200, 12))
        y = (X[:, :k] + rng.normal(scale=0.5, size=(200, k))).argmax(axis=1)
        hard = LogisticHead().fit(X, y)
        soft = LogisticHead().fit_soft(X, np.eye(k)[y])
        assert soft.coef.shape == hard.coef.shape
        np.testing.assert_allclose(soft.predict_proba(X), hard.predict_proba(X), atol=2e-3)
