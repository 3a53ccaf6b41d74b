"""Saving models safely: atomic folders and the one array writer (`files`), and the load-time
proof that a model answers as it did when saved (`selfcheck`)."""

from .files import atomic_dir, load_arrays, save_arrays  # noqa: F401
