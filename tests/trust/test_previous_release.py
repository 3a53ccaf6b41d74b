"""Models saved by textune 0.2.0 (before method configs) load and predict identically.

0.2.0 wrote the same folder as today minus the `method_config` key, and its `params` could
hold a setting the method ignored (it was ignored silently then, and is refused at `fit`
now). The folder is made here by today's code and turned into 0.2.0's exactly; the layout of
weights did not change, which the load below proves for each model kind."""

import json

import numpy as np
import pytest

from textune import TextClassifier

TEXTS = ["the match ended in a late goal", "shares fell after the earnings call",
         "the new phone has a faster chip", "parliament passed the budget bill",
         "the striker signed for a new club", "the bank raised interest rates",
         "a software update fixes the bug", "the minister resigned on friday"]
LABELS = ["10", "2", "007", "7"] * 2  # digit strings: text order differs from numeric order


def _as_saved_by_0_2(folder, ignored: dict) -> None:
    path = folder / "textune.json"
    cfg = json.loads(path.read_text())
    cfg.pop("method_config")
    cfg["textune_version"] = cfg["versions"]["textune"] = "0.2.0"
    cfg["params"].update(ignored)
    path.write_text(json.dumps(cfg, indent=2) + "\n")


@pytest.mark.parametrize("kw, ignored", [
    (dict(method="probe"), {"epochs": 3, "lora_r": 16}),
    (dict(method="setfit", steps=2), {"class_weight": "balanced"}),
    (dict(method="peft", peft="lora", epochs=1), {"head_c": 4.0, "steps": 9}),
], ids=["probe", "setfit", "lora"])
def test_a_0_2_model_loads_and_predicts_identically(kw, ignored, tmp_path):
    clf = TextClassifier(max_length=32, seed=0, **kw).fit(TEXTS, LABELS)
    want = clf.predict_proba(TEXTS)
    clf.save(tmp_path / "m")
    _as_saved_by_0_2(tmp_path / "m", ignored)

    old = TextClassifier.load(tmp_path / "m")  # verifies the saved self-check answers too
    assert old.method_config_ is None and old.labels == clf.labels
    np.testing.assert_array_equal(old.predict_proba(TEXTS), want)
    assert list(old.predict(TEXTS)) == list(clf.predict(TEXTS))
    # re-saving keeps it loadable, still without a config it never had
    old.save(tmp_path / "again")
    again = TextClassifier.load(tmp_path / "again")
    np.testing.assert_array_equal(again.predict_proba(TEXTS), want)
