"""Static embeddings: one vector per vocabulary token; a text's embedding is the normalised
mean of its tokens' vectors. No transformer runs at prediction, so it is 10-50x faster than
MiniLM, at some accuracy.

`--model static` (or `static:BASE`, BASE any sentence-transformer textune can load, default
`minilm`) is distilled from the base once, offline, with model2vec's recipe: every
vocabulary token is read alone between the special tokens ([CLS] token [SEP]), the last
hidden states are averaged, PCA keeps 256 dimensions, and each token's vector is scaled by
a SIF weight from its Zipf-estimated frequency (the vocabulary order is the frequency rank).
The result is cached under `$TEXTUNE_STATIC_CACHE` (default: the textune cache's `static/`).

The folder layout is model2vec's (`model.safetensors` with key `embeddings`,
`tokenizer.json`, `config.json`, `modules.json`), so `model2vec.StaticModel.from_pretrained`
and sentence-transformers (`StaticEmbedding`) read what textune saves, and textune reads a
model2vec folder passed as `--model PATH`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import numpy as np

from .backbones import STATIC_CONFIG as CONFIG_FILE
from .backbones import STATIC_PREFIX as PREFIX
from .backbones import STATIC_WEIGHTS as WEIGHTS_FILE
from .backbones import BackboneError, cache_dir, is_static_folder, resolve_backbone, static_base
from .long_text import check_long_text

log = logging.getLogger(__name__)

RECIPE = 1  # bump when `distil`'s output changes: cached models are then rebuilt
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
UNUSED = re.compile(r"\[unused\d+\]")  # BERT's placeholder tokens: never in text, no rank
# tokens read per text: all of it (a mean of token vectors costs little however long), as
# sentence-transformers' StaticEmbedding reads; model2vec's `encode` stops at 512 by default
NO_LIMIT = 1_000_000
TOKENIZER_FILE = "tokenizer.json"
BATCH = 1024  # texts tokenised per call (one thread's share of the work)
SMALL = 16  # up to this many texts are averaged in numpy (`_embed_few`)


def static_cache() -> Path:
    """Where distilled static models are kept: $TEXTUNE_STATIC_CACHE, else `static/` in the
    textune cache."""
    if os.environ.get("TEXTUNE_STATIC_CACHE"):
        return Path(os.environ["TEXTUNE_STATIC_CACHE"]).expanduser()
    return cache_dir() / PREFIX


def static_folder(name: str | os.PathLike, progress: bool = False) -> Path:
    """The folder of static backbone `name`: the folder itself, or the base's distilled
    model from the cache, distilled now (once) when missing."""
    base = static_base(name)
    if base is None:
        return Path(name).expanduser().resolve()
    path = resolve_backbone(base)
    target = static_cache() / f"{_slug(base)}-{_fingerprint(path)}"
    if is_static_folder(target):
        return target
    log.info("distilling static embeddings from '%s' (once; about a minute for minilm) "
             "into %s", base, target)
    t0 = time.perf_counter()
    vectors, tokenizer, config = distil(path, progress=progress)
    config["textune"]["base"] = base
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        write_folder(Path(tmp) / "model", vectors, tokenizer, config)
        try:
            os.replace(Path(tmp) / "model", target)
        except OSError:  # another process distilled it first
            if not is_static_folder(target):
                raise
    log.info("static embeddings from '%s' distilled in %.0f s", base, time.perf_counter() - t0)
    return target


def _slug(base: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", Path(base).name.lower()).strip("-") or "model"


def _fingerprint(path: str) -> str:
    """Names the base's files and the recipe, so a changed base or recipe distils anew."""
    h = hashlib.sha256(f"{RECIPE}:{PCA_DIMS}:{SIF_COEFFICIENT}:{path}".encode())
    folder = Path(path)
    if folder.is_dir():
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                small = f.suffix == ".json" and f.stat().st_size < 1 << 20
                h.update(f"{f.relative_to(folder)}:{f.stat().st_size}".encode())
                if small:
                    h.update(f.read_bytes())
    return h.hexdigest()[:12]


# ------------------------------------------------------------------------- distillation

