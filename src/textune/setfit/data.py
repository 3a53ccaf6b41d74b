"""`sample_dataset`: setfit's few-shot sampler, row for row, so that a script picks the same
training rows under textune as under setfit."""

from __future__ import annotations

from typing import Any


def sample_dataset(dataset: Any, label_column: str = "label", num_samples: int = 8,
                   seed: int = 42):
    """At most `num_samples` rows per label: setfit's algorithm (shuffle with `seed`, first
    rows of each label, shuffle again). A `datasets.Dataset` gives a Dataset; a DataFrame or
    a dict of lists gives the same type back."""
    from datasets import Dataset

    kind = type(dataset)
    if isinstance(dataset, dict):
        dataset = Dataset.from_dict(dataset)
    elif hasattr(dataset, "columns") and not hasattr(dataset, "column_names"):  # pandas
        dataset = Dataset.from_pandas(dataset, preserve_index=False)
    if label_column not in dataset.column_names:
        raise ValueError(f"sample_dataset: no column {label_column!r} among "
                         f"{dataset.column_names}; pass label_column=.")
    df = dataset.shuffle(seed=seed).to_pandas()
    df = df.groupby(label_column).head(n=num_samples).reset_index(drop=True)
    out = Dataset.from_pandas(df, features=dataset.features).shuffle(seed=seed)
    if kind is dict:
        return out.to_dict()
    if kind.__module__.startswith("pandas"):
        return out.to_pandas()
    return out
