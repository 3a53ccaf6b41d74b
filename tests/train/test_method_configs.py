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
from textune.methods import METHODS, MethodParamError, knobs, readers, variants

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