def distil(path: str, *, pca_dims: int = PCA_DIMS, sif_coefficient: float = SIF_COEFFICIENT,
           batch_size: int = 1024, progress: bool = False):
    """(vectors, tokenizers.Tokenizer, config) distilled from the sentence-transformer at
    `path`, with model2vec's recipe (`distill_from_model`, mean pooling). BERT's [unusedN]
    tokens get no rank and a zero vector (model2vec drops them from the vocabulary; keeping
    their ids keeps the base's tokenizer unchanged)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import PCA
    from tqdm.auto import tqdm

    from ..engine.device import default_device

    device = default_device()
    body = SentenceTransformer(path, device=str(device))
    transformer, hf_tok = body[0].auto_model.eval(), body.tokenizer
    vocab = sorted(hf_tok.get_vocab().items(), key=lambda kv: kv[1])
    keep = np.array([i for t, i in vocab if not UNUSED.fullmatch(t)])
    prefix, suffix = _special_tokens(hf_tok)
    inputs = torch.tensor([[*prefix, int(i), *suffix] for i in keep], dtype=torch.long)
    extra = ({"token_type_ids": torch.zeros_like(inputs[:batch_size])}
             if "token_type_ids" in hf_tok.model_input_names else {})
    hidden = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(inputs), batch_size), disable=not progress,
                          desc="distilling static embeddings", unit="batch"):
            batch = inputs[start:start + batch_size].to(device)
            kw = {k: v[:len(batch)].to(device) for k, v in extra.items()}
            out = transformer(input_ids=batch, attention_mask=torch.ones_like(batch), **kw)
            hidden.append(out.last_hidden_state.float().mean(dim=1).cpu().numpy())
    emb = np.nan_to_num(np.concatenate(hidden).astype(np.float64))
    dims = min(pca_dims, emb.shape[1])
    if dims < len(emb):
        emb = PCA(n_components=dims, svd_solver="full").fit_transform(emb)
    inv_rank = 1.0 / np.arange(2, len(emb) + 2)
    proba = inv_rank / inv_rank.sum()
    emb = emb * (sif_coefficient / (sif_coefficient + proba))[:, None]
    vectors = np.zeros((max(i for _, i in vocab) + 1, emb.shape[1]), dtype=np.float32)
    vectors[keep] = emb
    tokenizer = hf_tok.backend_tokenizer
    config = {"model_type": "model2vec", "architectures": ["StaticModel"],
              "tokenizer_name": Path(path).name, "apply_pca": pca_dims,
              "sif_coefficient": sif_coefficient, "hidden_dim": int(vectors.shape[1]),
              "seq_length": 1000000, "normalize": True, "pooling": "mean",
              "textune": {"recipe": RECIPE, "source": str(path),
                          "zero_rows": int(len(vectors) - len(keep))}}
    return vectors, tokenizer, config


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single text ([CLS] and [SEP])."""
    plain = tokenizer("word", add_special_tokens=False)["input_ids"]
    full = tokenizer("word")["input_ids"]
    for head in range(len(full) - len(plain) + 1):
        if full[head:head + len(plain)] == plain:
            return full[:head], full[head + len(plain):]
    return [], []


