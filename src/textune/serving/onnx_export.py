"""ONNX export of a saved model folder (torch needed here, never to serve the result).

The folder written is the format `onnx_runtime` reads (see its docstring); it is written
atomically and only once the graph answers as the model did (the self-check).
`--quantize int8` applies ONNX Runtime dynamic quantization (int8 weights, activations
quantized on the fly); its accuracy cost is reported by `benchmarks/inference.py`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..artifact import selfcheck
from ..artifact.files import atomic_dir
from .onnx_runtime import CONFIG_FILE, HEAD_FILE, MODEL_FILE, TOKENIZER_FILE, OnnxClassifier

log = logging.getLogger(__name__)

OPSET = 17


class ExportError(ValueError):
    """The model folder cannot be exported (message says why and what to do)."""


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike, *,
                quantize: str | None = None, optimize: bool = True) -> Path:
    """Export the model folder `model_dir` to the folder `output` (written atomically).

    optimize: fuse attention / layer-norm / GELU with ONNX Runtime's transformer optimizer
    before saving (the biggest CPU win after int8); skipped with a warning if it fails.
    """
    import torch

    from ..models.adapters import PROMPT_METHODS
    from ..classifier import TextClassifier

    if quantize not in (None, "int8"):
        raise ExportError(f"unknown --quantize '{quantize}'; the only choice is int8.")
    model_dir, output = Path(model_dir), Path(output)
    if output.resolve() == model_dir.resolve():
        raise ExportError("--output must differ from the model folder; e.g. --output "
                          f"{model_dir}-onnx")
    clf = TextClassifier.load(model_dir)  # proves the model answers as it did when saved
    config = json.loads((model_dir / CONFIG_FILE).read_text())
    if selfcheck.KEY not in config:  # saved before self-checks: record what it answers now
        config[selfcheck.KEY] = selfcheck.record(clf.model_.predict_proba, clf.is_pair_)
    if clf.kind == "embedding":
        head_type = config.get("head", {}).get("type", "logistic_regression")
        if head_type != "logistic_regression":
            raise ExportError(f"{model_dir}: head type '{head_type}' cannot be exported to "
                              "ONNX yet (only logistic_regression heads).")
        encoder = clf.encoder_
        if getattr(encoder, "static", False):
            raise ExportError(f"{model_dir}: a static-embedding model has no transformer to "
                              "export; it already predicts without one (tokenizer + token "
                              "vectors), so predict or serve the folder itself.")
        tokenizer, max_length = encoder.tokenizer, encoder.max_length
        hf_config = getattr(getattr(encoder.model[0], "auto_model", None), "config", None)
        input_names, outputs = _input_names(tokenizer), ["probabilities", "embeddings"]
        graph = _embedding_graph()(encoder.model.to("cpu").eval(), clf.head_.coef,
                                   clf.head_.intercept, input_names, clf.head_.multi_label)
    elif clf.kind == "sequence":
        sm = clf.model_
        if sm.peft in PROMPT_METHODS:
            raise ExportError(f"{model_dir}: a {sm.peft} adapter adds virtual tokens inside the "
                              "model and cannot be exported to ONNX; train with --peft lora "
                              "(or ia3), or --method finetune, to export.")
        sm.merge()  # LoRA/IA3 folded into the weights: a plain encoder graph, no peft
        tokenizer, max_length, hf_config = sm.tokenizer, sm.max_length, sm.model.config
        input_names, outputs = _input_names(tokenizer), ["probabilities", "logits"]
        graph = _sequence_graph()(sm.model.to("cpu").eval(), input_names)
    else:
        raise ExportError(f"{model_dir}: a {clf.method} model on a causal LM ({clf.kind}) "
                          "cannot be exported to ONNX; serve it with `textune serve`.")
    graph.eval()  # see MODELS.md: export restores the wrapper's mode, dropout must be off

    sample = tokenizer(["an example sentence for tracing", "short"], padding=True,
                       return_tensors="pt")
    args = tuple(sample[n] for n in input_names)
    dynamic = {n: {0: "batch", 1: "tokens"} for n in input_names}
    dynamic.update({name: {0: "batch"} for name in outputs})

    with atomic_dir(output) as tmp:
        fp32 = tmp / MODEL_FILE
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(graph, args, str(fp32), input_names=input_names,
                              output_names=outputs,
                              dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
                              do_constant_folding=True)
        optimized = optimize and _optimize(fp32, hf_config)
        if quantize == "int8":
            _quantize_int8(fp32, tmp)
        tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
        if clf.kind == "embedding" and encoder.long_text == "chunk":
            # long texts: the caller pools window embeddings, then applies the head itself
            shutil.copyfile(model_dir / HEAD_FILE, tmp / HEAD_FILE)
        config["onnx"] = {
            "file": MODEL_FILE, "tokenizer": TOKENIZER_FILE, "inputs": input_names,
            "outputs": outputs, "opset": OPSET, "max_length": max_length,
            "pad_token_id": int(tokenizer.pad_token_id or 0),
            "quantize": quantize, "optimized": bool(optimized),
            "exported_from": str(model_dir.resolve()),
            "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str) + "\n")
        (tmp / "README.md").write_text(_card(config))
        try:  # the graph must answer as the torch model does, or there is no export
            OnnxClassifier.load(tmp)
        except selfcheck.ArtifactError as e:
            raise ExportError(f"{output}: the exported graph does not answer as the model "
                              f"does: probabilities for the check texts differ by up to "
                              f"{e.diff:.3g} (tolerance {e.tolerance:g}). Export again without "
                              "--quantize, or without graph optimisation (optimize=False)."
                              ) from None
    log.info("exported %s to %s (%s)", model_dir, output, quantize or "fp32")
    return output


def _input_names(tokenizer) -> list[str]:
    return [n for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in tokenizer.model_input_names]


def _embedding_graph():
    import torch

    class Graph(torch.nn.Module):
        """Tokens in, probabilities out: encoder, pooling, then the logistic head."""

        def __init__(self, body, coef, intercept, input_names, multi_label=False):
            super().__init__()
            self.body = body
            self.input_names = list(input_names)
            self.register_buffer("coef", torch.from_numpy(np.ascontiguousarray(coef.T)))
            self.register_buffer("intercept", torch.from_numpy(np.asarray(intercept)))
            self.binary = coef.shape[0] == 1 and not multi_label
            self.multi_label = multi_label

        def forward(self, *inputs):
            feats = dict(zip(self.input_names, inputs))
            emb = self.body(feats)["sentence_embedding"]
            z = emb @ self.coef + self.intercept
            if self.multi_label:  # one sigmoid per label
                return torch.sigmoid(z), emb
            if self.binary:  # scikit-learn keeps one weight row for class 1
                p1 = torch.sigmoid(z[:, 0])
                return torch.stack([1.0 - p1, p1], dim=1), emb
            return torch.softmax(z, dim=1), emb

    return Graph


def _sequence_graph():
    import torch

    class Graph(torch.nn.Module):
        """Tokens in, probabilities out: a fine-tuned encoder with its classification head."""

        def __init__(self, model, input_names):
            super().__init__()
            self.model = model
            self.input_names = list(input_names)
            self.multi_label = model.config.problem_type == "multi_label_classification"

        def forward(self, *inputs):
            logits = self.model(**dict(zip(self.input_names, inputs))).logits
            if self.multi_label:  # one sigmoid per label
                return torch.sigmoid(logits), logits
            return torch.softmax(logits, dim=-1), logits

    return Graph


def _optimize(path: Path, cfg) -> bool:
    """Fuse transformer blocks in place (BERT-family graphs); keep the plain graph on failure."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        model_type = {"bert": "bert", "mpnet": "bert", "roberta": "bert",
                      "xlm-roberta": "bert"}.get(getattr(cfg, "model_type", ""), None)
        if model_type is None:
            return False
        opt = optimize_model(str(path), model_type=model_type,
                             num_heads=getattr(cfg, "num_attention_heads", 0),
                             hidden_size=getattr(cfg, "hidden_size", 0), opt_level=1,
                             use_gpu=False)
        opt.save_model_to_file(str(path))
        return True
    except Exception as e:  # noqa: BLE001 - an optimisation, never a reason to fail
        log.warning("ONNX graph optimisation skipped (%s); the unfused graph is exported.", e)
        return False


