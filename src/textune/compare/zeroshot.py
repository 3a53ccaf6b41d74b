"""Zero-shot as few-shot: synthetic training texts built from the label names.

This is how the SetFit library does zero-shot (`get_templated_dataset`): put each label name
into a few sentence templates ("This sentence is {label}.") and train on those sentences as if
they were labelled examples. Several templates per label, not one repeated sentence, so that
contrastive training sees same-class pairs (textune deduplicates repeated texts).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..data import DataError, Examples

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


def parse_label_names(spec: str | None) -> dict[str, str]:
    """'0=negative,1=positive' -> {'0': 'negative', '1': 'positive'}."""
    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"--label-names: cannot read {part!r}; write LABEL=NAME pairs "
                            "separated by commas, e.g. 0=negative,1=positive.")
        out[key.strip()] = value.strip()
    return out
