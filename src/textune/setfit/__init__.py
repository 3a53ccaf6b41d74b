"""A drop-in for the `setfit` library's common path: change `from setfit import ...` to
`from textune.setfit import ...` and the same script trains with textune underneath.

Both API generations: setfit 1.x (`SetFitModel`, `TrainingArguments`, `Trainer`,
`DistillationTrainer`, `sample_dataset`) and 0.x (`SetFitTrainer(loss_class=...,
num_iterations=..., ...)`).
`num_iterations`, `num_epochs`, `batch_size` and `max_steps` map to textune steps with the
same number of pairs scored (see `args.py`); metrics are computed offline; saved models are
textune folders (safetensors + JSON). An argument textune does not honour is refused by name.
"""

from .args import TrainingArguments
from .data import sample_dataset
from .model import SetFitModel
from .trainer import DistillationTrainer, SetFitTrainer, Trainer

__all__ = ["SetFitModel", "TrainingArguments", "Trainer", "SetFitTrainer", "DistillationTrainer",
           "sample_dataset"]
