"""Zero-shot as few-shot: synthetic training texts built from the label names.

This is how the SetFit library does zero-shot (`get_templated_dataset`): put each label name
into a few sentence templates ("This sentence is {label}.") and train on those sentences as if
they were labelled examples. Several templates per label, not one repeated sentence, so that
contrastive training sees same-class pairs (textune deduplicates repeated texts).
"""

from __future__ import annotations

from ..data import DataError
from ..data.templates import DEFAULT_TEMPLATES, label_name, templated_examples

__all__ = ["DEFAULT_TEMPLATES", "label_name", "templated_examples", "parse_label_names"]


def parse_label_names(spec: str | None) -> dict[str, str]:
    """'0=negative,1=positive' -> {'0': 'negative', '1': 'positive'}."""
    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"--label-words: cannot read {part!r}; write LABEL=NAME pairs "
                            "separated by commas, e.g. 0=negative,1=positive.")
        out[key.strip()] = value.strip()
    return out
