"""textune.setfit's contract beyond the two scripts: label ids as setfit numbers them (3
classes, names in a non-sorted order, digit strings), every path answering alike (in memory,
saved and reloaded, textune's own loader), multi-label, setfit's pair counts, and a clear
error for every argument textune does not honour."""

import numpy as np
import pytest

from tests.serve.helpers import TOPICS
from textune import DataError, TextClassifier
from textune.setfit import (SetFitModel, SetFitTrainer, Trainer, TrainingArguments,
                            sample_dataset)

NAMES = list(TOPICS)  # weather, cooking, football: first-seen order, not sorted
TEXTS = [t for topic in NAMES for t in TOPICS[topic]]
PROBES = ["rain and wind all night", "stir the sauce and add cream", "a late goal won the cup"]


def quick_args(**kw):
    return TrainingArguments(num_iterations=5, show_progress_bar=False, **kw)


def train(labels, *, names=None, strategy=None, data=None, **kw):
    model = SetFitModel.from_pretrained("minilm", labels=names, multi_target_strategy=strategy)
    data = data if data is not None else {"text": TEXTS, "label": labels}
    trainer = Trainer(model=model, args=quick_args(**kw), train_dataset=data)
    trainer.train()
    return trainer


@pytest.fixture(scope="module")
def by_id():
    """Labels given as ids into `labels=` in the order football, weather, cooking."""
    names = ["football", "weather", "cooking"]
    ids = [names.index(topic) for topic in NAMES for _ in TOPICS[topic]]
    return train(ids, names=names), names


def test_label_ids_index_the_labels_list_on_every_path(by_id, tmp_path):
    trainer, names = by_id
    model = trainer.model
    assert model.predict(PROBES) == ["weather", "cooking", "football"]
    ids = model.predict(PROBES, use_labels=False)
    assert ids.tolist() == [1, 2, 0]
    proba = model.predict_proba(PROBES, as_numpy=True)
    assert proba.shape == (3, 3) and proba.argmax(axis=1).tolist() == [1, 2, 0]
    assert model.predict("a late goal won the cup") == "football"

    model.save_pretrained(tmp_path / "m")
    back = SetFitModel.from_pretrained(tmp_path / "m")
    assert back.labels == names
    assert back.model_body == str(tmp_path / "m" / "body")  # trains on from the trained body
    assert back.predict(PROBES) == model.predict(PROBES)
    assert back.predict(PROBES, use_labels=False).tolist() == [1, 2, 0]
    np.testing.assert_allclose(back.predict_proba(PROBES, as_numpy=True), proba, atol=1e-6)
    # the folder is an ordinary textune model: the CLI, batch and serving read the names
    native = TextClassifier.load(tmp_path / "m")
    assert list(native.predict(PROBES)) == ["weather", "cooking", "football"]


def test_label_anchors_follow_the_training_arguments(by_id):
    """Named labels get textune's label-name anchors by default; `label_anchors=False`
    trains on the script's texts only, as the setfit library does."""
    trainer, names = by_id
    assert trainer.model.classifier.fit_stats_["label_anchors"] == 4 * len(names)
    ids = [names.index(topic) for topic in NAMES for _ in TOPICS[topic]]
    plain = train(ids, names=names, label_anchors=False)
    assert plain.model.classifier.fit_stats_["label_anchors"] == 0
    with pytest.raises(ValueError, match="label_anchors"):
        train(ids, label_anchors=True)  # ids without names: nothing to anchor
    with pytest.raises(ValueError, match=r"label_anchors=\.\.\.\) must be 'auto', True or "
                                         r"False, not 'yes'"):
        TrainingArguments(label_anchors="yes")  # at once, not after loading a model


def test_evaluate_compares_ids_with_ids(by_id):
    trainer, names = by_id
    ids = [names.index(t) for t in ("weather", "cooking", "football")]
    result = trainer.evaluate({"text": PROBES, "label": ids})
    assert result == {"accuracy": 1.0}
    wrong = trainer.evaluate({"text": PROBES, "label": [ids[1], ids[2], ids[0]]})
    assert wrong == {"accuracy": 0.0}


@pytest.mark.parametrize("kind", ["strings", "digits"])
def test_without_labels_predictions_are_the_training_labels_in_sorted_columns(kind):
    import pandas as pd

    mapping = {"strings": dict(zip(NAMES, NAMES)),
               "digits": {"weather": "10", "cooking": "2", "football": "007"}}[kind]
    labels = [mapping[topic] for topic in NAMES for _ in TOPICS[topic]]
    trainer = train(None, data=pd.DataFrame({"text": TEXTS, "label": labels}))
    model = trainer.model
    want = [mapping[t] for t in ("weather", "cooking", "football")]
    assert model.predict(PROBES).tolist() == want  # a numpy array of strings, as setfit's
    columns = sorted(mapping.values())  # setfit's scikit-learn head: classes_ sorted
    proba = model.predict_proba(PROBES, as_numpy=True)
    assert [columns[j] for j in proba.argmax(axis=1)] == want


