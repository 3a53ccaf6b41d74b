"""Padding-free training forwards must compute exactly what the padded batch computes."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from textune.models.encoder import Encoder
from textune.models.packing import pack_rows, packable

TEXTS = ["short", "a somewhat longer sentence about a film that goes on", "mid length text",
         "the longest of them all, " * 8, "tiny", "ok then, fine"]
PAIRS = ["a question?", "an answer", "yes", "no, not at all " * 3, "maybe", "why"]


class Wrapped(torch.nn.Module):
    """The body behind a wrapper (as DDP gives it): forward takes the padded path."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, features):
        return self.model(features)


@pytest.fixture(scope="module")
def encoder():
    enc = Encoder.load("minilm")
    enc.model.eval()  # no dropout: both paths must agree to float rounding
    return enc


def test_minilm_is_packed(encoder):
    assert packable(encoder.model)


@pytest.mark.parametrize("pairs", [None, PAIRS], ids=["texts", "pairs"])
@pytest.mark.parametrize("row_tokens", [256, 40], ids=["one-row", "several-rows"])
def test_packed_forward_equals_padded(encoder, pairs, row_tokens):
    lengths = [len(ids) for ids in encoder.token_ids(TEXTS, pairs)["input_ids"]]
    rows = pack_rows(np.argsort(lengths, kind="stable"), lengths, 16, row_tokens)
    assert rows is not None and (len(rows) == 1) == (row_tokens == 256)
    packed = encoder.forward(TEXTS, pairs, row_tokens=row_tokens)
    padded = encoder.forward(TEXTS, pairs, module=Wrapped(encoder.model), bucket_size=16)
    assert packed.shape == (len(TEXTS), encoder.dim)
    assert (packed - padded).abs().max().item() < 1e-5
    # rows stay in input order: each matches the text embedded alone
    alone = encoder.embed([TEXTS[3]], None if pairs is None else [pairs[3]])
    assert np.abs(packed[3].detach().numpy() - alone[0]).max() < 1e-5


def test_packed_gradients_equal_padded(encoder):
    """Training sees the same gradients: the packed row leaks nothing between texts."""
    target = torch.randn(len(TEXTS), encoder.dim, generator=torch.Generator().manual_seed(0))

    def grads(module):
        encoder.model.zero_grad()
        (encoder.forward(TEXTS, module=module) * target).sum().backward()
        return {n: p.grad.clone() for n, p in encoder.model.named_parameters()
                if p.grad is not None}

    packed, padded = grads(None), grads(Wrapped(encoder.model))
    encoder.model.zero_grad()
    assert packed.keys() == padded.keys()
    for name, g in padded.items():
        if "key.bias" in name:  # softmax ignores a key bias: its gradient is rounding noise
            continue
        assert (packed[name] - g).abs().max() <= 1e-4 * g.abs().max() + 1e-8, name


def test_a_lora_wrapped_body_packs_the_same():
    """`--method setfit --peft lora` trains a peft-wrapped body: packing must see through it."""
    from types import SimpleNamespace

    from textune.methods.setfit import _add_lora

    enc = Encoder.load("minilm")
    _add_lora(enc, SimpleNamespace(peft="lora", lora_r=8))
    enc.model.eval()
    with torch.no_grad():  # move the adapter off zero, so it shows in the output
        for p in enc.model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    assert packable(enc.model)
    packed = enc.forward(TEXTS)
    padded = enc.forward(TEXTS, module=Wrapped(enc.model))
    assert (packed - padded).abs().max().item() < 1e-5


def test_other_bodies_keep_the_padded_path():
    enc = Encoder.load("minilm")
    enc.model[1].pooling_mode = "cls"
    assert not packable(enc.model)
    enc = Encoder.load("minilm")
    enc.model[0].auto_model.config._attn_implementation = "eager"
    assert not packable(enc.model)


@given(st.lists(st.integers(1, 300), min_size=1, max_size=40), st.integers(1, 600),
       st.integers(1, 16))
def test_pack_rows_cover_every_text_once_within_the_limit(lengths, row_tokens, bucket):
    order = list(np.argsort(lengths, kind="stable"))
    rows = pack_rows(order, lengths, bucket, row_tokens)
    if rows is None:
        return
    assert [i for r in rows for i in r] == order
    limit = max(row_tokens, max(lengths))
    assert all(len(r) == 1 or sum(lengths[i] for i in r) <= limit for r in rows)


def test_texts_of_one_length_stay_padded():
    """Windows of equal length (long texts) waste no padding: packing would only make
    attention longer."""
    assert pack_rows(list(range(16)), [64] * 16, 16, 256) is None
    # short sentences of mixed lengths (SST-2 at 8 shots) pack into one row
    lengths = [10, 11, 15, 10, 22, 13, 29, 6]
    assert pack_rows(list(np.argsort(lengths)), lengths, 16, 256) is not None
