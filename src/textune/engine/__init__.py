"""The engine: one training loop for every method (`loop`), its batching, losses, device
placement, checkpoints (`checkpoint`) and training health checks. Methods hand it a `Task`
(`task`); it does the rest."""

from .checkpoint import Checkpointing, TrainingInterrupted  # noqa: F401
from .loop import (LoopState, TrainConfig, TrainResult, adamw, fit,  # noqa: F401
                   mixed_precision, seed_everything, warmup_linear)
from .task import ClassifierTask, Task  # noqa: F401
