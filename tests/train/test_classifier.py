"""Real MiniLM, real data: these fail when training, saving or predicting is broken."""

import json

import numpy as np
import pytest

from textune import DataError, TextClassifier, from_lists, sample_per_class


def test_probe_separates_tiny_set(probe_model, tiny_texts):
    clf, _ = probe_model
    texts, labels = tiny_texts
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.score(texts, labels) == 1.0
    unseen = ["what a lovely, heartwarming picture", "an awful, boring film"]
    assert list(clf.predict(unseen)) == ["pos", "neg"]
    proba = clf.predict_proba(unseen)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(1), 1.0)


def test_setfit_beats_probe_on_sst2_8_shot(sst2_train, sst2_test):
    """The few-shot claim itself, on two seeds and 600 test sentences."""
    test = sst2_test.subset(range(0, 1800, 3))
    gains, accs = [], []
    for seed in (1, 2):
        train = sample_per_class(sst2_train, 8, seed)
        probe = TextClassifier(method="probe", seed=seed).fit(train).evaluate(test)["accuracy"]
        setfit = TextClassifier(method="setfit", seed=seed).fit(train).evaluate(test)["accuracy"]
        gains.append(setfit - probe)
        accs.append(setfit)
    assert np.mean(accs) > 0.62
    assert np.mean(gains) > 0.0


def test_setfit_contrastive_training_changes_body_and_lowers_loss(tiny_texts):
    texts, labels = tiny_texts
    clf = TextClassifier(method="setfit", steps=5).fit(texts, labels)
    stats = clf.fit_stats_
    assert stats["contrastive_steps"] == 5
    assert stats["distinct_texts"] == 16 + 8  # + "pos"/"neg" in the 4 anchor templates
    assert stats["loss_last"] < stats["loss_first"]
    assert clf.score(texts, labels) == 1.0


def test_setfit_frozen_layers_stay_as_loaded_and_the_rest_trains(tiny_texts):
    from textune.models.encoder import Encoder

    texts, labels = tiny_texts
    clf = TextClassifier(method="setfit", steps=5, freeze_layers=4).fit(texts, labels)
    before = Encoder.load("minilm").model[0].auto_model
    after = clf.model_.encoder.model[0].auto_model
    blocks = zip([before.embeddings, *before.encoder.layer],
                 [after.embeddings, *after.encoder.layer])
    for i, (a, b) in enumerate(blocks, start=-1):  # -1: the embeddings
        same = all(np.array_equal(x.detach().numpy(), y.detach().numpy())
                   for x, y in zip(a.parameters(), b.parameters()))
        assert same == (i < 4), i
    assert all(p.requires_grad for p in clf.model_.encoder.model.parameters())  # thawed
    assert clf.score(texts, labels) == 1.0


def test_text_pairs_train_and_predict():
    a = ["the cat sat on the mat", "he bought a new car", "the stock fell sharply",
         "she plays the violin", "rain is expected tomorrow", "the team won the final"]
    b_same = ["a cat was sitting on the mat", "he purchased a new car",
              "the shares dropped sharply", "she is a violin player",
              "tomorrow it will probably rain", "the final was won by the team"]
    b_diff = ["the recipe needs two eggs", "the museum opens at nine",
              "my phone battery is dead", "the river flooded the town",
              "he forgot his password", "the bakery sells fresh bread"]
    X = list(zip(a, b_same)) + list(zip(a, b_diff))
    y = [1] * 6 + [0] * 6
    clf = TextClassifier(method="probe").fit(X, y)
    assert clf.is_pair_
    assert clf.score(X, y) >= 0.9
    with pytest.raises(DataError, match="text pairs|tuples"):
        clf.predict(["just one text"])


def test_save_load_roundtrip_is_exact_and_safe(probe_model, tiny_texts, tmp_path):
    clf, path = probe_model
    texts, _ = tiny_texts
    loaded = TextClassifier.load(path)
    assert np.allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert list(loaded.classes_) == list(clf.classes_)
    cfg = json.loads((path / "textune.json").read_text())
    assert cfg["method"] == "probe" and cfg["labels"] == ["neg", "pos"]
    assert set(cfg["versions"]) >= {"textune", "torch", "transformers"}
    assert (path / "README.md").exists() and (path / "body" / "model.safetensors").exists()
    files = [p.name for p in path.rglob("*")]
    assert not any(n.endswith((".pkl", ".pickle", ".bin", ".pt")) for n in files), files


def test_interrupted_save_keeps_previous_model(probe_model, tiny_texts, tmp_path, monkeypatch):
    clf, _ = probe_model
    texts, _ = tiny_texts
    target = tmp_path / "model"
    clf.save(target)
    before = TextClassifier.load(target).predict_proba(texts)

    import textune.classifier as mod

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut mid-save")

    monkeypatch.setattr(mod, "_model_card", crash)  # dies after the weights were written
    with pytest.raises(KeyboardInterrupt):
        clf.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no half-written leftovers
    assert np.allclose(TextClassifier.load(target).predict_proba(texts), before)


def test_load_rejects_non_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a textune model folder"):
        TextClassifier.load(tmp_path)


def test_sklearn_conventions(tiny_texts):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    texts, labels = tiny_texts
    clf = TextClassifier(method="probe", head_c=2.0)
    assert clf.get_params()["head_c"] == 2.0
    assert clone(clf).set_params(seed=3).seed == 3
    scores = cross_val_score(clf, np.array(texts, dtype=object), np.array(labels), cv=2)
    assert len(scores) == 2 and scores.mean() >= 0.75


def test_fit_rejects_single_class():
    with pytest.raises(DataError, match="only one class"):
        TextClassifier(method="probe").fit(["a", "b"], ["x", "x"])


def test_evaluate_reports_per_class_and_rejects_unseen_labels(probe_model, tiny_texts):
    clf, _ = probe_model
    texts, labels = tiny_texts
    m = clf.evaluate(texts, labels)
    assert m["accuracy"] == 1.0 and m["n"] == 16
    assert m["per_class"]["pos"]["support"] == 8
    assert m["confusion_matrix"] == [[8, 0], [0, 8]]
    with pytest.raises(DataError, match="not in the training data"):
        clf.evaluate(from_lists(["meh"], ["neutral"]))


def test_non_latin_text_flows(probe_model):
    clf, _ = probe_model
    out = clf.predict(["이 영화 정말 좋아요", "この映画は最高でした", "هذا الفيلم رائع"])
    assert set(out) <= {"neg", "pos"}
