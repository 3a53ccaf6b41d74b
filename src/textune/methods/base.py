"""The one contract every method keeps, with its optional hooks named and defaulted here.

`TextClassifier` and the registry call only what this protocol declares, so a method says
what it can do by overriding a hook, never by having or lacking an attribute. A method
subclasses `Method` (a `typing.Protocol` subclassed explicitly, so the defaults below are
inherited) and is registered by one line in `methods/__init__.py`. Importing this module
loads no torch: the registry and `textune --help` read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import numpy as np

    from ..data import Examples
    from .config import MethodConfig

NO_LABEL_SETS = ("--method {method} does not train multi-label models; use --method setfit, "
                 "probe, finetune or peft for label sets.")


class Method(Protocol):
    """A training method: `fit(cfg, examples, y) -> (model, stats)`.

    Required: `name` (the registry key), `summary` (one line for `textune methods`),
    `config` (the dataclass of the knobs it reads, `config.py`) and `fit`. Everything else
    has a default that means "this method does not do that".
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    config: ClassVar[type[MethodConfig]]
    # advice added to the error for a parameter this method refuses: {parameter: advice}
    hints: ClassVar[dict[str, str]] = {}
    # trains on label sets: `y` is then a (rows, labels) 0/1 matrix
    multi_label: ClassVar[bool] = False
    # why label sets are refused (`{method}`: the name the user chose), when not multi_label
    no_label_sets: ClassVar[str] = NO_LABEL_SETS
    # implements `held_out`, so `threshold="tune"` can pick per-label thresholds
    tunes_thresholds: ClassVar[bool] = False
    # trains on the engine: `fit` takes `checkpoint` (an `engine.Checkpointing` or None),
    # writes checkpoints with it and resumes from it
    checkpoints: ClassVar[bool] = False
    # methods a backbone hands this one over to (`for_backbone`), by the label `textune
    # methods` lists them under; their configs are this method's variants
    variants: ClassVar[dict[str, type[Method]]] = {}

    @classmethod
    def for_backbone(cls, model: str) -> type[Method]:
        """The method that trains on this backbone: this one, or one of `variants` (peft on
        a causal LM is label words)."""
        return cls

    def fit(self, cfg: Any, ex: Examples, y: np.ndarray) -> tuple[Any, dict]:
        """Train on `ex` with labels `y` (`ex.label_ids()`: ids 0..K-1 in `ex.classes`
        order, or a 0/1 matrix for label sets); return (a `models/` kind, stats). A method
        with `checkpoints` also takes `checkpoint=`."""
        raise NotImplementedError

    def tuning_problem(self, cfg: Any, ex: Examples) -> str | None:
        """Why thresholds cannot be tuned on this run (checked before training), or None."""
        return None

    def held_out(self, cfg: Any, ex: Examples, y: np.ndarray, model: Any
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, truth) on rows the model did not fit, for tuning thresholds;
        only called where `tunes_thresholds`."""
        raise NotImplementedError(f"{self.name} does not hold rows out for tuning")
