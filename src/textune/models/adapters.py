"""peft adapter configs with per-method defaults, for any architecture peft knows.

One place maps `--peft {lora,ia3,prefix,prompt,ptuning}` to a `peft` config. Target modules
come from peft's per-architecture tables (e.g. BERT: query/value for LoRA); an architecture
missing there falls back to every linear layer. Modules the checkpoint does not hold (a fresh
classification head, a pooler some checkpoints lack) are trained and saved with the adapter
(`modules_to_save`), so a reloaded model predicts exactly as the trained one did.

Prefix tuning on encoders is textune's own (`models.prefix.EncoderPrefix`): peft hands the
prefix to the model as `past_key_values`, which encoders no longer accept from transformers 5.24
on.

Imports no torch, peft or transformers at module level: the method registry (and so
`textune --help`) reads `PEFT_METHODS` from here.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

PEFT_METHODS = ("lora", "ia3", "prefix", "prompt", "ptuning")
PROMPT_METHODS = ("prefix", "prompt", "ptuning")

# Learning rates that train each adapter well in a few epochs (the encoder default, 5e-5,
# barely moves a LoRA or a soft prompt).
DEFAULT_LR = {"lora": 5e-4, "ia3": 5e-3, "prefix": 5e-3, "prompt": 3e-2, "ptuning": 3e-3}


def peft_config(method: str, task_type: str, model_type: str, *, r: int = 8,
                num_virtual_tokens: int = 20, modules_to_save: list[str] | None = None):
    """A peft config for `method` on a model of `model_type` ("bert", "llama", ...)."""
    import peft
    from peft.utils import constants

    if method not in PEFT_METHODS:
        raise ValueError(f"unknown --peft '{method}'; choose one of {', '.join(PEFT_METHODS)}.")
    common = {"task_type": task_type, "modules_to_save": modules_to_save or None}
    if method == "lora":
        known = constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type)
        return peft.LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.1,
                               target_modules=known or "all-linear", **common)
    if method == "ia3":
        known = constants.TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING.get(model_type)
        ff = constants.TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(model_type)
        return peft.IA3Config(target_modules=known or "all-linear",
                              feedforward_modules=ff if known else None, **common)
    if method == "prefix":  # causal LMs only; encoders take an EncoderPrefix
        return peft.PrefixTuningConfig(num_virtual_tokens=num_virtual_tokens, **common)
    if method == "prompt":
        return peft.PromptTuningConfig(num_virtual_tokens=num_virtual_tokens,
                                       prompt_tuning_init=peft.PromptTuningInit.SAMPLE_VOCAB,
                                       **common)
    return peft.PromptEncoderConfig(num_virtual_tokens=num_virtual_tokens,
                                    encoder_hidden_size=128, **common)


def room_for_virtual_tokens(max_length: int, method: str | None, model_config,
                            num_virtual_tokens: int) -> int:
    """The longest input a prompt-type adapter leaves room for: prompt and p-tuning put
    `num_virtual_tokens` embeddings before the text, and together they must fit the model's
    positions (512 for BERT). The encoder prefix adds keys only, no positions."""
    limit = getattr(model_config, "max_position_embeddings", None)
    if method not in ("prompt", "ptuning") or not limit or max_length + num_virtual_tokens <= limit:
        return max_length
    fitted = limit - num_virtual_tokens
    log.info("max_length %d -> %d: the %d virtual tokens of --peft %s share the model's %d "
             "positions with the text.", max_length, fitted, num_virtual_tokens, method, limit)
    return fitted


PEFT_HEADS = ("classifier", "score")  # peft saves these itself for SEQ_CLS


def new_modules(missing_keys) -> list[str]:
    """Module paths of parameters the checkpoint did not provide (freshly initialised)."""
    return sorted({k.rsplit(".", 1)[0] for k in missing_keys if "." in k} - set(PEFT_HEADS))


def trainable_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return int(trainable), int(total)
