"""Label names put into sentence templates ("This sentence is {label}.") as examples.

The SetFit library's zero-shot recipe (`get_templated_dataset`), used twice: as the whole
training set for `compare --shots 0`, and as label-name anchors added to a few-shot set
(`methods.anchors`). Several templates per label, not one repeated sentence, so that
contrastive training sees same-class pairs (textune deduplicates repeated texts).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .errors import DataError
from .examples import Examples

DEFAULT_TEMPLATES = (
    "This sentence is {label}.",
    "This text is about {label}.",
    "It is {label}.",
    "The topic of this text is {label}.",
)


def label_name(label: Any, names: Mapping[Any, str] | None = None) -> str:
    """The words a template gets for `label`: the user's mapping, else the label itself."""
    if names:
        for key in (label, str(label)):
            if key in names:
                return str(names[key])
    return str(label).replace("_", " ").strip()


def templated_examples(classes: Sequence[Any], templates: Sequence[str] | None = None,
                       names: Mapping[Any, str] | None = None) -> Examples:
    """One synthetic example per (template, class); labels keep the user's own values."""
    templates = list(templates or DEFAULT_TEMPLATES)
    for t in templates:
        if "{label}" not in t:
            raise DataError(f"zero-shot template {t!r} has no '{{label}}' placeholder; write "
                            "it like 'This sentence is {label}.'")
    if len(classes) < 2:
        raise DataError("zero-shot needs at least two label names; the training data has "
                        f"{list(classes)}.")
    texts, labels = [], []
    for t in templates:
        for c in classes:
            texts.append(t.replace("{label}", label_name(c, names)))
            labels.append(c)
    return Examples(texts=texts, labels=labels, source="zero-shot templates")
