"""Moved to `textune.serving.onnx`; this name keeps 0.2 imports working."""

from .serving.onnx import *  # noqa: F401,F403
from .serving.onnx import OnnxClassifier, export_onnx  # noqa: F401