def test_multi_label_rows_with_0_1_and_3_labels(tmp_path):
    names = ["weather", "cooking", "football"]
    texts, rows = [], []
    for j, topic in enumerate(names):
        for t in TOPICS[topic]:
            texts.append(t)
            rows.append([int(k == j) for k in range(3)])
    texts += [f"{TOPICS['weather'][i]} and {TOPICS['football'][i]}" for i in range(3)]
    rows += [[1, 0, 1]] * 3
    texts += ["all of it: rain, a roast and a cup final"]
    rows += [[1, 1, 1]]
    texts += ["the meeting is on tuesday"]
    rows += [[0, 0, 0]]
    model = SetFitModel.from_pretrained("minilm", labels=names,
                                        multi_target_strategy="one-vs-rest")
    trainer = Trainer(model=model, args=quick_args(), train_dataset={"text": texts,
                                                                      "label": rows},
                      metric="f1", metric_kwargs={"average": "micro"})
    trainer.train()
    pred = model.predict(PROBES)
    assert pred.shape == (3, 3) and pred.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    result = trainer.evaluate({"text": PROBES, "label": pred.tolist()})
    assert result == {"f1": 1.0}
    model.save_pretrained(tmp_path / "ml")
    back = SetFitModel.from_pretrained(tmp_path / "ml")
    assert back.multi_target_strategy == "one-vs-rest"
    assert back.predict(PROBES).tolist() == pred.tolist()
    np.testing.assert_allclose(back.predict_proba(PROBES, as_numpy=True),
                               model.predict_proba(PROBES, as_numpy=True), atol=1e-6)


def test_a_callable_metric_and_per_step_evaluation_choosing_by_it(tmp_path):
    seen = []

    def share_right(y_pred, y_test):
        seen.append(len(y_pred))
        return {"share_right": float(np.mean(np.asarray(y_pred) == np.asarray(y_test)))}

    names = ["football", "weather", "cooking"]
    ids = [names.index(topic) for topic in NAMES for _ in TOPICS[topic]]
    model = SetFitModel.from_pretrained("minilm", labels=names)
    args = quick_args(eval_strategy="steps", eval_steps=4, save_strategy="steps",
                      save_steps=8, output_dir=str(tmp_path), load_best_model_at_end=True,
                      metric_for_best_model="share_right")
    trainer = Trainer(model=model, args=args, metric=share_right,
                      train_dataset={"text": TEXTS, "label": ids},
                      eval_dataset={"text": PROBES, "label": [1, 2, 0]})
    trainer.train()
    history = trainer.state.log_history
    assert len(history) >= 2 and all("eval_share_right" in r for r in history)
    assert trainer.state.best_metric == max(r["eval_share_right"] for r in history)
    assert seen and set(seen) == {3}
    # checkpoints fall on every second evaluation (save_steps = 2 x eval_steps); at most
    # save_total_limit=1 of them plus the best one are kept
    saved = sorted(int(p.name.split("-")[1]) for p in tmp_path.glob("checkpoint-*"))
    evaluated = [r["step"] for r in history]
    assert saved and set(saved) <= set(evaluated[1::2]) and len(saved) <= 2


