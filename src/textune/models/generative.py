"""Generative classification with a small causal LM: score each label's words after a prompt.

Each class has a verbaliser (its label name by default). Training maximises the likelihood of
the right verbaliser after the prompt, through a peft adapter (prompt tuning, p-tuning, LoRA);
prediction scores every class's verbaliser and takes the best (rank classification), so the
output is always a valid label and comes with probabilities (softmax over the scores).
The score is the mean log-probability per verbaliser token, in training and at prediction
alike: a sum would favour short labels (each extra token adds a negative term), so
"very positive" would lose to "bad" for its length alone. Measured on 60 SST-2 test
sentences, untrained SmolLM2, labels of 1 vs 3 tokens: mean 0.58 / 0.53 accuracy, sum 0.52 / 0.48.
An over-long prompt has its text (and text pair) cut to fit, never the template or the cue.
The artifact holds only the adapter and a reference to the base model, which is reloaded from
its file (a GGUF-loaded model cannot be saved whole).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..engine.batching import inference_batches
from ..engine.device import default_device
from .backbones import resolve_backbone

log = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"
TEMPLATE = "Text: {text}\nCategory:"
PAIR_TEMPLATE = "Text 1: {text}\nText 2: {text_pair}\nCategory:"
MAX_LENGTH = 256


def is_causal_lm(name: str) -> bool:
    """True for a backbone that generates text (a GGUF file, or a *ForCausalLM config)."""
    gguf = gguf_file(name)
    if gguf:
        return True
    cfg = Path(resolve_backbone(name)) / "config.json"
    if cfg.is_file():
        arch = json.loads(cfg.read_text()).get("architectures") or []
        return any(a.endswith("ForCausalLM") for a in arch)
    return False


def gguf_file(name: str) -> str | None:
    path = Path(resolve_backbone(name))
    files = sorted(path.glob("*.gguf")) if path.is_dir() else []
    return files[0].name if files else None


def load_causal_lm(name: str):
    """(model, tokenizer) for a causal LM folder or hub name; GGUF files are dequantised."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_backbone(name)
    gguf = gguf_file(path)  # resolve once: a package alias is looked up on every call
    kw = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(path, **kw)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kw)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


