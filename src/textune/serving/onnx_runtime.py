"""Predict with an ONNX export: onnxruntime + tokenizers, no torch, no transformers.

An export (written by `onnx_export.export_onnx`) is a documented pair in one folder:

- `model.onnx`: body + pooling + head in one graph. Inputs `input_ids`, `attention_mask`
  (and `token_type_ids` when the tokenizer makes them), int64 `[batch, tokens]`; outputs
  `probabilities` `[batch, classes]` (columns in `labels` order) and `embeddings` (setfit,
  probe) or `logits` (finetune, and peft with LoRA/IA3 folded into the weights).
- `tokenizer.json`: the fast tokenizer, applied with truncation to `max_length`, no padding.
- `textune.json`: the model's config plus an `onnx` section (inputs, pad id, quantization).

`OnnxClassifier` implements the `predictor.Predictor` protocol.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..artifact import selfcheck
from ..models.decision import Decision
from ..models.heads import LogisticHead, mean_by_owner, probabilities
from .predictor import check_texts, model_card

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "textune.json"
HEAD_FILE = "head.safetensors"  # the same name as in a model folder


def is_onnx_export(path: str | os.PathLike) -> bool:
    return (Path(path) / MODEL_FILE).is_file() and (Path(path) / TOKENIZER_FILE).is_file()


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class OnnxClassifier:
    """Predict with an exported folder: tokenizers + onnxruntime, no torch.

    Inputs are sorted by token length and run in batches under a token budget (little
    padding), then put back in their original order.
    """

    def __init__(self, path: Path, session, tokenizer, config: dict):
        self.chunk = False  # long_text="chunk": a long text's windows are pooled here
        self.head: LogisticHead | None = None  # a chunked embedding model's head
        self.path = path
        self.session = session
        self.tokenizer = tokenizer
        self.config = config
        onnx_cfg = config["onnx"]
        self.input_names = list(onnx_cfg["inputs"])
        self.outputs = list(onnx_cfg.get("outputs", ["probabilities", "embeddings"]))
        self.pad_id = int(onnx_cfg.get("pad_token_id", 0))
        self.labels = list(config["labels"])
        self.classes_ = np.array(self.labels)
        self.is_pair_ = bool(config["text_pair"])
        self.decision = Decision.from_json(config.get("decision"))

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None, *,
             verify: bool = True) -> "OnnxClassifier":
        """Open an export folder and prove that it answers as the model it came from did."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(path)
        if not is_onnx_export(path):
            hint = (" It is a textune model folder: export it first with `textune export "
                    f"{path} --format onnx --output {path}-onnx`."
                    if (path / CONFIG_FILE).is_file() else "")
            raise FileNotFoundError(f"{path} is not an ONNX export (no {MODEL_FILE} and "
                                    f"{TOKENIZER_FILE}).{hint}")
        config = json.loads((path / CONFIG_FILE).read_text())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or cpu_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path / MODEL_FILE), opts,
                                       providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        tok.no_padding()
        long_text = config.get("long_text") or {"mode": "truncate"}
        # pairs are always truncated (as in torch); a stride on a pair could even panic
        chunk = long_text["mode"] == "chunk" and not config["text_pair"]
        tok.enable_truncation(int(config["onnx"]["max_length"]),
                              stride=int(long_text["stride"]) if chunk else 0)
        clf = cls(path, session, tok, config)
        clf.chunk = chunk
        if chunk and clf.outputs[1] == "embeddings":  # pooled embeddings, then the head
            from ..artifact.files import load_arrays

            clf.head = LogisticHead.from_state_dict(
                load_arrays(path / HEAD_FILE),
                multi_label=config["head"].get("multi_label", False))
        if verify and selfcheck.KEY in config:
            int8 = config["onnx"].get("quantize") == "int8"
            selfcheck.verify(clf.predict_proba, config[selfcheck.KEY], str(path),
                             tolerance=selfcheck.INT8_TOLERANCE if int8 else None,
                             versions=config.get("versions"))
        elif verify and config.get("head", {}).get("type") == "logistic_regression" \
                and len(config["labels"]) >= 3:
            # textune < 0.2 exported from a saved model whose head it had stored permuted
            raise selfcheck.ArtifactError(
                f"{path}: this ONNX export was made by textune < {selfcheck.FIXED_IN} from a "
                f"{len(config['labels'])}-class {config.get('method')} model, whose head that "
                "release saved permuted (safetensors #825): its answers are wrong. Export the "
                f"model folder again with textune >= {selfcheck.FIXED_IN} (`textune export "
                f"{config['onnx'].get('exported_from', 'MODEL_DIR')} --output {path}`); the "
                "model folder itself is repaired on load.")
        return clf

    @property
    def info(self) -> dict:
        return {"labels": self.labels, "method": self.config.get("method"),
                "backbone": self.config.get("backbone"), "text_pair": self.is_pair_,
                "multi_label": self.decision.multi_label, "backend": "onnx",
                "quantize": self.config["onnx"].get("quantize"),
                "versions": {**self.config.get("versions", {}),
                             **self.config["onnx"].get("versions", {})},
                **model_card(self.config.get("train", {}), self.config.get("created"))}

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray:
        return self._run(texts, pairs, batch_size, max_tokens)[0]

    def embed(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
              batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray:
        if self.outputs[1] != "embeddings":
            raise ValueError(f"{self.path}: a {self.config.get('method')} export has no "
                             "sentence embeddings (only setfit and probe models do).")
        return self._run(texts, pairs, batch_size, max_tokens)[1]

    def predict(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        proba = self.predict_proba(texts, pairs)
        if self.decision.multi_label:
            return self.decision.indicator(proba)
        return self.classes_[proba.argmax(axis=1)]

    def _run(self, texts, pairs, batch_size, max_tokens):
        check_texts(texts, pairs)
        n = len(texts)
        k = len(self.labels)
        if n == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, 0), np.float32)
        batch = list(texts) if pairs is None else list(zip(texts, pairs))
        encs = self.tokenizer.encode_batch(batch)
        if self.chunk and pairs is None:  # every window of every text
            owner = np.repeat(np.arange(n), [1 + len(e.overflowing) for e in encs])
            encs = [w for e in encs for w in (e, *e.overflowing)]
            _, rows = self._run_rows(encs, batch_size, max_tokens, k)
            pooled = mean_by_owner(rows, owner, n)
            if self.head is not None:  # embeddings: the head reads their average
                return self.head.predict_proba(pooled).astype(np.float32), pooled
            # a sequence model's logits: averaged, as the torch model does
            return probabilities(pooled, self.decision.multi_label), pooled
        return self._run_rows(encs, batch_size, max_tokens, k)

    def _run_rows(self, encs, batch_size, max_tokens, k):
        n = len(encs)
        lengths = np.array([len(e.ids) for e in encs])
        order = np.argsort(-lengths, kind="stable")
        proba = np.empty((n, k), np.float32)
        emb = None
        start = 0
        while start < n:
            width = int(lengths[order[start]])
            size = max(1, min(batch_size, max_tokens // max(width, 1)))
            idx = order[start:start + size]
            feeds = self._pad([encs[i] for i in idx], width)
            p, e = self.session.run(self.outputs, feeds)
            if emb is None:
                emb = np.empty((n, e.shape[1]), np.float32)
            proba[idx], emb[idx] = p, e
            start += len(idx)
        return proba, emb

    def _pad(self, encs, width: int) -> dict[str, np.ndarray]:
        m = len(encs)
        ids = np.full((m, width), self.pad_id, np.int64)
        mask = np.zeros((m, width), np.int64)
        types = np.zeros((m, width), np.int64)
        for r, e in enumerate(encs):
            L = len(e.ids)
            ids[r, :L] = e.ids
            mask[r, :L] = 1
            types[r, :L] = e.type_ids
        all_feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: all_feeds[name] for name in self.input_names}
