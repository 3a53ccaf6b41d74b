"""Each method reads its own config dataclass: a parameter set for a method that would ignore
it is an error naming the methods that read it (estimator, CLI and compare grids alike), and
`textune methods` lists every method's options from the same dataclasses."""

import json

import pytest
from typer.testing import CliRunner

from textune import TextClassifier
from textune.classifier import CHECKPOINT_PARAMS, DECISION_PARAMS
from textune.cli import app
from textune.compare.grid import cell_params, check_params, parse_method_options
from textune.methods import (METHODS, MethodParamError, all_knobs, knob_configs, knobs, readers,
                             variants)

DEFAULTS = TextClassifier().get_params()
# a value other than the default for every parameter some method may not read
SET = {"steps": 5, "epochs": 2.0, "batch_size": 4, "learning_rate": 1e-3, "warmup_ratio": 0.2,
       "grad_accum": 2, "bf16": False, "validation": 0.2, "eval_steps": 10, "patience": 3,
       "class_weight": "balanced", "merge": True, "lora_r": 4, "num_virtual_tokens": 5,
       "verbalizers": {"a": "yes"}, "template": "T: {text}", "loss": "triplet", "head_c": 2.0,
       "peft": "lora", "label_anchors": False}
TEXTS, LABELS = ["good", "bad", "fine", "awful"], ["p", "n", "p", "n"]


def test_config_fields_are_estimator_parameters_with_its_defaults():
    for label, (_, cfg) in variants().items():
        for k in knobs(cfg):
            assert k["name"] in DEFAULTS, (label, k["name"])
            assert k["default"] == DEFAULTS[k["name"]], (label, k["name"])
            assert k["help"], (label, k["name"])
    # every parameter has a reader: a method, or the classifier itself (how multi-label
    # probabilities become labels), or the engine (checkpoints, the same for every method)
    assert set(readers()) == set(DEFAULTS) - {"method", *DECISION_PARAMS, *CHECKPOINT_PARAMS}
    # what a resume may change (`decision_only`) is what no method reads: a knob that
    # training reads must match its checkpoint
    assert {k.name for k in all_knobs().values() if k.decision_only} == set(DECISION_PARAMS)


def _refused(label, cfg):
    read = {k["name"] for k in knobs(cfg)}
    return [name for name in SET if name not in read]


CASES = [(label, name) for label, (_, cfg) in variants().items() for name in _refused(label, cfg)]


@pytest.mark.parametrize("label, name", CASES, ids=[f"{a.split()[0]}{'-lm' if ' ' in a else ''}"
                                                    f"-{b}" for a, b in CASES])
def test_each_method_refuses_every_parameter_it_does_not_read(label, name):
    """Before any model loads: the error names the parameter and the methods that read it."""
    method, model = label.split()[0], "minilm"
    if "causal LM" in label:
        pytest.importorskip("gguf")
        model = "smollm2"
    clf = TextClassifier(method=method, model=model, **{name: SET[name]})
    with pytest.raises(MethodParamError) as err:
        clf.fit(TEXTS, LABELS)
    msg = str(err.value)
    assert f"'{name}'" in msg and f"--method {label}" in msg
    assert ", ".join(readers()[name]) in msg


def test_a_parameter_the_method_reads_is_accepted_and_saved(tmp_path):
    clf = TextClassifier(method="probe", head_c=2.0, max_length=32).fit(TEXTS, LABELS)
    assert clf.method_config_.head_c == 2.0 and type(clf.method_config_).__name__ == "ProbeConfig"
    clf.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "textune.json").read_text())
    assert saved["method_config"] == {"model": "minilm", "max_length": 32, "seed": 0,
                                      "show_progress": False, "long_text": "truncate",
                                      "stride": None, "label_anchors": "auto",
                                      "verbalizers": None, "head_c": 2.0}
    assert TextClassifier.load(tmp_path / "m").method_config_ == saved["method_config"]


def test_shorthand_and_method_specific_advice():
    with pytest.raises(MethodParamError, match="--method lora does not use 'head_c'"):
        TextClassifier(method="lora", merge=True, head_c=3.0).fit(TEXTS, LABELS)
    with pytest.raises(MethodParamError, match="takes no --peft adapter"):
        TextClassifier(method="probe", peft="lora").fit(TEXTS, LABELS)


def test_cli_train_refuses_an_option_the_method_ignores(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS)))
    r = CliRunner().invoke(app, ["train", "--method", "probe", "--epochs", "3", "--data",
                                 str(data), "--output", str(tmp_path / "m"), "-q"])
    assert r.exit_code == 2
    assert "'epochs'" in r.output and "setfit, finetune, peft" in r.output
    assert not (tmp_path / "m").exists()


def test_methods_command_lists_each_config_field_and_default():
    r = CliRunner().invoke(app, ["methods", "--json"])
    assert r.exit_code == 0, r.output
    listing = {m["method"]: m for m in json.loads(r.output.strip().splitlines()[-1])["methods"]}
    assert set(listing) == set(variants())
    for label, (_, cfg) in variants().items():
        fields = {k["name"]: k["default"] for k in knobs(cfg) if k["name"] != "show_progress"}
        assert {o["name"]: o["default"] for o in listing[label]["options"]} == fields
    options = {o["name"]: o["option"] for o in listing["finetune"]["options"]}
    assert options["class_weight"] == "--class-weight" and "head_c" not in options
    human = CliRunner().invoke(app, ["methods", "probe"]).output
    assert human.startswith("probe: ") and "--epochs" not in human and "head_c" in human
    assert CliRunner().invoke(app, ["methods", "nope"]).exit_code == 2


