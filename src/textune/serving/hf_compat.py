"""The Hugging Face request and response shapes, so existing clients work unchanged.

- Inference API (`huggingface_hub.InferenceClient(model="http://HOST:PORT")
  .text_classification(...)` posts to the server's root): `{"inputs": "text" | ["t1", ...],
  "parameters": {"top_k": k, "function_to_apply": ...}}` -> one list per input of
  `{"label", "score"}`, best first.
- Text Embeddings Inference `POST /predict`: `{"inputs": "text" | ["text", "pair"] |
  [["t1"], ["t2", "pair2"], ...], "raw_scores": false}` -> for one input a list of
  `{"score", "label"}`, best first; for a batch a list of those.

Scores are the model's probabilities (softmax for single-label models, one sigmoid per label
for multi-label ones), so they equal `/v1/classify`'s. Only parsing and shaping live here;
the server runs them through the same limits and micro-batcher as `/v1/classify`.
"""

from __future__ import annotations

from typing import Any

from .microbatch import ApiError

FUNCTIONS = ("softmax", "sigmoid", "none")


def inference_api_inputs(payload: Any) -> tuple[list[str], int | None, str | None]:
    """(texts, top_k, function_to_apply) of an Inference API text-classification request."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise ApiError(422, "invalid_request", 'send {"inputs": "text"} or {"inputs": ["text", '
                       '...]} (the Hugging Face text-classification request).')
    inputs = payload["inputs"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ApiError(422, "invalid_request", "'inputs' must be a string or a list of "
                       "strings.")
    params = payload.get("parameters")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ApiError(422, "invalid_request", "'parameters' must be an object.")
    unknown = sorted(set(params) - {"top_k", "function_to_apply"})
    if unknown:
        raise ApiError(422, "unknown_parameter", f"parameter(s) {', '.join(unknown)} are not "
                       "supported; text classification takes top_k and function_to_apply.")
    top_k = params.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ApiError(422, "invalid_request", f"top_k must be a positive integer, not "
                       f"{top_k!r}.")
    return texts, top_k, params.get("function_to_apply")


def tei_inputs(payload: Any) -> tuple[list[str], list[str] | None, bool]:
    """(texts, text pairs or None, is_batch) of a TEI `/predict` request: a string, a pair
    [text, pair], or a batch [[text], [text, pair], ...]."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise ApiError(422, "invalid_request", 'send {"inputs": "text"}, {"inputs": ["text", '
                       '"pair"]} or {"inputs": [["t1"], ["t2"]]} (the TEI /predict request).')
    raw = payload.get("raw_scores")
    if raw is True:
        raise ApiError(422, "raw_scores_unsupported", "raw_scores is not served: textune "
                       "answers probabilities. Leave raw_scores false.")
    if raw is not None and raw is not False:
        raise ApiError(422, "invalid_request", f"raw_scores must be false, not {raw!r}.")
    inputs = payload["inputs"]
    if isinstance(inputs, str):
        return [inputs], None, False
    bad = ApiError(422, "invalid_request", "'inputs' must be a string, a pair [text, pair] "
                   "or a batch [[text], [text, pair], ...].")
    if not isinstance(inputs, list) or not inputs:
        raise bad
    if all(isinstance(t, str) for t in inputs):
        if len(inputs) != 2:
            raise bad
        return [inputs[0]], [inputs[1]], False
    if not all(isinstance(s, list) and len(s) in (1, 2) and all(isinstance(t, str) for t in s)
               for s in inputs):
        raise bad
    sizes = {len(s) for s in inputs}
    if len(sizes) > 1:
        raise ApiError(422, "wrong_input_kind", "a batch mixes single texts and pairs; a model "
                       "takes one kind.")
    pairs = [s[1] for s in inputs] if sizes == {2} else None
    return [s[0] for s in inputs], pairs, True


def check_function(function_to_apply: str | None, multi_label: bool) -> None:
    """The scores are probabilities: the model's own function is accepted, others refused."""
    if function_to_apply is None:
        return
    own = "sigmoid" if multi_label else "softmax"
    if function_to_apply not in FUNCTIONS:
        raise ApiError(422, "invalid_request", f"function_to_apply must be one of "
                       f"{', '.join(FUNCTIONS)}, not {function_to_apply!r}.")
    if function_to_apply != own:
        kind = "one sigmoid per label" if multi_label else "a softmax over the labels"
        raise ApiError(422, "function_unsupported", f"this model's scores are probabilities "
                       f"({kind}); function_to_apply '{function_to_apply}' would need raw "
                       f"scores, which are not served. Omit it or pass '{own}'.")


def ranked(row: list[float], labels: list[str], top_k: int | None = None) -> list[dict]:
    """Every label with its score, best first (ties in label order); the first `top_k`."""
    order = sorted(range(len(labels)), key=lambda i: -row[i])
    return [{"label": labels[i], "score": row[i]} for i in order[:top_k]]
