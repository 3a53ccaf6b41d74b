"""Crash-safe model folders: write everything to a temporary sibling, then rename.

A save interrupted at any point leaves the previous model untouched and no partial folder
under the target name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is a file; choose a folder path.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)  # from here until the next rename the model lives at `old`
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_arrays(arrays: dict, path: str | os.PathLike) -> None:
    """The one writer of numpy arrays: C-contiguous, little-endian, read back and compared.

    safetensors' numpy `save_file` writes the raw buffer of a Fortran-ordered array under its
    C-order shape (safetensors #825), which is how every 3+-class logistic head (scikit-learn
    keeps `coef_` Fortran-ordered) came back permuted. Normalising the layout here, and proving
    the file reads back identical, keeps any future writer bug from reaching a user's model.
    """
    import numpy as np
    from safetensors.numpy import load_file, save_file

    clean = {}
    for name, value in arrays.items():
        a = np.asarray(value)
        clean[name] = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    save_file(clean, str(path))
    back = load_file(str(path))
    for name, a in clean.items():
        if back[name].shape != a.shape or not np.array_equal(back[name], a):
            raise IOError(f"{path}: array '{name}' did not read back as written; the "
                          "safetensors install is broken. Reinstall it and save again.")


def load_arrays(path: str | os.PathLike) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path))