class LabelWordModel:
    kind = "generative"

    def __init__(self, model, tokenizer, verbalizers: list[str], template: str | None,
                 backbone: str, peft: str, max_length: int = MAX_LENGTH):
        self.model = model
        self.tokenizer = tokenizer
        self.verbalizers = verbalizers
        self.template = template
        self.backbone = backbone
        self.peft = peft
        self.max_length = max_length
        self.device = default_device()
        self.model.to(self.device)
        # Verbaliser token ids, with the space that follows "Category:" folded in.
        self.verb_ids = [tokenizer(" " + v, add_special_tokens=False)["input_ids"]
                         for v in verbalizers]
        if any(not ids for ids in self.verb_ids):
            raise ValueError("every verbaliser needs at least one token; got "
                             f"{verbalizers!r}")

    # ------------------------------------------------------------------ sequences

    def prompt_ids(self, texts: Sequence[str], pairs: Sequence[str] | None) -> list[list[int]]:
        tpl = self.template or (PAIR_TEMPLATE if pairs is not None else TEMPLATE)
        pairs = list(pairs) if pairs is not None else [""] * len(texts)
        room = self.max_length - max(len(v) for v in self.verb_ids)
        ids = self._encode(tpl, list(texts), pairs)
        long = [i for i, x in enumerate(ids) if len(x) > room]
        for i in long:
            ids[i] = self._fit(tpl, texts[i], pairs[i], room)
        if long:
            log.warning("%d of %d inputs are longer than max_length=%d tokens with the prompt; "
                        "their text (and text pair) were cut at the end to fit, keeping the "
                        "template and its cue. Raise --max-length to keep more.", len(long),
                        len(ids), self.max_length)
        return ids

    def _encode(self, tpl: str, texts: list[str], pairs: list[str]) -> list[list[int]]:
        prompts = [tpl.format(text=t, text_pair=p) for t, p in zip(texts, pairs)]
        return self.tokenizer(prompts, add_special_tokens=True)["input_ids"]

    def _fit(self, tpl: str, text: str, pair: str, room: int) -> list[int]:
        """The prompt of an over-long input: text and pair cut at the end to share the room
        the template leaves (half each, or what the shorter one needs)."""
        budget = room - len(self._encode(tpl, [""], [""])[0])
        if budget <= 0:
            raise ValueError(f"the prompt template alone fills max_length={self.max_length} "
                             "tokens; raise --max-length or shorten the template.")
        a, b = (self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in (text, pair))
        keep_a = min(len(a), max(budget // 2, budget - len(b)))
        keep = [keep_a, min(len(b), budget - keep_a)]
        while True:
            text, pair = (self.tokenizer.decode(p[:k]) for p, k in zip((a, b), keep))
            ids = self._encode(tpl, [text], [pair])[0]
            if len(ids) <= room:  # re-tokenising a cut text can add a token at the seam
                return ids
            longer = int(keep[1] > keep[0])
            keep[longer] = max(0, keep[longer] - (len(ids) - room))

    def score(self, model, prompts: list[list[int]], classes: Sequence[int]) -> torch.Tensor:
        """Mean log-probability per token of verbaliser `classes[i]` after prompt `prompts[i]`
        (the module docstring says why the mean)."""
        seqs = [p + self.verb_ids[c] for p, c in zip(prompts, classes)]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        target = torch.zeros((len(seqs), width), dtype=torch.bool)  # verbaliser positions
        for i, (s, p) in enumerate(zip(seqs, prompts)):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
            target[i, len(p):len(s)] = True
        device = next(model.parameters()).device
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        logits = logits[:, logits.shape[1] - width:]  # drop virtual-token positions, if any
        rows, cols = target.nonzero(as_tuple=True)
        # Token t is predicted at position t-1; only those rows of the vocabulary are needed.
        lp = torch.log_softmax(logits[rows.to(device), (cols - 1).to(device)].float(), dim=-1)
        tok = lp.gather(1, ids[rows, cols].to(device)[:, None])[:, 0]
        total = torch.zeros(len(seqs), device=device).index_add(0, rows.to(device), tok)
        n_tokens = torch.tensor([len(self.verb_ids[c]) for c in classes], device=device)
        return total / n_tokens

    # ------------------------------------------------------------------ inference

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 16, progress: bool = False, desc: str = "predicting",
                      **_) -> np.ndarray:
        prompts = self.prompt_ids(texts, pairs)
        k = len(self.verbalizers)
        out = np.zeros((len(prompts), k), dtype=np.float32)
        for idx in inference_batches(self.model, [len(p) for p in prompts],
                                     max(1, batch_size // k), progress=progress, desc=desc):
            rep = [prompts[i] for i in idx for _ in range(k)]
            scores = self.score(self.model, rep, list(range(k)) * len(idx))
            out[idx] = torch.softmax(scores.view(len(idx), k), dim=-1).cpu().numpy()
        return out

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path) -> dict:
        self.model.save_pretrained(str(folder / ADAPTER_DIR), safe_serialization=True)
        return {"head": {"type": "label_words", "adapter": ADAPTER_DIR},
                "verbalizers": self.verbalizers, "template": self.template, "peft": self.peft,
                "max_length": self.max_length}

    @staticmethod
    def card_files(config: dict) -> str:
        """What `save` wrote, for the folder's README.md."""
        return (f", `adapter/` ({config.get('peft')} adapter for the causal LM "
                f"`{config['backbone']}`, which is loaded from its own files)")

    @classmethod
    def load(cls, folder: Path, config: dict) -> "LabelWordModel":
        from peft import PeftModel

        base, tokenizer = load_causal_lm(config["backbone"])
        model = PeftModel.from_pretrained(base, str(folder / config["head"]["adapter"]))
        model.eval()
        return cls(model, tokenizer, config["verbalizers"], config.get("template"),
                   config["backbone"], config.get("peft"), config.get("max_length", MAX_LENGTH))