def write_folder(folder: Path, vectors: np.ndarray, tokenizer, config: dict) -> None:
    """A static model in model2vec's layout (also what sentence-transformers reads)."""
    from ..artifact.files import save_arrays

    folder.mkdir(parents=True, exist_ok=True)
    save_arrays({"embeddings": vectors}, folder / WEIGHTS_FILE)
    plain = _plain_tokenizer(tokenizer)
    plain.save(str(folder / TOKENIZER_FILE), pretty=False)
    config = {**config, "embedding_dtype": np.dtype(vectors.dtype).name}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=4) + "\n")
    modules = [{"idx": 0, "name": "0", "path": ".",
                "type": "sentence_transformers.models.StaticEmbedding"}]
    if config.get("normalize"):
        modules.append({"idx": 1, "name": "1", "path": "1_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules, indent=4) + "\n")


def _plain_tokenizer(tokenizer):
    """A copy that neither truncates nor pads: the encoder sets its own limit."""
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(tokenizer.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain


# ------------------------------------------------------------------------- the encoder

class StaticEncoder:
    """What `EmbeddingModel` needs from a body (`embed`, `dim`, `save`, ...) for a static
    model: the fast tokenizer (no special tokens, unknown tokens dropped as model2vec does)
    and a mean of token vectors (`embedding_bag`), normalised. No transformers model."""

    static = True

    def __init__(self, vectors: np.ndarray, tokenizer, config: dict,
                 max_length: int | None = None, long_text: str = "truncate",
                 stride: int | None = None):
        import torch

        self.vectors = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        self.device = torch.device("cpu")  # a table lookup: no accelerator pays
        self.config = config
        self.normalize = bool(config.get("normalize", True))
        self.max_length = int(max_length or NO_LIMIT)
        self.stride = check_long_text(long_text, stride, self.max_length)
        self.long_text = long_text
        self._tok = _plain_tokenizer(tokenizer)
        if long_text != "chunk" and self.max_length < NO_LIMIT:  # chunk: read it all
            self._tok.enable_truncation(self.max_length)
        unk = getattr(self._tok.model, "unk_token", None)
        self.unk_id = self._tok.token_to_id(unk) if unk else None
        self._hf_tokenizer = None

    @classmethod
    def load(cls, name: str | os.PathLike, max_length: int | None = None,
             long_text: str = "truncate", stride: int | None = None,
             progress: bool = False) -> "StaticEncoder":
        """The static backbone `name` ('static', 'static:BASE' or a folder)."""
        from tokenizers import Tokenizer

        from ..artifact.files import load_arrays

        folder = static_folder(name, progress=progress)
        try:
            config = json.loads((folder / CONFIG_FILE).read_text())
            arrays = load_arrays(folder / WEIGHTS_FILE)
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except (OSError, ValueError) as e:
            raise BackboneError(f"could not read the static model in {folder}: {e}. Delete "
                                "the folder to distil it again.") from e
        vectors = np.asarray(arrays["embeddings"], dtype=np.float32)
        if "mapping" in arrays:  # model2vec's vocabulary quantisation: one row per token
            vectors = vectors[np.asarray(arrays["mapping"], dtype=np.int64)]
        if "weights" in arrays:
            vectors = vectors * np.asarray(arrays["weights"], dtype=np.float32)[:, None]
        return cls(vectors, tokenizer, config, max_length, long_text, stride)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def tokenizer(self):
        """The tokenizer as transformers' fast tokenizer (what the training-time checks
        read: unknown tokens, long texts); built on first use."""
        if self._hf_tokenizer is None:
            from transformers import PreTrainedTokenizerFast

            unk = getattr(self._tok.model, "unk_token", None)
            self._hf_tokenizer = PreTrainedTokenizerFast(tokenizer_object=self._tok,
                                                         unk_token=unk)
        return self._hf_tokenizer

    def save(self, path: str) -> None:
        config = {**self.config, "seq_length": self.max_length}
        write_folder(Path(path), self.vectors.numpy(), self._tok, config)

    def embed(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
              progress: bool = False, desc: str = "encoding", **_) -> np.ndarray:
        """Embeddings as float32 numpy: each text's mean token vector, normalised. Batch
        knobs of the transformer encoder (`batch_size`, `bf16`, ...) do not apply."""
        if pairs is not None:
            raise ValueError("a static backbone reads single texts, not text pairs: its "
                             "embedding is a mean of token vectors, which cannot relate two "
                             "texts. Use --model minilm (or mpnet) for pairs.")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), BATCH)
        threads = min(_cores(), len(starts))
        # the tokenizer and the lookup release the GIL: batches run on every core, even
        # where TOKENIZERS_PARALLELISM=false (the CLI's default) keeps each call on one
        with ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as pool:
            run = pool.map if pool else map
            done = run(lambda start: self._embed_batch(list(texts[start:start + BATCH])),
                       starts)
            if progress:
                from tqdm.auto import tqdm

                done = tqdm(done, total=len(starts), desc=desc, unit="batch")
            for start, emb in zip(starts, done):
                out[start:start + len(emb)] = emb
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        rows = [e.ids for e in self._tok.encode_batch_fast(texts, add_special_tokens=False)]
        if len(rows) <= SMALL:
            return self._embed_few(rows)
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=lengths.sum())
        if self.unk_id is not None:  # model2vec drops unknown tokens rather than average them
            known = flat != self.unk_id
            if not known.all():
                owner = np.repeat(np.arange(len(rows)), lengths)
                flat = flat[known]
                lengths = np.bincount(owner[known], minlength=len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        with torch.inference_mode():
            emb = F.embedding_bag(torch.from_numpy(flat), self.vectors,
                                  torch.from_numpy(offsets), mode="mean")
        if self.normalize:
            emb = F.normalize(emb, dim=1, eps=1e-32)
        return emb.numpy()

    def _embed_few(self, rows: list[list[int]]) -> np.ndarray:
        """The same means in numpy, for a few texts (a served request): torch's per-call
        overhead would be most of the time."""
        table = self.vectors.numpy()
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        for i, ids in enumerate(rows):
            if self.unk_id is not None:
                ids = [t for t in ids if t != self.unk_id]
            if ids:
                out[i] = table[ids].mean(axis=0)
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-32)
        return out


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
