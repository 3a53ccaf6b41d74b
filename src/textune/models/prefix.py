"""Prefix tuning (Li & Liang, 2021) on encoders, textune's own: peft hands the prefix to the
model as `past_key_values`, which encoders no longer accept from transformers 5.24 on.

Apart from `models.adapters` (torch-free names and peft configs) because this module needs
torch at import: `EncoderPrefix` is a `torch.nn.Module`.
"""

from __future__ import annotations

import functools

import torch

PREFIX_ATTENTION = "textune_prefix"  # the attention implementation that adds the prefix


class EncoderPrefix(torch.nn.Module):
    """Prefix tuning (Li & Liang, 2021) for an encoder: per layer, `num_virtual_tokens` learned
    keys and values that every token attends to; the encoder itself stays frozen.

    The prefix enters through transformers' attention interface (a registered attention
    function that prepends it and extends the mask, then runs sdpa), not through
    `past_key_values`, so real tokens keep their positions and no model code is copied. Any
    encoder whose attention uses that interface (BERT, RoBERTa, DistilBERT, ...) can take one.
    """

    def __init__(self, layers: int, heads: int, head_dim: int, num_virtual_tokens: int):
        super().__init__()
        shape = (layers, heads, num_virtual_tokens, head_dim)
        self.key = torch.nn.Parameter(torch.zeros(shape))
        self.value = torch.nn.Parameter(torch.zeros(shape))
        self._captured: dict | None = None

    @property
    def num_virtual_tokens(self) -> int:
        return self.key.shape[2]

    def extend(self, layer: int, key, value, mask):
        """Prepend layer `layer`'s prefix to the (batch, heads, seq, dim) keys and values; the
        prefix is visible to every query (True in a boolean mask, 0 in an additive one)."""
        if self._captured is not None:  # init_from_tokens: record the real keys/values
            self._captured[layer] = (key[0], value[0])
            return key, value, mask
        batch = key.shape[0]
        key = torch.cat([self.key[layer].to(key.dtype).expand(batch, -1, -1, -1), key], dim=2)
        value = torch.cat([self.value[layer].to(value.dtype).expand(batch, -1, -1, -1), value],
                          dim=2)
        if mask is not None:
            shape = (*mask.shape[:-1], self.num_virtual_tokens)
            visible = mask.new_ones(shape) if mask.dtype == torch.bool else mask.new_zeros(shape)
            mask = torch.cat([visible, mask], dim=-1)
        return key, value, mask

    @torch.no_grad()
    def init_from_tokens(self, model, input_ids: torch.Tensor) -> None:
        """Start from the keys and values the frozen encoder gives real tokens, as prompt
        tuning starts from vocabulary embeddings: a prefix of zeros or unit noise is on a
        different scale from the keys it joins, and trains slowly or not at all."""
        self._captured = {}
        try:
            model(input_ids=input_ids[None].to(self.key.device))
            for layer, (key, value) in self._captured.items():
                self.key[layer].copy_(key)
                self.value[layer].copy_(value)
        finally:
            self._captured = None


def _prefix_attention(module, query, key, value, attention_mask, **kwargs):
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    extend = getattr(module, "prefix_kv", None)
    if extend is not None:
        key, value, attention_mask = extend(key, value, attention_mask)
    return ALL_ATTENTION_FUNCTIONS["sdpa"](module, query, key, value, attention_mask, **kwargs)


def _register_prefix_attention() -> None:
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    ALL_ATTENTION_FUNCTIONS.register(PREFIX_ATTENTION, _prefix_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(PREFIX_ATTENTION, sdpa_mask)


def add_encoder_prefix(model, num_virtual_tokens: int) -> EncoderPrefix:
    """Give `model` (a transformers encoder) a trainable prefix, registered as the submodule
    `textune_prefix` so it moves, trains and counts with the model."""
    config = model.config
    attentions = [m for m in model.modules() if type(m).__name__.endswith("SelfAttention")]
    if (not getattr(model, "_supports_attention_backend", False)
            or len(attentions) != config.num_hidden_layers):
        raise ValueError(f"--peft prefix needs an encoder whose attention runs through "
                         f"transformers' attention interface (BERT, RoBERTa, DistilBERT, ...); "
                         f"'{config.model_type}' does not. Use --peft lora or --peft prompt.")
    _register_prefix_attention()
    heads = config.num_attention_heads
    prefix = EncoderPrefix(len(attentions), heads, config.hidden_size // heads,
                           num_virtual_tokens)
    for layer, attention in enumerate(attentions):
        attention.prefix_kv = functools.partial(prefix.extend, layer)
    model.textune_prefix = prefix
    config._attn_implementation = PREFIX_ATTENTION
    return prefix
