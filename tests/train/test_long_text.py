"""Long documents read whole (`long_text="chunk"`): a text three times longer than
`max_length` whose only topical sentences come at the end is classified by that end, on
every path (memory, reload, CLI, batch, HTTP, ONNX); truncation cannot see it. Real model,
BBC News with its 5 topics as string labels in first-seen order. setfit/probe average the
windows' embeddings; finetune/peft train on every window and average the windows' logits."""

import numpy as np
import pytest

from textune import Examples, TextClassifier
from textune.methods import MethodParamError
from tests.paths import assert_same_answer_everywhere

MAX = 64
# neutral words, about 2 x MAX tokens: the topic is only in the last window
FILLER = "The following paragraphs were written down on an ordinary afternoon. " * 11


@pytest.fixture(scope="module")
def long_news(bbc_news5):
    """Each held-out article's first two sentences, after the filler."""
    train, test = bbc_news5
    ends = [". ".join(t.split(". ")[:2]) for t in test.texts]
    return train, Examples([FILLER + e for e in ends], list(test.labels), source="long news")


def test_the_filler_is_three_windows_long(long_news):
    from transformers import AutoTokenizer

    from textune.models.backbones import resolve_backbone

    tok = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    lengths = [len(tok(t)["input_ids"]) for t in long_news[1].texts]
    assert min(lengths) >= 3 * MAX


@pytest.mark.slow
@pytest.mark.parametrize("method, params", [("probe", {}), ("setfit", {"steps": 20})])
def test_a_long_text_is_classified_by_its_end(method, params, long_news, caplog):
    train, test = long_news
    truth = np.array(test.labels)
    cut = TextClassifier(method=method, max_length=MAX, **params).fit(train)
    caplog.set_level("INFO", logger="textune")
    whole = TextClassifier(method=method, max_length=MAX, long_text="chunk", **params).fit(train)
    assert "training texts exceed max_length (64 tokens): read whole in windows" in caplog.text
    assert whole.fit_stats_["texts_over_max_length"] == len(train)  # every article is long
    cut_acc = (cut.predict(test) == truth).mean()
    whole_acc = (whole.predict(test) == truth).mean()
    # truncated, every text is the filler alone: one topic for all of them
    assert cut_acc <= 0.3 and len(set(cut.predict(test))) <= 2, cut_acc
    assert whole_acc >= 0.6 and whole_acc >= cut_acc + 0.35, (whole_acc, cut_acc)


@pytest.mark.slow
def test_chunked_models_answer_the_same_on_every_path(long_news, tmp_path):
    train, test = long_news
    clf = TextClassifier(method="probe", max_length=MAX, long_text="chunk", stride=8).fit(train)
    assert_same_answer_everywhere(clf, test, tmp_path)


@pytest.fixture(scope="module")
def chunked_finetune(long_news):
    """Fine-tuned on the training articles' windows (every article is longer than MAX)."""
    train, _ = long_news
    return TextClassifier(method="finetune", max_length=MAX, long_text="chunk", stride=0,
                          epochs=2).fit(train)


@pytest.mark.slow
def test_a_fine_tune_trains_on_windows_and_classifies_a_long_text_by_its_end(
        chunked_finetune, long_news):
    _, test = long_news
    clf = chunked_finetune
    # 40 articles of 85-800 tokens: many windows of 64 tokens, each with its article's topic
    assert clf.fit_stats_["texts_over_max_length"] == 40
    assert clf.fit_stats_["training_windows"] >= 5 * 40
    acc = (clf.predict(test) == np.array(test.labels)).mean()
    # truncated to 64 tokens every text is the same filler: one answer, 0.2 at most
    assert acc >= 0.6, acc


@pytest.mark.slow
def test_a_chunked_fine_tune_answers_the_same_on_every_path(chunked_finetune, long_news,
                                                            tmp_path):
    _, test = long_news
    assert_same_answer_everywhere(chunked_finetune, test.subset(range(15)), tmp_path)


def test_chunked_logits_are_averaged_per_text(tiny_texts, tmp_path):
    """A sequence model's long text is predicted from the mean of its windows' logits."""
    import torch

    from textune.models.heads import probabilities

    texts, labels = tiny_texts
    clf = TextClassifier(method="peft", max_length=16, long_text="chunk", stride=4,
                         epochs=1).fit(texts, labels)
    sm = clf.model_
    doc = " ".join(texts[:6])  # a few windows of 16 tokens
    enc, owner = sm.windows([doc, texts[0]])
    assert list(owner).count(0) >= 3 and list(owner).count(1) == 1
    with torch.inference_mode():
        rows = [sm.model(**sm.collate(enc, [i])).logits.float().numpy()[0]
                for i in range(len(owner))]
    first = np.mean([r for r, o in zip(rows, owner) if o == 0], axis=0)
    want = probabilities(np.stack([first, rows[-1]]), multi_label=False)
    np.testing.assert_allclose(sm.predict_proba([doc, texts[0]]), want, atol=1e-5)
    clf.save(tmp_path / "lora")  # an adapter artifact keeps reading long texts whole
    again = TextClassifier.load(tmp_path / "lora")
    assert (again.model_.long_text, again.model_.stride) == ("chunk", 4)
    np.testing.assert_allclose(again.predict_proba([doc]), want[:1], atol=1e-5)


def test_long_text_settings_are_checked(tiny_texts):
    texts, labels = tiny_texts
    with pytest.raises(MethodParamError, match="causal LM.*long_text.*finetune"):
        TextClassifier(method="peft", model="smollm2", long_text="chunk").fit(texts, labels)
    with pytest.raises(ValueError, match="stride .* between 0 and half of max_length"):
        TextClassifier(method="finetune", long_text="chunk", max_length=32,
                       stride=20).fit(texts, labels)
    with pytest.raises(ValueError, match="long_text must be one of truncate, chunk"):
        TextClassifier(method="probe", long_text="split").fit(texts, labels)
    with pytest.raises(ValueError, match="stride .* between 0 and half of max_length"):
        TextClassifier(method="probe", long_text="chunk", max_length=32,
                       stride=20).fit(texts, labels)


def test_fast_training_settings_are_checked(tiny_texts):
    texts, labels = tiny_texts
    with pytest.raises(ValueError, match="train_max_length must be at least 8 tokens"):
        TextClassifier(method="setfit", train_max_length=4).fit(texts, labels)
    with pytest.raises(ValueError, match="freeze_layers must be 0 or more"):
        TextClassifier(method="setfit", freeze_layers=-1).fit(texts, labels)
    with pytest.raises(ValueError, match="the body has 6 layers; freeze at most 5"):
        TextClassifier(method="setfit", freeze_layers=6).fit(texts, labels)
    with pytest.raises(MethodParamError, match="train_max_length.*setfit"):
        TextClassifier(method="probe", train_max_length=128).fit(texts, labels)
