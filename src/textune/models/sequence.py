"""An encoder with a classification head (`AutoModelForSequenceClassification`), whole or
with a peft adapter: the model `finetune` and `peft` train (`methods/finetune.py`), predict
with and save.

Sentence pairs are tokenised as pairs (`token_type_ids` where the model has them), batches
are padded per batch, and training batches are grouped by length. With `long_text="chunk"`
a long text trains as its windows, each with the text's label, and is predicted from the
average of its windows' logits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..engine.batching import inference_batches, pad_rows, tokenize_unpadded
from ..engine.device import default_device
from .adapters import (PROMPT_METHODS, new_modules, peft_config, room_for_virtual_tokens,
                       trainable_counts)
from .backbones import resolve_backbone
from .heads import mean_by_owner, probabilities
from .long_text import check_long_text, windows
from .prefix import add_encoder_prefix

log = logging.getLogger(__name__)

MODEL_DIR = "model"
ADAPTER_DIR = "adapter"
TOKENIZER_DIR = "tokenizer"
DEFAULT_MAX_LENGTH = 256


class SequenceModel:
    kind = "sequence"

    def __init__(self, model, tokenizer, max_length: int, backbone: str,
                 peft: str | None = None, long_text: str = "truncate",
                 stride: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.backbone = backbone
        self.peft = peft
        self.stride = check_long_text(long_text, stride, max_length)
        self.long_text = long_text
        self.device = default_device()
        self.model.to(self.device)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, backbone: str, num_labels: int, *, max_length: int | None = None,
              peft: str | None = None, lora_r: int = 8, num_virtual_tokens: int = 20,
              labels: Sequence[str] | None = None, multi_label: bool = False,
              long_text: str = "truncate", stride: int | None = None) -> "SequenceModel":
        """`labels` (class names in id order) go into the model config, so the saved folder
        opened with `transformers` names its classes; `multi_label` makes it a
        `multi_label_classification` model (a sigmoid per label)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = resolve_backbone(backbone)
        t0 = time.perf_counter()
        try:
            with quiet_transformers():  # a "MISSING classifier" report: expected, a new head
                model, info = AutoModelForSequenceClassification.from_pretrained(
                    path, num_labels=num_labels, output_loading_info=True,
                    **label_maps(labels), **problem_type(multi_label))
            tokenizer = AutoTokenizer.from_pretrained(path)
        except OSError as e:
            raise OSError(f"could not load backbone '{backbone}' ({path}) as an encoder with a "
                          f"classification head: {e}") from e
        if peft == "prefix":
            _add_prefix(model, tokenizer, num_virtual_tokens, set(info["missing_keys"]))
        elif peft:
            from peft import get_peft_model

            # Train and save whatever the checkpoint did not hold (the new head, at least).
            config = peft_config(peft, "SEQ_CLS", model.config.model_type, r=lora_r,
                                 num_virtual_tokens=num_virtual_tokens,
                                 modules_to_save=new_modules(info["missing_keys"]))
            model = get_peft_model(model, config)
        trainable, total = trainable_counts(model)
        log.info("%s: %s trainable parameters of %s (%.2f%%)", peft or "finetune",
                 f"{trainable:,}", f"{total:,}", 100 * trainable / total)
        max_length = room_for_virtual_tokens(max_length or _max_length(tokenizer), peft,
                                             model.config, num_virtual_tokens)
        sm = cls(model, tokenizer, max_length, backbone, peft, long_text, stride)
        sm.load_seconds = time.perf_counter() - t0
        return sm

    # ------------------------------------------------------------------ data

    def token_ids(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict:
        return tokenize_unpadded(self.tokenizer, texts, pairs, self.max_length)

    def windows(self, texts: Sequence[str], pairs: Sequence[str] | None = None
                ) -> tuple[dict, np.ndarray | None]:
        """Token ids to run, and for `long_text="chunk"` the text each window belongs to."""
        return windows(self.tokenizer, texts, pairs, self.max_length, self.long_text,
                       self.stride)

    def collate(self, enc: dict, idx: Sequence[int]) -> dict[str, torch.Tensor]:
        return pad_rows(self.tokenizer, enc, idx)

    # ------------------------------------------------------------------ inference

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192, progress: bool = False,
                      desc: str = "predicting", **_) -> np.ndarray:
        enc, owner = self.windows(texts, pairs)
        lengths = [len(x) for x in enc["input_ids"]]
        logits = np.zeros((len(lengths), self.num_labels), dtype=np.float32)
        for idx in inference_batches(self.model, lengths, batch_size, max_tokens,
                                     progress=progress, desc=desc,
                                     unit="text" if owner is None else "window"):
            batch = {k: v.to(self.device) for k, v in self.collate(enc, idx).items()}
            logits[idx] = self.model(**batch).logits.float().cpu().numpy()
        if owner is not None:  # a long text: the average of its windows' logits
            logits = mean_by_owner(logits, owner, len(texts))
        return probabilities(logits, self.multi_label)

    @property
    def num_labels(self) -> int:
        return self._base().config.num_labels

    @property
    def multi_label(self) -> bool:
        return self._base().config.problem_type == MULTI_LABEL

    def _base(self):
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    # ------------------------------------------------------------------ persistence

    def merge(self) -> "SequenceModel":
        """Fold a LoRA/IA3 adapter into the base weights: a plain model, no peft at inference."""
        if not self.peft:
            return self
        if self.peft in PROMPT_METHODS:
            raise ValueError(f"--merge folds weight adapters (lora, ia3) into the base; a "
                             f"{self.peft} adapter adds virtual tokens and cannot be merged.")
        self.model = self.model.merge_and_unload()
        self.peft = None
        return self

    def save(self, folder: Path) -> dict:
        if self.peft == "prefix":
            _save_prefix(self.model, folder / ADAPTER_DIR)
            self.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
            files = {"adapter": ADAPTER_DIR, "tokenizer": TOKENIZER_DIR}
        elif self.peft:
            # Only the adapter and the modules it trains (head included); the base is
            # rebuilt from the backbone name at load time.
            self.model.save_pretrained(str(folder / ADAPTER_DIR), safe_serialization=True)
            self.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
            files = {"adapter": ADAPTER_DIR, "tokenizer": TOKENIZER_DIR}
        else:
            self.model.save_pretrained(str(folder / MODEL_DIR), safe_serialization=True)
            # transformers.pipeline(..., truncation=True) then cuts texts where textune does
            self.tokenizer.model_max_length = self.max_length
            self.tokenizer.save_pretrained(str(folder / MODEL_DIR))
            files = {"model": MODEL_DIR}
        _, total = trainable_counts(self.model)
        return {"head": {"type": "sequence_classification", **files}, "peft": self.peft,
                "max_length": self.max_length, "parameters": {"total": total},
                "long_text": {"mode": self.long_text, "stride": self.stride}}

    @staticmethod
    def card_files(config: dict) -> str:
        """What `save` wrote, for the folder's README.md."""
        if "adapter" in config["head"]:
            return (f", `adapter/` ({config.get('peft')} adapter and classification head for "
                    f"the base `{config['backbone']}`), `tokenizer/`")
        return ", `model/` (encoder with its classification head, safetensors, and tokenizer)"

    @classmethod
    def load(cls, folder: Path, config: dict) -> "SequenceModel":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        files = config["head"]
        if config.get("peft") == "prefix":
            model = _load_prefix(config, folder / files["adapter"])
            tokenizer = AutoTokenizer.from_pretrained(str(folder / files["tokenizer"]))
        elif config.get("peft"):
            from peft import PeftModel

            base_path = resolve_backbone(config["backbone"])
            with quiet_transformers():  # the head missing from the base comes from the adapter
                base = AutoModelForSequenceClassification.from_pretrained(
                    base_path, num_labels=len(config["labels"]),
                    **label_maps([str(c) for c in config["labels"]]),
                    **problem_type(config.get("multi_label", False)))
            model = PeftModel.from_pretrained(base, str(folder / files["adapter"]))
            tokenizer = AutoTokenizer.from_pretrained(str(folder / files["tokenizer"]))
        else:
            model = AutoModelForSequenceClassification.from_pretrained(str(folder / files["model"]))
            tokenizer = AutoTokenizer.from_pretrained(str(folder / files["model"]))
        model.eval()
        long_text = config.get("long_text") or {"mode": "truncate", "stride": None}
        return cls(model, tokenizer, config["max_length"], config["backbone"], config.get("peft"),
                   long_text["mode"], long_text["stride"])


