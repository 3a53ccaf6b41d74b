"""The SetFit contrastive loss and its class-balanced batches: what training optimises."""

import itertools

import numpy as np
import pytest
import torch

from textune.engine.losses import cosine_pair_loss, jaccard_pair_loss
from textune.methods.setfit import balanced_batches


def test_cosine_pair_loss_equals_explicit_pair_enumeration():
    torch.manual_seed(0)
    emb = torch.randn(7, 5)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    e = torch.nn.functional.normalize(emb, dim=-1)
    pos, neg = [], []
    for i, j in itertools.combinations(range(7), 2):
        cos = float(e[i] @ e[j])
        (pos if labels[i] == labels[j] else neg).append((cos - float(labels[i] == labels[j])) ** 2)
    expected = 0.5 * np.mean(pos) + 0.5 * np.mean(neg)
    assert float(cosine_pair_loss(emb, labels)) == pytest.approx(expected, rel=1e-5)


def test_jaccard_pair_loss_targets_each_pairs_overlap():
    """Label sets {a}, {a,b}, {b}, {c}, {}: targets 1/2, 0, 0, 0 for row 0's pairs, etc.;
    on class ids the two losses agree."""
    torch.manual_seed(0)
    emb = torch.randn(5, 6)
    Y = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    e = torch.nn.functional.normalize(emb, dim=-1)
    sets = [set(np.flatnonzero(r.numpy())) for r in Y]
    pos, neg = [], []
    for i, j in itertools.combinations(range(5), 2):
        a, b = sets[i], sets[j]
        target = len(a & b) / len(a | b) if a | b else 0.0
        (pos if a & b else neg).append((float(e[i] @ e[j]) - target) ** 2)
    assert len(pos) == 2  # ({a},{a,b}) and ({a,b},{b}), each with target 1/2
    expected = 0.5 * np.mean(pos) + 0.5 * np.mean(neg)
    assert float(jaccard_pair_loss(emb, Y)) == pytest.approx(expected, rel=1e-5)
    ids = torch.tensor([0, 0, 1, 2, 2])
    assert float(jaccard_pair_loss(emb, ids)) == float(cosine_pair_loss(emb, ids))


def test_cosine_pair_loss_without_positive_pairs():
    emb = torch.randn(3, 4)
    loss = cosine_pair_loss(emb, torch.tensor([0, 1, 2]))
    e = torch.nn.functional.normalize(emb, dim=-1)
    sims = [float(e[i] @ e[j]) for i, j in itertools.combinations(range(3), 2)]
    assert float(loss) == pytest.approx(np.mean(np.square(sims)), rel=1e-5)


def test_loss_gradient_pulls_same_class_together():
    emb = torch.randn(6, 8, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    opt = torch.optim.SGD([emb], lr=0.5)
    first = cosine_pair_loss(emb, labels).item()
    for _ in range(50):
        opt.zero_grad()
        cosine_pair_loss(emb, labels).backward()
        opt.step()
    assert cosine_pair_loss(emb, labels).item() < 0.2 * first


def test_balanced_batches_are_distinct_and_stratified():
    labels = np.array([0] * 90 + [1] * 10)
    batches = list(balanced_batches(labels, 16, 20, np.random.default_rng(0)))
    assert len(batches) == 20
    for b in batches:
        assert len(set(b.tolist())) == len(b) == 16
        assert (labels[b] == 1).sum() == 8  # the minority class is oversampled to half
    seen = set(np.concatenate(batches).tolist())
    assert set(range(90, 100)) <= seen


def test_many_classes_keep_the_batch_size_and_take_turns():
    """28 classes in batches of 16: two texts from each of 8 classes per step (not 56 texts),
    and over the steps every class comes round about equally often."""
    labels = np.repeat(np.arange(28), 10)
    batches = list(balanced_batches(labels, 16, 70, np.random.default_rng(0)))
    counts = np.zeros(28, int)
    for b in batches:
        assert len(set(b.tolist())) == len(b) == 16
        step_classes, per = np.unique(labels[b], return_counts=True)
        assert len(step_classes) == 8 and set(per) == {2}
        counts[step_classes] += 1
    assert counts.min() >= 18 and counts.max() <= 22  # 70 steps x 8 / 28 = 20 turns each
    one = list(balanced_batches(np.zeros(5, int), 16, 3, np.random.default_rng(0)))
    assert [len(b) for b in one] == [5, 5, 5]  # a single class: its distinct rows


def test_the_loss_knob_names_every_loss_and_only_those():
    """`methods.setfit` names the losses itself (engine.losses needs torch, and the knob
    declarations must load without it); the two lists must agree."""
    from textune.engine.losses import LOSSES
    from textune.methods.setfit import LOSS_NAMES

    assert tuple(LOSSES) == LOSS_NAMES
