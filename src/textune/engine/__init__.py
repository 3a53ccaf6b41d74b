"""The engine: one training loop for every method (`loop`), its batching, losses, device
placement, checkpoints (`checkpoint`) and training health checks. Methods hand it a `Task`;
it does the rest."""

from .checkpoint import Checkpointing, TrainingInterrupted, checkpointing  # noqa: F401
from .loop import (ClassifierTask, Task, TrainConfig, TrainResult, adamw, fit,  # noqa: F401
                   mixed_precision, seed_everything, warmup_linear)
