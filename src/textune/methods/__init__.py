"""Training methods, registered by name. A method trains the encoder body (or not); the
shared classifier then fits the head on the body's embeddings. Adding a method means adding
a module here and one line in `METHODS`."""

from .probe import Probe
from .setfit import SetFit

METHODS = {m.name: m for m in (SetFit, Probe)}


def get_method(name: str):
    try:
        return METHODS[name]()
    except KeyError:
        raise ValueError(f"unknown method '{name}'; choose one of {sorted(METHODS)}.") from None
