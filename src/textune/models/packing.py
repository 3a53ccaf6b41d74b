"""Padding-free training forwards: a batch of texts as one packed sequence.

A contrastive step reads 8-16 short texts of different lengths. Padded to the longest, more
than half of each matmul multiplies padding (SST-2, 8 shots: 258 padded tokens for 109 real
ones). Packed, the texts run as one row of their real tokens: each token attends only to its
own text (a block-diagonal mask), positions restart at 0 for each text, and mean pooling runs
per text. That is the same function as the padded batch (checked in the tests to float
rounding), with the matmuls on real tokens only.

Only for bodies where this is known to hold: a transformers BERT-type model behind
sentence-transformers' Transformer, mean Pooling and optional Normalize modules, with SDPA
attention (it takes a boolean 4D mask as given). Anything else keeps the padded path.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

# model types whose embeddings take explicit `position_ids` and whose attention applies a
# given 4D mask unchanged (MPNet derives relative positions itself: not packable as is)
PACKABLE_MODEL_TYPES = {"bert"}


def packable(st_model) -> bool:
    """Whether `packed_embeddings` computes what `st_model(features)` computes."""
    modules = list(st_model)
    names = [type(m).__name__ for m in modules]
    if len(names) not in (2, 3) or names[:2] != ["Transformer", "Pooling"]:
        return False
    if len(names) == 3 and names[2] != "Normalize":
        return False
    pool = modules[1]
    mode = getattr(pool, "pooling_mode", None)
    if mode not in ("mean", ("mean",), ["mean"]) or not getattr(pool, "include_prompt", True):
        return False
    config = getattr(modules[0].auto_model, "config", None)
    return (getattr(config, "model_type", None) in PACKABLE_MODEL_TYPES
            and getattr(config, "_attn_implementation", None) == "sdpa")


def packed_embeddings(st_model, rows: Sequence[dict], device: torch.device) -> torch.Tensor:
    """Sentence embeddings of tokenised `rows` (dicts of id lists), run as one packed row."""
    lengths = torch.tensor([len(r["input_ids"]) for r in rows])
    owner = torch.repeat_interleave(torch.arange(len(rows)), lengths).to(device)
    features = {
        "input_ids": _cat(rows, "input_ids", device),
        "position_ids": torch.cat([torch.arange(int(n)) for n in lengths])[None].to(device),
        "attention_mask": (owner[:, None] == owner[None, :])[None, None],
    }
    if "token_type_ids" in rows[0]:
        features["token_type_ids"] = _cat(rows, "token_type_ids", device)
    tokens = st_model[0](features)["token_embeddings"][0]  # (total tokens, dim)
    sums = torch.zeros(len(rows), tokens.shape[1], dtype=tokens.dtype, device=device)
    emb = sums.index_add(0, owner, tokens) / lengths.to(device, tokens.dtype)[:, None]
    return F.normalize(emb, p=2, dim=1) if len(st_model) == 3 else emb


def token_packs(order, lengths: Sequence[int], limit: int):
    """Consecutive runs of `order` (indices sorted by length) of at most `limit` tokens each
    (a longer text alone): attention over a packed row costs its length squared."""
    pack, total = [], 0
    for i in order:
        n = lengths[i]
        if pack and total + n > limit:
            yield pack
            pack, total = [], 0
        pack.append(i)
        total += n
    if pack:
        yield pack


def _cat(rows: Sequence[dict], key: str, device: torch.device) -> torch.Tensor:
    return torch.tensor([t for r in rows for t in r[key]], device=device)[None]