def test_compare_gives_each_method_the_settings_it_reads():
    params = {**DEFAULTS, "steps": 2, "max_length": 32}
    params.pop("method")
    check_params(["probe", "setfit"], params)  # steps: setfit reads it
    with pytest.raises(MethodParamError, match="no method in --methods probe,finetune reads "
                                               "'steps'.*applies to setfit"):
        check_params(["probe", "finetune"], params)
    options = parse_method_options(["probe:head_c=0.5", "lora:lora-r=16", "lora:peft=ia3"])
    assert options == {"probe": {"head_c": 0.5}, "lora": {"lora_r": 16, "peft": "ia3"}}
    check_params(["probe", "setfit", "lora"], params, options)
    probe = cell_params("probe", params, options)
    assert probe["head_c"] == 0.5 and probe["max_length"] == 32 and "steps" not in probe
    assert cell_params("setfit", params, options)["steps"] == 2
    assert "head_c" not in cell_params("lora", params, options)
    with pytest.raises(MethodParamError, match="probe does not read 'lora_r'"):
        check_params(["probe", "setfit"], params, {"probe": {"lora_r": 4}})
    with pytest.raises(ValueError, match="'finetune', which is not in --methods"):
        check_params(["probe", "setfit"], params, {"finetune": {"epochs": 4}})
    with pytest.raises(ValueError, match="METHOD:NAME=VALUE"):
        parse_method_options(["steps=4"])


def test_every_registered_method_declares_a_config():
    for name, method in METHODS.items():
        assert method.name == name and method.summary and method.config.__dataclass_fields__


def test_each_parameter_is_declared_once_in_the_whole_code_base():
    """One `knob(...)` field per name in src/ (shared knobs live in shared configs), and
    every config that reads a name reads that very field."""
    import ast
    import dataclasses
    from collections import Counter
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "textune"
    declared = Counter()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (isinstance(item, ast.AnnAssign) and isinstance(item.value, ast.Call)
                            and getattr(item.value.func, "id", None) == "knob"):
                        declared[item.target.id] += 1
    assert [name for name, n in declared.items() if n > 1] == []
    assert set(declared) == set(DEFAULTS)
    fields: dict[str, set] = {}
    for cfg in knob_configs():
        for f in dataclasses.fields(cfg):
            fields.setdefault(f.name, set()).add(id(f))
    assert {name for name, ids in fields.items() if len(ids) > 1} == set()


def test_the_estimator_parameters_are_the_declarations():
    import inspect

    from sklearn.base import clone

    sig = inspect.signature(TextClassifier).parameters
    assert list(sig) == list(all_knobs()) and list(sig)[:2] == ["method", "model"]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(sig.values())[2:])
    assert {n: p.default for n, p in sig.items()} == {
        n: k.default for n, k in all_knobs().items()} == DEFAULTS
    clf = clone(TextClassifier("probe", head_c=2.0).set_params(max_length=32))
    assert (clf.method, clf.head_c, clf.max_length, clf.seed) == ("probe", 2.0, 32, 0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'head_cc'"):
        TextClassifier(head_cc=2.0)
    for name, k in all_knobs().items():  # the docstring lists each, with its long help
        assert f"- {name}" in TextClassifier.__doc__ and k.doc


def test_train_options_are_the_declared_knobs():
    import typer

    options = {p.name: p for p in typer.main.get_command(app).commands["train"].params}
    for name, k in all_knobs().items():
        if k.flag is None:
            assert name not in options, name
            continue
        opt = options[name]
        assert opt.opts == [k.flag] and opt.default == k.default, name
        assert opt.help.startswith(k.doc) and opt.help.endswith(
            f"Example: {k.example}" if k.example else k.doc), name


def test_checks_and_parsers_of_the_declarations():
    with pytest.raises(ValueError, match="class_weight must be None or 'balanced', not 'x'"):
        TextClassifier(method="finetune", class_weight="x").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="label_anchors must be 'auto', True or False"):
        TextClassifier(method="probe", label_anchors="yes").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="keep_checkpoints must be at least 1, not 0"):
        TextClassifier(method="probe", keep_checkpoints=0).fit(TEXTS, LABELS)
    assert parse_method_options(["probe:label_anchors=off", "probe:verbalizers=p=yes,n=no",
                                 "setfit:threshold=tune"]) == {
        "probe": {"label_anchors": False, "verbalizers": {"p": "yes", "n": "no"}},
        "setfit": {"threshold": "tune"}}
    with pytest.raises(ValueError, match="no parameter 'stpes'; did you mean steps"):
        parse_method_options(["setfit:stpes=40"])
    with pytest.raises(ValueError, match="loss must be one of cosine"):
        parse_method_options(["setfit:loss=hinge"])
    with pytest.raises(ValueError, match="'maybe' is not one of auto, on, off"):
        parse_method_options(["probe:label_anchors=maybe"])
