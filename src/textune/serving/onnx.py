"""ONNX export and runtime under one name: the exporter (`onnx_export`, torch) and the
runtime (`onnx_runtime`, onnxruntime + tokenizers only) are separate modules; this one keeps
`textune.serving.onnx` imports working."""

from .onnx_export import OPSET, ExportError, export_onnx  # noqa: F401
from .onnx_runtime import (CONFIG_FILE, HEAD_FILE, MODEL_FILE, TOKENIZER_FILE,  # noqa: F401
                           OnnxClassifier, cpu_threads, is_onnx_export)

__all__ = ["export_onnx", "ExportError", "OnnxClassifier", "is_onnx_export", "cpu_threads",
           "MODEL_FILE", "TOKENIZER_FILE", "CONFIG_FILE", "HEAD_FILE", "OPSET"]
