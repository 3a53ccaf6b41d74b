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
    e = F.normalize(emb.float(), dim=-1)
    sim = e @ e.T
    same = same_class(labels)
    upper = torch.ones_like(same).triu(diagonal=1)
    pos = same & upper
    neg = ~same & upper
    target = torch.where(same, 1.0, negative_target)
    err = (sim - target) ** 2
    parts = [err[m].mean() for m in (pos, neg) if m.any()]
    return sum(parts) / len(parts)


def same_class(labels: torch.Tensor) -> torch.Tensor:
    """Which pairs count as positive: the same class id, or, for a (batch, labels) 0/1
    matrix, label sets that share at least one label (as the `setfit` library pairs
    multi-label rows: a positive partner shares a label)."""
    if labels.dim() == 2:
        lab = labels.float()
        return (lab @ lab.T) > 0
    return labels[:, None] == labels[None, :]


LOSSES = {"cosine": cosine_pair_loss}
