"""Training methods, registered by name. Each method's `fit(clf, examples, label_ids)` builds
and trains its model (on the shared engine) and returns it with its training stats. Adding a
method means adding a module here and one line in `METHODS`."""

from ..adapters import PEFT_METHODS
from .finetune import Finetune
from .peft import Peft
from .probe import Probe
from .setfit import SetFit

METHODS = {m.name: m for m in (SetFit, Probe, Finetune, Peft)}
# Shorthands (e.g. `compare --methods lora`): a peft method by its adapter's name.
ALIASES = {name: ("peft", {"peft": name}) for name in PEFT_METHODS}


def resolve_method(name: str) -> tuple[str, dict]:
    """(registered method, parameter overrides) for a method name or shorthand."""
    if name in METHODS:
        return name, {}
    if name in ALIASES:
        return ALIASES[name]
    raise ValueError(f"unknown method '{name}'; choose one of "
                     f"{', '.join(sorted(METHODS) + sorted(ALIASES))}.")


def get_method(name: str):
    return METHODS[resolve_method(name)[0]]()
