"""Training methods, registered by name in `METHODS`.

A method keeps the protocol in `base.py`: a `name`, a one-line `summary`, a `config` dataclass
of the knobs it reads (`config.py`) and `fit(cfg, examples, y)` that trains its model on the
shared engine and returns `(model, stats)`; the optional hooks (label sets, held-out rows for
tuning thresholds, handing a backbone over to another method) are named there with their
defaults. Adding a method means adding a module here and one line in `METHODS`
(CONTRIBUTING.md walks through it).

`all_knobs()` is every parameter of the estimator, each declared once with `config.knob`:
what `TextClassifier`, `textune train`, `textune methods` and compare derive theirs from.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..models.adapters import PEFT_METHODS
from .base import Method
from .config import (CheckpointConfig, DecisionConfig, EstimatorConfig, Knob,  # noqa: F401
                     MethodParamError, build_config, describe, knobs)
from .finetune import Finetune
from .peft import Peft
from .probe import Probe
from .setfit import SetFit

METHODS = {m.name: m for m in (SetFit, Probe, Finetune, Peft)}
# Shorthands (e.g. `compare --methods lora`): a peft method by its adapter's name.
ALIASES = {name: ("peft", {"peft": name}) for name in PEFT_METHODS}


# The order `TextClassifier` lists its parameters in (signature, docstring, `textune train
# --help`): a presentation choice, not a declaration. A knob not named here follows these,
# in the order its config declares it.
ORDER = ("method", "model", "peft", "steps", "epochs", "batch_size", "learning_rate",
         "warmup_ratio", "grad_accum", "validation", "eval_steps", "patience", "class_weight",
         "merge", "lora_r", "num_virtual_tokens", "verbalizers", "template", "loss", "head_c",
         "label_anchors", "max_length", "long_text", "stride", "train_max_length",
         "freeze_layers", "bf16", "seed", "show_progress", "threshold", "min_labels",
         "checkpoint_dir", "checkpoint_every", "checkpoint_minutes", "keep_checkpoints")


def knob_configs() -> list[type]:
    """Every dataclass that declares estimator parameters: which method, each method's
    configs, the decision and checkpointing."""
    return [EstimatorConfig, *(cfg for _, cfg in variants().values()), DecisionConfig,
            CheckpointConfig]


def all_knobs() -> dict[str, Knob]:
    """{name: its declaration} for every parameter of the estimator, in `ORDER`."""
    found: dict[str, Knob] = {}
    for cfg in knob_configs():
        for k in describe(cfg):
            found.setdefault(k.name, k)
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda item: rank.get(item[0], len(rank))))


def resolve_method(name: str) -> tuple[str, dict]:
    """(registered method, parameter overrides) for a method name or shorthand."""
    if name in METHODS:
        return name, {}
    if name in ALIASES:
        return ALIASES[name]
    raise ValueError(f"unknown method '{name}'; choose one of "
                     f"{', '.join(sorted(METHODS) + sorted(ALIASES))}.")


def variants() -> dict[str, tuple[type, type]]:
    """Every config a method may read, by label: {label: (method class, config class)}."""
    return {label: (m, cfg) for m in METHODS.values() for label, cfg in _configs(m).items()}


def _configs(m: type[Method]) -> dict[str, type]:
    """{label: config} of a registered method: its own, then its variants' (`base.Method`)."""
    return {m.name: m.config, **{label: v.config for label, v in m.variants.items()}}


def readers() -> dict[str, list[str]]:
    """{parameter: the methods that read it}; a variant is named only where its method's main
    config does not read the parameter (e.g. `verbalizers`: peft on a causal LM)."""
    out: dict[str, list[str]] = {}
    for label, (m, cfg) in variants().items():
        for k in knobs(cfg):
            names = out.setdefault(k["name"], [])
            if m.name not in names:
                names.append(m.name if label == m.name or _reads(m.config, k["name"]) else label)
    return out


def _reads(config_cls: type, name: str) -> bool:
    return name in {k["name"] for k in knobs(config_cls)}


def honours(method: str, name: str) -> bool:
    """Whether some variant of `method` (a name or shorthand) reads parameter `name`; False
    for a method textune does not have (training it fails with its own error)."""
    if method not in METHODS and method not in ALIASES:
        return False
    return any(_reads(c, name) for c in _configs(METHODS[resolve_method(method)[0]]).values())


def method_config(method: str, params: Mapping[str, Any], defaults: Mapping[str, Any]):
    """(registered name, the method that trains, its config) from the estimator's
    parameters; the method that trains is the registered one or, for this backbone, one of
    its variants (`Method.for_backbone`: peft on a causal LM is label words).

    A parameter differing from its default in `defaults` counts as set by the user; one the
    method does not read raises `MethodParamError`, naming the methods that read it.
    """
    name, overrides = resolve_method(method)
    registered = METHODS[name]
    params = {**params, **overrides}
    user_set = {k for k, v in params.items()
                if k != "method" and k not in overrides and not _same(v, defaults.get(k))}
    cls = registered.for_backbone(params["model"])
    shown = next((label for label, v in registered.variants.items() if v is cls), method)
    cfg = build_config(cls.config, params, user_set, method=shown, readers=readers(),
                       hints=cls.hints)
    return name, cls, cfg


def config_class(cls: type[Method], model: str) -> type:
    """The config dataclass `cls` reads with this backbone (peft's differs for a causal LM)."""
    return cls.for_backbone(model).config


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. arrays: different enough to count as set
        return False
