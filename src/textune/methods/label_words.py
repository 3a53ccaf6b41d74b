"""Label words: train an adapter on a causal LM so the right label's words come first after
the prompt (generative classification; the model is `models.generative.LabelWordModel`).

A method of its own, reached as `peft` on a causal LM (`--method peft --model smollm2`:
`Peft.for_backbone`), which is how users name it and how its models are saved. Torch, peft
and the model code load inside `fit` (the engine's task in `label_word_task`), so reading
`LabelWordsConfig` (the method registry, `textune --help`) stays light."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .base import Method
from .config import (AdapterConfig, SupervisedConfig, VerbalizerConfig, VirtualTokensConfig,
                     knob)
from .supervised import default_epochs, validation_split

log = logging.getLogger(__name__)


@dataclass
class LabelWordsConfig(VerbalizerConfig, VirtualTokensConfig, AdapterConfig, SupervisedConfig):
    """peft on a causal LM: an adapter learns to put the right label's words first after a
    prompt (generative classification with probabilities)."""

    template: str | None = knob(None, "prompt with {text} (and {text_pair}); the label words "
                                "follow it",
                                doc="Causal LM prompt with {text} (and {text_pair}); the label "
                                "words follow it.",
                                example="--template 'Review: {text}\\nSentiment:'")


class LabelWords(Method):
    name = "label_words"
    summary = ("an adapter on a causal LM learns to put the right label's words first after "
               "a prompt (--method peft --model smollm2)")
    config = LabelWordsConfig
    hints = {"merge": "Merging folds a lora/ia3 adapter into an encoder; a causal LM's "
                      "artifact is its adapter alone."}
    no_label_sets = ("a causal LM classifies by scoring one label's words, so it does not "
                     "train on label sets; for multi-label data use --method setfit, probe, "
                     "finetune or peft on an encoder (--model minilm).")

    checkpoints = True  # trains on the engine: checkpoints and resume

    def fit(self, cfg: LabelWordsConfig, ex, y: np.ndarray, checkpoint=None):
        if y.ndim == 2:  # `TextClassifier` refuses label sets first (`no_label_sets`)
            raise ValueError(self.no_label_sets)
        return train_label_words(cfg, ex, y, cfg.peft or "lora", checkpoint=checkpoint)


def train_label_words(cfg, ex, y: np.ndarray, method: str, checkpoint=None):
    """Add an adapter to the causal LM and train it to put the right label's words first."""
    from peft import get_peft_model

    from .. import engine
    from ..engine.health import warn_unknown_tokens
    from ..models.adapters import DEFAULT_LR, peft_config, room_for_virtual_tokens, trainable_counts
    from ..models.generative import MAX_LENGTH, LabelWordModel, load_causal_lm
    from .label_word_task import LabelWordTask

    if method == "prefix":
        raise ValueError("generative classification takes --peft prompt, ptuning, lora or "
                         "ia3; prefix tuning is for encoders (--model minilm).")
    engine.seed_everything(cfg.seed)
    t0 = time.perf_counter()
    base, tokenizer = load_causal_lm(cfg.model)
    load_seconds = time.perf_counter() - t0
    warn_unknown_tokens(tokenizer, ex.texts, cfg.model, log)
    names = {str(k): str(v) for k, v in (cfg.verbalizers or {}).items()}
    verbalizers = [names.get(str(c), str(c)) for c in ex.classes]
    model = get_peft_model(base, peft_config(method, "CAUSAL_LM", base.config.model_type,
                                             r=cfg.lora_r,
                                             num_virtual_tokens=cfg.num_virtual_tokens))
    max_length = room_for_virtual_tokens(cfg.max_length or MAX_LENGTH, method, base.config,
                                         cfg.num_virtual_tokens)
    lw = LabelWordModel(model, tokenizer, verbalizers, cfg.template, cfg.model, method,
                        max_length)
    trainable, total = trainable_counts(model)
    log.info("%s on %s: %s trainable parameters of %s (%.3f%%)", method, cfg.model,
             f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    train_ex, val = validation_split(ex, y, cfg)
    y_train = train_ex.label_ids(ex.classes)
    batch_size = cfg.batch_size or min(8, max(2, len(train_ex) // 4))
    epochs = cfg.epochs or default_epochs(len(train_ex), batch_size)
    lr = cfg.learning_rate or DEFAULT_LR[method]
    task = LabelWordTask(lw, train_ex.texts, train_ex.text_pairs, y_train,
                         batch_size=batch_size, seed=cfg.seed, val=val)
    loop = engine.TrainConfig(
        epochs=epochs, learning_rate=lr, warmup_ratio=cfg.warmup_ratio,
        grad_accum=cfg.grad_accum, mixed_precision=cfg.bf16, eval_every=cfg.eval_steps,
        patience=cfg.patience if cfg.patience is not None else (2 if val else None),
        seed=cfg.seed, progress=cfg.show_progress, desc=f"{method} (label words)",
        class_names=[str(c) for c in ex.classes])
    result = engine.fit(task, loop, checkpoint=checkpoint, examples_per_batch=len)
    stats = {"epochs": epochs, "batch_size": batch_size, "learning_rate": lr,
             "verbalizers": verbalizers, "trainable_parameters": trainable,
             "load_seconds": load_seconds,
             "total_parameters": total, **result.as_dict()}
    return lw, stats