# ---------------------------------------------------------------------- prefix tuning

PREFIX_WEIGHTS = "prefix.safetensors"
PREFIX_CONFIG = "prefix.json"


def _add_prefix(model, tokenizer, num_virtual_tokens: int, new: set[str]) -> None:
    """Freeze `model` except a new prefix and the parameters the checkpoint lacked (`new`:
    the classification head at least), and start the prefix from real tokens' keys/values."""
    prefix = add_encoder_prefix(model, num_virtual_tokens)
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("textune_prefix.") or name in new
    words = sorted(i for t, i in tokenizer.get_vocab().items() if t.isalpha())
    pick = torch.randint(len(words), (num_virtual_tokens,))  # seeded by the caller
    prefix.init_from_tokens(model, torch.tensor(words)[pick])


def _save_prefix(model, folder: Path) -> None:
    """The prefix and every trained module (head included) as safetensors + JSON; the frozen
    encoder is rebuilt from the backbone at load."""
    from ..artifact.files import save_arrays

    folder.mkdir(parents=True, exist_ok=True)
    state = {n: p.detach().to("cpu", torch.float32).numpy()
             for n, p in model.named_parameters() if p.requires_grad}
    save_arrays(state, folder / PREFIX_WEIGHTS)
    meta = {"type": "textune_encoder_prefix", "num_virtual_tokens":
            model.textune_prefix.num_virtual_tokens, "parameters": sorted(state)}
    (folder / PREFIX_CONFIG).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _load_prefix(config: dict, folder: Path):
    from transformers import AutoModelForSequenceClassification

    from ..artifact.files import load_arrays

    if not (folder / PREFIX_CONFIG).is_file():
        raise ValueError(f"{folder}: this prefix adapter was saved by peft's prefix tuning, "
                         "which transformers >= 5.24 can no longer run on encoders; retrain "
                         "it with this textune (--peft prefix), or use --peft lora.")
    meta = json.loads((folder / PREFIX_CONFIG).read_text(encoding="utf-8"))
    with quiet_transformers():  # the head missing from the base comes from the prefix file
        model, info = AutoModelForSequenceClassification.from_pretrained(
            resolve_backbone(config["backbone"]), num_labels=len(config["labels"]),
            output_loading_info=True, **label_maps([str(c) for c in config["labels"]]),
            **problem_type(config.get("multi_label", False)))
    add_encoder_prefix(model, meta["num_virtual_tokens"])
    state = {n: torch.from_numpy(a) for n, a in load_arrays(folder / PREFIX_WEIGHTS).items()}
    unset = set(info["missing_keys"]) - set(state)
    if unset:
        raise ValueError(f"{folder / PREFIX_WEIGHTS} lacks {', '.join(sorted(unset))}, which "
                         "the base model does not hold either; the file is incomplete. "
                         "Retrain and save the model again.")
    unknown = model.load_state_dict(state, strict=False).unexpected_keys
    if unknown:
        raise ValueError(f"{folder / PREFIX_WEIGHTS} holds {', '.join(unknown)}, which "
                         f"'{config['backbone']}' does not have; was it trained on another "
                         "backbone? Retrain and save the model again.")
    for name, p in model.named_parameters():
        p.requires_grad = name in state
    return model


@contextlib.contextmanager
def quiet_transformers():
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def label_maps(labels: Sequence[str] | None) -> dict:
    """`id2label`/`label2id` for a transformers config (empty: keep its LABEL_i defaults)."""
    if not labels:
        return {}
    return {"id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)}}


MULTI_LABEL = "multi_label_classification"


def problem_type(multi_label: bool) -> dict:
    """transformers' marker for sigmoid outputs (empty: its single-label default)."""
    return {"problem_type": MULTI_LABEL} if multi_label else {}


def _max_length(tokenizer) -> int:
    limit = getattr(tokenizer, "model_max_length", None) or DEFAULT_MAX_LENGTH
    return int(min(limit, DEFAULT_MAX_LENGTH))
