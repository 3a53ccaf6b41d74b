"""Texts longer than `max_length` tokens, shared by every encoder model.

`long_text="truncate"` cuts them; `"chunk"` reads them whole, in windows of `max_length`
tokens overlapping by `stride`: the embedding models average the windows' embeddings, the
sequence models (finetune, peft) train on every window with its document's label and average
the windows' logits. Text pairs are always truncated: their two texts must be read together.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

LONG_TEXT = ("truncate", "chunk")


def check_long_text(long_text: str, stride: int | None, max_length: int) -> int:
    """The stride to use (None: a quarter of `max_length`); refuses settings that cannot
    work, by name."""
    if long_text not in LONG_TEXT:
        raise ValueError(f"long_text must be one of {', '.join(LONG_TEXT)}, not "
                         f"{long_text!r}.")
    resolved = max_length // 4 if stride is None else int(stride)
    if long_text == "chunk" and not 0 <= resolved <= max_length // 2:
        raise ValueError(f"stride (tokens shared by consecutive windows) must be between 0 "
                         f"and half of max_length ({max_length // 2}), not {stride}.")
    return resolved


def windows(tokenizer, texts: Sequence[str], pairs: Sequence[str] | None, max_length: int,
            long_text: str, stride: int) -> tuple[dict, np.ndarray | None]:
    """Token ids to run, and for `long_text="chunk"` the text each window belongs to (None:
    one row per text)."""
    from ..engine.batching import tokenize_unpadded  # torch: not at import (config reads LONG_TEXT)

    if long_text != "chunk" or pairs is not None:
        return tokenize_unpadded(tokenizer, texts, pairs, max_length), None
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, padding=False)
    owner = np.asarray(enc.pop("overflow_to_sample_mapping"))
    return enc, owner


def count_long(tokenizer, texts: Sequence[str], pairs: Sequence[str] | None,
               max_length: int) -> int:
    """How many texts (pairs) exceed `max_length` tokens."""
    args = (list(texts),) if pairs is None else (list(texts), list(pairs))
    enc = tokenizer(*args, truncation=False, padding=False, verbose=False)
    return sum(len(ids) > max_length for ids in enc["input_ids"])


def log_long_texts(log: logging.Logger, tokenizer, ex, max_length: int, long_text: str,
                   stride: int) -> int:
    """Log how many training texts exceed `max_length` and what happens to them; return it."""
    n_long = count_long(tokenizer, ex.texts, ex.text_pairs, max_length)
    if n_long:
        how = ("truncated (long_text='chunk', --long-text chunk, reads them whole)"
               if long_text == "truncate" or ex.is_pair else
               f"read whole in windows of {max_length} tokens overlapping by {stride}")
        log.info("%d of %d training texts exceed max_length (%d tokens): %s", n_long, len(ex),
                 max_length, how)
    return n_long