def _quantize_int8(fp32: Path, folder: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8 = folder / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"],
                     # fused ops (com.microsoft domain) defeat ONNX shape inference
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})
    os.replace(int8, fp32)
    for extra in folder.glob("*.data"):  # external-data leftovers of the fp32 graph
        extra.unlink()


def _versions() -> dict:
    out = {}
    for mod in ("torch", "onnx", "onnxruntime", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return out


def _card(cfg: dict) -> str:
    o = cfg["onnx"]
    return f"""# textune ONNX export

- exported from `{o['exported_from']}` on {o['exported']}
- method `{cfg['method']}`, backbone `{cfg['backbone']}`, labels {cfg['labels']}
- weights: {o['quantize'] or 'fp32'}; input: {'text pairs' if cfg['text_pair'] else 'texts'}

`{MODEL_FILE}`: inputs {o['inputs']} (int64, [batch, tokens], right-padded with id
{o['pad_token_id']}); outputs `probabilities` [batch, {len(cfg['labels'])}] in label order and
`{o['outputs'][1]}`. Tokenise with `{TOKENIZER_FILE}` (truncate to {o['max_length']} tokens).

```python
from textune.serving.onnx import OnnxClassifier   # needs onnxruntime + tokenizers only
clf = OnnxClassifier.load("path/to/this/folder")
clf.predict_proba(["some text"])
```
or `textune predict THIS_FOLDER --backend onnx --data new.csv --output predictions.jsonl`.
"""
