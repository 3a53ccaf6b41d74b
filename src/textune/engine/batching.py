"""Batches that waste little compute on padding, for training and for inference."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch


def tokenize_unpadded(tokenizer, texts: Sequence[str], pairs: Sequence[str] | None,
                      max_length: int) -> dict:
    """Token ids per text (pairs as pairs), truncated, not padded: to sort and batch by
    length, then pad each batch only to its own longest row (`pad_rows`)."""
    args = (list(texts),) if pairs is None else (list(texts), list(pairs))
    return tokenizer(*args, truncation=True, max_length=max_length, padding=False)


def pad_rows(tokenizer, encoded: dict, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """The rows `idx` of `tokenize_unpadded`'s output as one padded batch of tensors."""
    rows = [{k: v[i] for k, v in encoded.items()} for i in idx]
    return dict(tokenizer.pad(rows, return_tensors="pt"))


def length_batches(lengths: Sequence[int], batch_size: int = 64,
                   max_tokens: int = 8192) -> Iterator[np.ndarray]:
    """Index batches for inference: longest first (a batch too big fails at once), each batch
    holding at most `batch_size` rows and about `max_tokens` padded tokens."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    start = 0
    while start < len(order):
        width = int(lengths[order[start]])
        size = max(1, min(batch_size, max_tokens // max(width, 1)))
        yield order[start:start + size]
        start += size


def inference_batches(model: torch.nn.Module, lengths: Sequence[int], batch_size: int = 64,
                      max_tokens: int = 8192, *, progress: bool = False,
                      desc: str = "predicting", unit: str = "text") -> Iterator[np.ndarray]:
    """`length_batches` for a model's inference loop: the model in eval mode meanwhile (and
    back in its former mode afterwards, an error included), a progress bar per row."""
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    bar = tqdm(total=len(lengths), desc=desc, unit=unit, disable=not progress, leave=False)
    try:
        for idx in length_batches(lengths, batch_size, max_tokens):
            yield idx
            bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)


class LengthGroupedBatchSampler:
    """Shuffled training batches of similar length (dynamic padding then pads little).

    Indices are shuffled, cut into mega-batches of 50 batches, each sorted by length and cut
    into batches whose order is shuffled again, as `transformers.Trainer`'s
    `group_by_length` does. `set_epoch` reseeds, so every epoch differs and runs reproduce.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0,
                 group_by_length: bool = True, mega: int = 50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group = group_by_length
        self.mega = mega
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        idx = rng.permutation(len(self.lengths))
        if not self.group:
            batches = [idx[i:i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        else:
            span = self.batch_size * self.mega
            batches = []
            for start in range(0, len(idx), span):
                chunk = idx[start:start + span]
                chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
                batches += [chunk[i:i + self.batch_size]
                            for i in range(0, len(chunk), self.batch_size)]
            batches = [batches[i] for i in rng.permutation(len(batches))]
        for b in batches:
            yield b.tolist()
