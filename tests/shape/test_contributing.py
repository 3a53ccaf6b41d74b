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


# CONTRIBUTING.md's "Add a knob" example, run in a fresh interpreter: the knob is declared
# (its probe.py block replaces ProbeConfig, as the edit would) before anything derived from
# the declarations is imported, and is gone with that interpreter.
KNOB_CHECKS = r'''
import inspect, re, sys, tempfile
from pathlib import Path

text = Path(sys.argv[1]).read_text(encoding="utf-8")
blocks = re.findall(r"```python\n(# src/textune/methods/probe\.py: .*?)```", text, re.S)
assert len(blocks) == 1, "CONTRIBUTING.md lost its 'Add a knob' example"

from textune.methods import probe
assert "textune.classifier" not in sys.modules and "textune.cli" not in sys.modules
module = {"__name__": probe.__name__, "__package__": "textune.methods"}
exec(compile(blocks[0], "CONTRIBUTING.md", "exec"), module)
probe.Probe.config = module["ProbeConfig"]  # what editing methods/probe.py does

import pytest
from typer.testing import CliRunner
from textune import TextClassifier
from textune.cli import app
from textune.compare.grid import parse_method_options
from textune.methods import MethodParamError

# a TextClassifier parameter, with its default, in scikit-learn's view and the docstring
assert TextClassifier().get_params()["head_max_iter"] == 1000
assert TextClassifier(method="probe", head_max_iter=5000).get_params()["head_max_iter"] == 5000
assert inspect.signature(TextClassifier).parameters["head_max_iter"].default == 1000
assert "- head_max_iter (probe): probe: most iterations" in TextClassifier.__doc__
# a `textune train` option with its help and example; listed by `textune methods probe` only
runner = CliRunner()
help_text = " ".join(runner.invoke(app, ["train", "--help"]).output.split())
assert "--head-max-iter" in help_text and "Example: --head-max-iter 5000" in help_text
probe_list = runner.invoke(app, ["methods", "probe"]).output
assert re.search(r"--head-max-iter +default 1000: iterations of the head's solver", probe_list)
assert "head-max-iter" not in runner.invoke(app, ["methods", "setfit"]).output
# compare's per-method option
assert parse_method_options(["probe:head-max-iter=50"]) == {"probe": {"head_max_iter": 50}}
# checked before any model loads; refused by a method that does not read it
with pytest.raises(ValueError, match=r"head_max_iter must be at least 1, not 0\."):
    TextClassifier(method="probe", head_max_iter=0).fit(["a", "b"], ["x", "y"])
with pytest.raises(MethodParamError, match="'head_max_iter'.*it applies to probe"):
    TextClassifier(method="setfit", head_max_iter=50).fit(["a", "b"], ["x", "y"])
with tempfile.TemporaryDirectory() as tmp:
    data = Path(tmp) / "d.csv"
    data.write_text("text,label\na,x\nb,y\n")
    r = runner.invoke(app, ["train", "--data", str(data), "--output", str(Path(tmp) / "m"),
                            "--method", "finetune", "--head-max-iter", "50", "-q"])
    assert r.exit_code == 2 and "it applies to probe" in r.output, r.output
print("knob example: ok")
'''


def test_the_add_a_knob_example_shows_up_everywhere():
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(GUIDE.parent / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(
            os.pathsep) if p])}
    r = subprocess.run([sys.executable, "-c", KNOB_CHECKS, str(GUIDE)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "knob example: ok" in r.stdout, r.stdout + r.stderr
    # this interpreter never saw it
    assert "head_max_iter" not in TextClassifier().get_params()
