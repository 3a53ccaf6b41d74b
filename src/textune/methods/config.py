"""Each method's knobs, declared as a dataclass (litgpt / torchtune style).

`TextClassifier` keeps one flat, scikit-learn-style parameter list; a method sees only its own
config, built from those parameters in one place (`build_config`). A parameter the user set
that the chosen method does not read is an error that names the methods that do read it, so
nothing is silently ignored. `textune methods` lists every config's fields, defaults and help
from these classes, so the docs cannot drift from the code.

Field names are `TextClassifier` parameter names, and defaults are its defaults (a test holds
them equal). Field groups compose by inheritance only because dataclasses merge fields that
way: `MethodConfig` (every method), `LoopConfig` (methods trained on the engine),
`SupervisedConfig` (cross-entropy methods with a validation split).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping


def knob(default: Any, help: str) -> Any:  # noqa: A002 - the word the CLI uses
    """A config field with the one-line help `textune methods` shows."""
    return field(default=default, metadata={"help": help})


@dataclass
class MethodConfig:
    """What every method reads."""

    model: str = knob("minilm", "backbone: an offline short name (minilm, mpnet, smollm2), a "
                      "local folder or a hub name")
    max_length: int | None = knob(None, "token limit per text (None: the backbone's, at most "
                                  "256)")
    seed: int = knob(0, "seed for sampling, batching and initialisation")
    show_progress: bool = knob(False, "progress bars")


@dataclass
class LoopConfig(MethodConfig):
    """What every method trained on the engine's loop reads."""

    epochs: float | None = knob(None, "passes over the training data (None: the method's "
                                "default)")
    batch_size: int | None = knob(None, "examples per batch (None: the method's default)")
    learning_rate: float | None = knob(None, "AdamW learning rate (None: the method's "
                                       "default)")
    warmup_ratio: float = knob(0.1, "share of steps with a linear learning-rate warmup")
    grad_accum: int = knob(1, "batches accumulated per optimizer step")
    bf16: Any = knob("auto", "bf16 autocast: 'auto' (where the hardware has it), True, False")


@dataclass
class SupervisedConfig(LoopConfig):
    """What the cross-entropy methods read: a validation split and early stopping."""

    validation: float | None = knob(None, "fraction held out to evaluate, stop early and keep "
                                    "the best epoch (None: 0.1 with >= 200 rows, else none)")
    eval_steps: int | None = knob(None, "evaluate every N optimizer steps instead of every "
                                  "epoch")
    patience: int | None = knob(None, "evaluations without improvement before stopping "
                                "(None: 2 with a validation split)")


@dataclass
class LongTextConfig:
    """What the encoder methods read about texts longer than `max_length`."""

    long_text: str = knob("truncate", "texts over max_length: 'truncate', or 'chunk' (read "
                          "whole: overlapping windows; embeddings or logits averaged)")
    stride: int | None = knob(None, "tokens shared by consecutive windows with "
                              "long_text='chunk' (None: max_length // 4)")


@dataclass
class AnchorConfig:
    """What the embedding methods read about label names as prior knowledge."""

    label_anchors: Any = knob("auto", "add the label names in sentence templates ('This "
                              "text is about {label}.') as training examples: 'auto' (when "
                              "the labels are words and each text has one), True, False")
    verbalizers: dict | None = knob(None, "{label: words} the label anchors use (None: the "
                                    "label itself), for labels that are ids: {0: 'negative'}")


class MethodParamError(ValueError):
    """A parameter was set that the chosen method would ignore."""


def build_config(config_cls: type, params: Mapping[str, Any], user_set: set[str], *,
                 method: str, readers: Mapping[str, list[str]],
                 hints: Mapping[str, str] | None = None):
    """`config_cls` from the estimator's `params`; refuse any of `user_set` it does not read.

    `readers` maps each parameter to the methods that read it, for the error message; `hints`
    gives a method's own advice for a parameter it refuses (e.g. finetune and `peft`).
    """
    names = {f.name for f in dataclasses.fields(config_cls)}
    ignored = sorted(k for k in user_set if k not in names)
    if ignored:
        raise MethodParamError(" ".join(_ignored_message(k, method, readers.get(k, []),
                                                         (hints or {}).get(k))
                                        for k in ignored))
    return config_cls(**{k: v for k, v in params.items() if k in names})


def _ignored_message(name: str, method: str, readers: list[str], hint: str | None) -> str:
    where = (f"it applies to {', '.join(readers)}" if readers
             else "no method reads it")
    msg = (f"--method {method} does not use '{name}', so setting it would be silently "
           f"ignored; {where}. Leave it unset or choose one of those methods.")
    return f"{msg} {hint}" if hint else msg


def knobs(config_cls: type) -> list[dict]:
    """The fields of a config: name, default and help (for `textune methods` and the docs)."""
    return [{"name": f.name, "default": f.default, "help": f.metadata.get("help", "")}
            for f in dataclasses.fields(config_cls)]
