"""CONTRIBUTING.md's "Add a method" walkthrough, run as written: its code block is executed
as a module, registered in the test (one registry line), trained on BBC News and checked
through every path with the same helper every shipped method uses."""

import re
import sys
import types
from pathlib import Path

import pytest

from tests.paths import assert_same_answer_everywhere
from textune import TextClassifier

GUIDE = Path(__file__).resolve().parents[2] / "CONTRIBUTING.md"


def _walkthrough_module() -> types.ModuleType:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# src/textune/methods/centroid\.py\n.*?)```", text, re.S)
    assert len(blocks) == 1, "CONTRIBUTING.md lost its methods/centroid.py example"
    # it lives in methods/, so its relative imports resolve from there
    module = types.ModuleType("textune.methods.centroid")
    module.__package__ = "textune.methods"
    sys.modules[module.__name__] = module
    exec(compile(blocks[0], str(GUIDE), "exec"), module.__dict__)
    return module


@pytest.fixture
def centroid(monkeypatch):
    from textune.methods import METHODS

    module = _walkthrough_module()
    monkeypatch.setitem(METHODS, "centroid", module.Centroid)  # the one registry line
    yield module
    sys.modules.pop("textune.methods.centroid", None)


def test_the_walkthrough_method_trains_and_gives_the_same_answer_everywhere(
        centroid, bbc_news4, tmp_path):
    train, test = bbc_news4
    test = test.subset(range(0, len(test), 5))  # 5 per topic: agreement, not accuracy
    clf = TextClassifier(method="centroid", max_length=64).fit(train)
    assert sorted(clf.labels) == ["business", "politics", "sports", "tech"]
    assert clf.score(test) >= 0.6  # 4 topics: chance is 0.25
    assert clf.fit_stats_["head_parameters"] == 4 * 384
    assert_same_answer_everywhere(clf, test, tmp_path)


def test_the_walkthrough_method_is_listed_and_guarded(centroid):
    from typer.testing import CliRunner

    from textune.cli import app
    from textune.methods import MethodParamError

    r = CliRunner().invoke(app, ["methods", "centroid"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("centroid: frozen encoder; each class is the mean")
    assert "--max-length" in r.output and "--epochs" not in r.output
    with pytest.raises(MethodParamError, match="'epochs'.*setfit, finetune, peft"):
        TextClassifier(method="centroid", epochs=3).fit(["a", "b"], ["x", "y"])
