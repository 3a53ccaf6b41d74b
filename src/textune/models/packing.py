"""Padding-free training forwards: a batch of texts packed into a few rows.

A contrastive step reads 8-16 short texts of different lengths. Padded to the longest, more
than half of each matmul multiplies padding (SST-2, 8 shots: 258 padded tokens for 109 real
ones). Packed, texts run side by side in rows of their real tokens: each token attends only
to its own text (a block-diagonal mask), positions restart at 0 for each text, and mean
pooling runs per text. That is the same function as the padded batch (the tests check
embeddings and gradients against it), with the matmuls on real tokens only. Rows hold at
most `row_tokens` tokens (or the longest text), because attention costs a row's length
squared; a step is packed only when that computes clearly fewer token positions than
length-sorted padded buckets (texts of equal length, e.g. long-text windows, gain nothing).

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
# pack only when the packed rows are at most this fraction of the padded buckets' positions
MIN_SAVING = 0.8


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


def pack_rows(order: Sequence[int], lengths: Sequence[int], bucket_size: int,
              row_tokens: int) -> list[list[int]] | None:
    """Rows of text indices to pack (`order`: indices sorted by length), or None when
    packing would not save at least 1 - MIN_SAVING of the padded buckets' positions."""
    limit = max(row_tokens, max(lengths[i] for i in order))
    rows, row, total = [], [], 0
    for i in order:
        if row and total + lengths[i] > limit:
            rows.append(row)
            row, total = [], 0
        row.append(i)
        total += lengths[i]
    rows.append(row)
    packed = len(rows) * max(sum(lengths[i] for i in r) for r in rows)
    buckets = [order[s:s + bucket_size] for s in range(0, len(order), bucket_size)]
    padded = sum(len(b) * lengths[b[-1]] for b in buckets)  # sorted: the last is the longest
    return rows if packed <= MIN_SAVING * padded else None


def packed_embeddings(st_model, encoded: dict, rows: Sequence[Sequence[int]],
                      device: torch.device) -> torch.Tensor:
    """Sentence embeddings of the texts in `rows` (indices into `encoded`, tokenised
    unpadded), in row-major order, computed as one batch of packed rows."""
    width = max(sum(len(encoded["input_ids"][i]) for i in r) for r in rows)
    shape = (len(rows), width)
    ids, pos, types = (torch.zeros(shape, dtype=torch.long) for _ in range(3))
    owner = (-1 - torch.arange(width)).repeat(len(rows), 1)  # padding: attends only itself
    lengths, k = [], 0
    for r, row in enumerate(rows):
        at = 0
        for i in row:
            n = len(encoded["input_ids"][i])
            ids[r, at:at + n] = torch.tensor(encoded["input_ids"][i])
            if "token_type_ids" in encoded:
                types[r, at:at + n] = torch.tensor(encoded["token_type_ids"][i])
            pos[r, at:at + n] = torch.arange(n)
            owner[r, at:at + n] = k
            lengths.append(n)
            k, at = k + 1, at + n
    features = {"input_ids": ids, "position_ids": pos, "token_type_ids": types,
                "attention_mask": (owner[:, :, None] == owner[:, None, :])[:, None]}
    features = {key: v.to(device) for key, v in features.items()}
    tokens = st_model[0](features)["token_embeddings"]  # (rows, width, dim)
    owner = owner.reshape(-1).to(device)
    real = owner >= 0
    flat = tokens.reshape(-1, tokens.shape[-1])[real]
    sums = torch.zeros(k, flat.shape[1], dtype=flat.dtype, device=device)
    emb = sums.index_add(0, owner[real], flat) / torch.tensor(lengths, device=device,
                                                               dtype=flat.dtype)[:, None]
    return F.normalize(emb, p=2, dim=1) if len(st_model) == 3 else emb