def test_names_given_after_training_on_ids(tmp_path):
    """setfit's way to name a model trained on ids: from_pretrained(path, labels=[...])."""
    ids = [NAMES.index(topic) for topic in NAMES for _ in TOPICS[topic]]
    trainer = train(ids)
    assert trainer.model.predict(PROBES).tolist() == [0, 1, 2]  # no names: the ids
    trainer.model.save_pretrained(tmp_path / "ids")
    named = SetFitModel.from_pretrained(tmp_path / "ids", labels=NAMES)
    assert named.predict(PROBES) == ["weather", "cooking", "football"]
    assert named.predict(PROBES, use_labels=False).tolist() == [0, 1, 2]
    assert named.encode("rain").shape == (384,)  # one text, one vector
    with pytest.raises(ValueError, match="do not name this model's labels"):
        SetFitModel.from_pretrained(tmp_path / "ids", labels=["a", "b"]).predict(PROBES)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds other files"):
        named.save_pretrained(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_pairs_scored_match_setfit():
    # 8 + 8 rows, batch 16, oversampling: 72 positive and 64 negative pairs with replacement,
    # so 144 pairs = 9 setfit steps an epoch; textune's 8-text steps score 28 pairs each.
    labels = [0] * 8 + [1] * 8
    plan = TrainingArguments(batch_size=16, num_epochs=4).plan(labels, False)
    assert (plan.batch_size, plan.epoch_steps, plan.steps, plan.setfit_steps) == (8, 6, 24, 36)
    plan = TrainingArguments(batch_size=16, num_iterations=20).plan(labels, False)
    assert (plan.steps, plan.setfit_steps) == (23, 40)  # 640 pairs
    sampler = pytest.importorskip("setfit.sampler", reason="the setfit library (bench extra) "
                                  "to count its pairs")
    for strategy in ("oversampling", "undersampling", "unique"):
        pairs = len(list(sampler.ContrastiveDataset([str(i) for i in range(16)], labels,
                                                    False, sampling_strategy=strategy)))
        plan = TrainingArguments(batch_size=1, sampling_strategy=strategy).plan(labels, False)
        assert plan.setfit_steps == pairs, strategy


def test_class_balanced_steps_are_counted_as_they_are_filled():
    # 7 classes x 8 rows: textune asks for 16 texts a step, its sampler takes 2 from each
    # of the 7 classes = 14 texts, 91 pairs; 2 x 20 x 56 = 2,240 pairs -> 25 steps
    labels = [c for c in range(7) for _ in range(8)]
    plan = TrainingArguments(num_iterations=20).plan(labels, False)
    assert (plan.batch_size, plan.steps) == (16, 25)


def test_setfit_rules_for_evaluation_settings():
    assert TrainingArguments(eval_steps=10).eval_strategy == "steps"
    assert TrainingArguments(eval_strategy="steps").eval_steps == 50  # logging_steps
    assert TrainingArguments(report_to="none").report_to == "all"
    assert TrainingArguments(metric_for_best_model=None).best_is_greater() is False
    assert TrainingArguments(metric_for_best_model="eval_accuracy").best_is_greater() is True
    with pytest.raises(ValueError, match="same eval_strategy and save_strategy"):
        TrainingArguments(eval_strategy="epoch", save_strategy="no",
                          load_best_model_at_end=True)
    with pytest.raises(ValueError, match="multiple of eval_steps"):
        TrainingArguments(eval_steps=3, save_strategy="steps", save_steps=10,
                          load_best_model_at_end=True)


def test_sample_dataset_picks_setfit_rows():
    from datasets import Dataset

    data = Dataset.from_dict({"text": [f"t{i}" for i in range(60)],
                              "label": [i % 3 for i in range(60)]})
    ours = sample_dataset(data, num_samples=4, seed=7)
    assert sorted(ours["label"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert ours["text"] == sample_dataset(data, num_samples=4, seed=7)["text"]
    as_dict = sample_dataset(data.to_dict(), num_samples=4, seed=7)
    assert as_dict["text"] == ours["text"]
    setfit_data = pytest.importorskip("setfit.data", reason="the setfit library (bench extra)")
    assert setfit_data.sample_dataset(data, num_samples=4, seed=7)["text"] == ours["text"]


@pytest.mark.parametrize("call, named", [
    (lambda: TrainingArguments(report_to="wandb"), "report_to"),
    (lambda: TrainingArguments(end_to_end=True), "end_to_end"),
    (lambda: TrainingArguments(margin=0.5), "margin"),
    (lambda: TrainingArguments(eval_strategy="sometimes"), "eval_strategy"),
    (lambda: TrainingArguments(loss=type("BatchHardTripletLoss", (), {})),
     "BatchHardTripletLoss"),
    (lambda: SetFitTrainer(model=SetFitModel("minilm"), loss_class=type("SupConLoss", (), {})),
     "SupConLoss"),
    (lambda: SetFitModel.from_pretrained("minilm", use_differentiable_head=True),
     "use_differentiable_head"),
    (lambda: SetFitModel.from_pretrained("minilm", revision="main"), "revision"),
    (lambda: SetFitModel.from_pretrained("minilm", multi_target_strategy="classifier-chain"),
     "classifier-chain"),
    (lambda: Trainer(model=SetFitModel("minilm"), metric="bleu"), "bleu"),
    (lambda: Trainer(model=SetFitModel("minilm"), callbacks=[object()]), "callbacks"),
])
def test_what_textune_does_not_honour_is_refused_by_name(call, named):
    with pytest.raises(ValueError, match=named):
        call()


def test_bad_datasets_name_the_column_or_row():
    model = SetFitModel.from_pretrained("minilm", labels=["a", "b"])
    with pytest.raises(DataError, match=r"no \['label'\] column among \['sentence', 'text'\]|"
                                        r"column_mapping"):
        Trainer(model=model, train_dataset={"text": ["x"], "sentence": ["y"]})
    with pytest.raises(DataError, match="column_mapping names"):
        Trainer(model=model, train_dataset={"text": ["x"], "label": [0]},
                column_mapping={"sentence": "text"})
    trainer = Trainer(model=model, args=quick_args(),
                      train_dataset={"text": ["good", "bad", "fine"], "label": [0, 1, 2]})
    with pytest.raises(DataError, match="row 2 has label 2"):
        trainer.train()
    with pytest.raises(RuntimeError, match="not trained"):
        model.predict(["x"])
    with pytest.raises(ValueError, match="needs an eval_dataset"):
        Trainer(model=model, args=quick_args(eval_strategy="epoch", save_strategy="no"),
                train_dataset={"text": ["good", "bad"], "label": [0, 1]}).train()
