"""Contrastive losses over a batch of distinct texts: every pair in the batch is scored."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine_pair_loss(emb: torch.Tensor, labels: torch.Tensor,
                     negative_target: float = 0.0) -> torch.Tensor:
    """SetFit's cosine-similarity MSE, applied to all pairs of a batch at once.

    Same-class pairs are pushed to cosine 1, different-class pairs to `negative_target`.
    `labels` are class ids, or a 0/1 label matrix for multi-label data (see `same_class`).
    Positive and negative pairs each carry half the loss, the balance SetFit gets by
    oversampling pairs, but here from one encoding of each distinct text instead of one
    encoding per pair side.
    """
    same = same_class(labels)
    return _balanced_mse(emb, torch.where(same, 1.0, negative_target), same)


def jaccard_pair_loss(emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For label sets, each pair's cosine is pushed to the overlap of its two sets,
    |A & B| / |A | B| (1 for equal sets, 1/2 for {joy} and {joy, surprise}, 0 when
    disjoint), so a partial overlap pulls less than an identical set. Overlapping and
    disjoint pairs each carry half the loss. On class ids it is `cosine_pair_loss`."""
    if labels.dim() != 2:
        return cosine_pair_loss(emb, labels)
    lab = labels.float()
    inter = lab @ lab.T
    union = lab.sum(dim=1)[:, None] + lab.sum(dim=1)[None, :] - inter
    return _balanced_mse(emb, inter / union.clamp(min=1), inter > 0)


def _balanced_mse(emb: torch.Tensor, target: torch.Tensor, positive: torch.Tensor):
    """Mean squared error of every pair's cosine against `target`, positive and negative
    pairs (each pair once, no self-pairs) weighing half each."""
    e = F.normalize(emb.float(), dim=-1)
    err = (e @ e.T - target) ** 2
    upper = torch.ones_like(positive).triu(diagonal=1)
    parts = [err[m].mean() for m in (positive & upper, ~positive & upper) if m.any()]
    return sum(parts) / len(parts)


def same_class(labels: torch.Tensor) -> torch.Tensor:
    """Which pairs count as positive: the same class id, or, for a (batch, labels) 0/1
    matrix, label sets that share at least one label (as the `setfit` library pairs
    multi-label rows: a positive partner shares a label)."""
    if labels.dim() == 2:
        lab = labels.float()
        return (lab @ lab.T) > 0
    return labels[:, None] == labels[None, :]


LOSSES = {"cosine": cosine_pair_loss, "jaccard": jaccard_pair_loss}
