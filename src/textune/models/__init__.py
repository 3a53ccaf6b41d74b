"""What a trained classifier is at inference: backbones and how they are resolved, the sentence
encoder, heads, adapters, and the three model kinds a `TextClassifier` wraps (`embedding`,
`sequence`, `generative`), each with its own save/load. Training lives in `methods/`.

A model kind is found by the `head.type` its `save` writes into `textune.json`: `KINDS` maps
that type to the class whose `load(folder, config)` reads the folder back, imported only when
a folder of that kind loads (the kinds import torch). A new kind adds one entry, here or
with `register_kind` from its own module.
"""

from __future__ import annotations

from importlib import import_module

# head.type -> "module:class" under textune.models, or the class itself (`register_kind`)
KINDS: dict[str, str | type] = {
    "logistic_regression": "embedding:EmbeddingModel",
    "sequence_classification": "sequence:SequenceModel",
    "label_words": "generative:LabelWordModel",
}


def register_kind(head_type: str, cls: str | type) -> None:
    """Make `TextClassifier.load` read folders whose `head.type` is `head_type` with `cls`."""
    KINDS[head_type] = cls


def model_kind(head_type: str) -> type | None:
    """The class that loads a saved model of this `head.type`, or None for an unknown one."""
    target = KINDS.get(head_type)
    if isinstance(target, str):
        module, name = target.split(":")
        target = getattr(import_module(f"{__name__}.{module}"), name)
    return target
