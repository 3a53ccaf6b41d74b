"""Moved to `textune.serving.batch`; this name keeps 0.2 imports working."""

from .serving.batch import *  # noqa: F401,F403
from .serving.batch import BatchPredictor, load_predictor, predict_frame, stream_predict  # noqa: F401
