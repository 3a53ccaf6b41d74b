"""HTTP service for a saved model: FastAPI app factory + uvicorn runner.

- `POST /v1/classify` `{"texts": [...]}` or `{"texts": [...], "text_pairs": [...]}` ->
  a JSON array, one `{"label": ..., "probabilities": {label: p}}` per input, in input order
  (a multi-label model: `{"labels": [...], "probabilities": ...}`).
- `GET /healthz` (200 once the model is loaded and the batcher runs), `GET /v1/model`.
- `GET /`: a page to try the model in a browser (`page.py`; no external assets).
- The Hugging Face shapes (`hf_compat`): `POST /` as the Inference API's text
  classification (`huggingface_hub.InferenceClient(model=URL).text_classification`), and
  `POST /predict` as Text Embeddings Inference's; same probabilities, limits and batcher.
- Concurrent requests are micro-batched: one worker thread runs the model on everything that
  queued while the previous batch ran (plus `max_wait_ms` to gather), so throughput grows with
  load instead of requests fighting over the cores.
- Limits (texts per request, characters per text, body bytes, queued texts) are checked before
  any model work and answered with 4xx/503 and `{"error": {"code", "message"}}`. Every text is
  validated up front (non-empty, encodable Unicode), so one bad text fails only its own request.
- The queue admits only what the measured throughput can finish within `max_queue_seconds`
  (capped by `max_queued_texts`); beyond that a fast 503 with `Retry-After`, never a timeout.
- Optional API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`), compared in constant time;
  it guards everything but `/healthz`, including `/docs`, `/redoc` and `/openapi.json`.
"""



import contextlib
import hmac
import json
import logging
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Optional, Union

from . import hf_compat
from .microbatch import ApiError, MicroBatcher
from .page import PAGE

log = logging.getLogger(__name__)

API_KEY_ENV = "TEXTUNE_API_KEY"


@dataclass
class Limits:
    max_texts: int = 256           # texts per request
    max_chars: int = 10_000        # characters per text (and per text pair)
    max_body_bytes: int = 2_000_000
    max_queued_texts: int = 8_192  # hard cap on queued texts; beyond it 503 (back-pressure)
    max_queue_seconds: float = 5.0  # admit only what measured throughput finishes in this time


def create_app(predictor, *, api_key: str | None = None, limits: Limits | None = None,
               max_batch: int = 128, max_wait_ms: float = 2.0):
    """The FastAPI app around a loaded predictor (see `batch_predict.load_predictor`)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from .. import __version__

    limits = limits or Limits()
    if limits.max_queued_texts < limits.max_texts:
        raise ValueError(f"--max-queued-texts ({limits.max_queued_texts}) is below --max-texts "
                         f"({limits.max_texts}): a full request could never be queued and would "
                         "be told to retry for ever. Raise --max-queued-texts or lower "
                         "--max-texts.")
    labels = list(predictor.labels)
    str_labels = [str(c) for c in labels]
    key = api_key.encode("utf-8") if api_key else None

    class ClassifyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={
            "examples": [{"texts": ["a wonderful film", "a dull mess"]}]})
        texts: list[StrictStr] = Field(description=f"1 to {limits.max_texts} texts, each at "
                                       f"most {limits.max_chars} characters.")
        text_pairs: Optional[list[StrictStr]] = Field(
            None, description="Second texts, one per text, for models trained on pairs.")

    decision = predictor.decision
    multi = decision.multi_label

    # the example answers use this model's own labels
    if multi:
        example = {"labels": labels[:1], "probabilities": {
            c: round(0.9 - 0.8 * i / max(1, len(labels) - 1), 2)
            for i, c in enumerate(str_labels)}}
        at_least = (f" and, when fewer do, the {decision.min_labels} most probable"
                    if decision.min_labels else "")

        class Prediction(BaseModel):
            model_config = ConfigDict(json_schema_extra={"examples": [example]})
            labels: list[Union[int, str]] = Field(
                description="Multi-label model: every label whose probability reaches its "
                            f"threshold (saved with the model){at_least}; may be empty. In "
                            "label order.")
            probabilities: dict[str, float] = Field(
                description="Each label's own probability (independent sigmoids; they do "
                            "not sum to 1).")
    else:
        example = {"label": labels[0], "probabilities": {
            c: 0.8 if i == 0 else round(0.2 / (len(labels) - 1), 4)
            for i, c in enumerate(str_labels)}}

        class Prediction(BaseModel):
            model_config = ConfigDict(json_schema_extra={"examples": [example]})
            label: Union[int, str] = Field(description="The most probable label.")
            probabilities: dict[str, float] = Field(description="Each label's probability "
                                                    "(they sum to 1).")

    class ErrorBody(BaseModel):
        code: str
        message: str

    class ErrorResponse(BaseModel):
        error: ErrorBody

    batcher = MicroBatcher(lambda t, p: predictor.predict_proba(t, p), max_batch=max_batch,
                           max_wait_ms=max_wait_ms, max_queued=limits.max_queued_texts,
                           max_queue_seconds=limits.max_queue_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        warm = _warm_up_texts(limits.max_chars, min(max_batch, limits.max_texts, 8))
        await batcher.start(warm, warm if predictor.is_pair_ else None)
        app.state.ready = True
        log.info("model ready: %s labels %s", predictor.info.get("method"), labels)
        try:
            yield
        finally:
            app.state.ready = False
            await batcher.stop()

    # the built-in docs routes cannot check the key: served below instead
    app = FastAPI(title="textune", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  description="Text classification with a textune model. Errors are "
                              '`{"error": {"code": ..., "message": ...}}`.')
    app.state.ready = False
    errors = {400: {"model": ErrorResponse}, 401: {"model": ErrorResponse},
              413: {"model": ErrorResponse}, 422: {"model": ErrorResponse},
              503: {"model": ErrorResponse}}

    def error(status: int, code: str, message: str, headers=None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                            headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(_req, e: ApiError):
        if e.quiet:
            log.info("%s", e.message)
        return error(e.status, e.code, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req, e):
        return error(e.status_code, "http_error", str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req, e):
        return error(422, "invalid_request", _describe(e.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(_req, _e):  # the traceback is still logged by the server
        return error(500, "internal_error", "the server failed on this request; the server "
                     "log has the details.")

    def check_key(request: Request) -> None:
        if key is None:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given is None:
            raise ApiError(401, "missing_api_key", "this server needs an API key: send "
                           "'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
                           headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode("utf-8"), key):
            raise ApiError(401, "invalid_api_key", "the API key is not valid.",
                           headers={"WWW-Authenticate": "Bearer"})

    async def read_body(request: Request) -> bytes:
        """The body, decoded per Content-Encoding, never more than max_body_bytes either way."""
        encoding = _content_encoding(request.headers.get("content-encoding"))
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
            raise ApiError(413, "body_too_large", f"request body is {length} bytes; the limit "
                           f"is {limits.max_body_bytes}. Split the texts over several requests.")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limits.max_body_bytes:
                    raise ApiError(413, "body_too_large", "request body exceeds "
                                   f"{limits.max_body_bytes} bytes. Split the texts over "
                                   "several requests.")
        except ClientDisconnect:
            raise ApiError(400, "client_disconnected", "the client disconnected before "
                           "sending the whole body.", quiet=True) from None
        if encoding == "gzip":
            return _gunzip(bytes(body), limits.max_body_bytes)
        return bytes(body)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_spec(request: Request):
        check_key(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_docs(request: Request):
        check_key(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="textune - docs")

    @app.get("/redoc", include_in_schema=False)
    async def redoc_docs(request: Request):
        check_key(request)
        return get_redoc_html(openapi_url="/openapi.json", title="textune - ReDoc")

    @app.get("/", include_in_schema=False)
    async def try_page():  # public like /healthz: the page holds no model data itself
        return HTMLResponse(PAGE)

    @app.head("/healthz", include_in_schema=False)  # probes that send HEAD
    @app.get("/healthz", summary="200 once the model is loaded", responses={503: errors[503]})
    async def healthz():
        if not app.state.ready:
            return error(503, "not_ready", "the model is not loaded yet.")
        return {"status": "ok"}

    @app.get("/v1/model", summary="Labels, method, backbone, versions and limits",
             responses={401: errors[401]})
    async def model_info(request: Request):
        check_key(request)
        return {**predictor.info, "textune_version": __version__, "limits": asdict(limits),
                "micro_batch": {"max_batch": max_batch, "max_wait_ms": max_wait_ms}}

    @app.post("/v1/classify", summary="Classify a batch of texts or text pairs",
              response_model=list[Prediction], responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ClassifyRequest.model_json_schema()}}}})
    async def classify(request: Request):
        check_key(request)
        payload = _json(await read_body(request), '{"texts": ["..."]}')
        try:
            req = ClassifyRequest.model_validate(payload)
        except ValidationError as e:
            raise ApiError(422, "invalid_request", _describe(e.errors())) from None
        proba = await score(req.texts, req.text_pairs)
        key = "labels" if multi else "label"
        return JSONResponse([{key: chosen, "probabilities": dict(zip(str_labels, row))}
                             for chosen, row in zip(decision.labels(proba, labels),
                                                    proba.tolist())])

    @app.post("/", summary="Hugging Face Inference API text classification "
              "(huggingface_hub.InferenceClient)", responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"example": {"inputs": "a wonderful film",
                                                   "parameters": {"top_k": 2}}}}}})
    async def hf_text_classification(request: Request):
        check_key(request)
        payload = _json(await read_body(request), '{"inputs": "..."}')
        texts, top_k, function = hf_compat.inference_api_inputs(payload)
        hf_compat.check_function(function, multi)
        proba = await score(texts, None, ("inputs", "inputs"), (
            "single texts", "[text, pair] inputs to POST /predict (this route takes no pairs)"))
        return JSONResponse([hf_compat.ranked(row, str_labels, top_k)
                             for row in proba.tolist()])

    @app.post("/predict", summary="Text Embeddings Inference /predict (every label's score, "
              "best first)", responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"example": {"inputs": "a wonderful film"}}}}})
    async def tei_predict(request: Request):
        check_key(request)
        payload = _json(await read_body(request), '{"inputs": "..."}')
        texts, pairs, is_batch = hf_compat.tei_inputs(payload)
        proba = await score(texts, pairs, ("inputs", "inputs (pairs)"), (
            'single texts ("text" or [["t1"], ["t2"]])',
            '[text, pair] inputs ([["t1", "p1"], ["t2", "p2"]] for a batch)'))
        answers = [hf_compat.ranked(row, str_labels) for row in proba.tolist()]
        return JSONResponse(answers if is_batch else answers[0])

    async def score(texts: list[str], pairs: list[str] | None,
                    fields: tuple[str, str] = ("texts", "text_pairs"),
                    send: tuple[str, str] = ("'texts' only", "'texts' and 'text_pairs'")):
        """Probabilities for a request's texts, after every limit and input check; errors
        name the request's `fields` and what to `send` for single texts and for pairs
        (the Hugging Face shapes differ from /v1/classify)."""
        if not texts:
            raise ApiError(422, "no_texts", f"'{fields[0]}' is empty; send at least one text.")
        if len(texts) > limits.max_texts:
            raise ApiError(413, "too_many_texts", f"{len(texts)} texts in one request; the "
                           f"limit is {limits.max_texts}. Split them over several requests.")
        for field, values in zip(fields, (texts, pairs or [])):
            long = [i for i, t in enumerate(values) if len(t) > limits.max_chars]
            if long:
                raise ApiError(413, "text_too_long", f"{field}[{long[0]}] has "
                               f"{len(values[long[0]])} characters; the limit is "
                               f"{limits.max_chars}. Shorten or split it.")
        for field, values in zip(fields, (texts, pairs or [])):
            check_texts(field, values)
        if pairs is not None and len(pairs) != len(texts):
            raise ApiError(422, "pair_length_mismatch", f"{len(texts)} texts but {len(pairs)} "
                           "text_pairs; send one text pair per text.")
        if (pairs is not None) != predictor.is_pair_:
            want = send[predictor.is_pair_]
            raise ApiError(422, "wrong_input_kind", f"this model was trained on "
                           f"{'text pairs' if predictor.is_pair_ else 'single texts'}; send "
                           f"{want}.")
        return await batcher.submit(texts, pairs)

    def openapi_with_security() -> dict:
        """The generated spec, plus the key's two header spellings so the docs UI can send it."""
        if app.openapi_schema is None:
            spec = FastAPI.openapi(app)
            if key is not None:
                _declare_api_key(spec)
        return app.openapi_schema

    app.openapi = openapi_with_security
    return app


def _json(raw: bytes, shape: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON ({e}). Send "
                       f"{shape}.") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body nests JSON arrays or objects too "
                       f"deeply. Send {shape}.") from None


def check_texts(field: str, values: list[str]) -> None:
    """Refuse, by index, what the Python API refuses (empty text) and what no tokenizer can
    encode (lone surrogates: not Unicode text), before the text can reach a shared batch."""
    for i, text in enumerate(values):
        if not text.strip():
            raise ApiError(422, "empty_text", f"{field}[{i}] is empty or only whitespace; send "
                           "text in every entry (textune never classifies empty text).")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ApiError(422, "invalid_text", f"{field}[{i}] holds U+{ord(text[e.start]):04X} "
                           f"at character {e.start}, a lone surrogate that is not valid Unicode "
                           "text; send valid UTF-8 (a surrogate pair escapes one character).") \
                from None


def _declare_api_key(spec: dict) -> None:
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["bearerAuth"] = {"type": "http", "scheme": "bearer",
                             "description": "Authorization: Bearer KEY"}
    schemes["apiKeyHeader"] = {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": "X-API-Key: KEY"}
    for path, ops in spec.get("paths", {}).items():
        if path == "/healthz":
            continue
        for op in ops.values():
            op["security"] = [{"bearerAuth": []}, {"apiKeyHeader": []}]  # either one


def _content_encoding(header: str | None) -> str:
    """'identity' or 'gzip'; anything else is a 415 before the body is read."""
    value = (header or "identity").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    raise ApiError(415, "unsupported_encoding", f"Content-Encoding '{header}' is not supported; "
                   "send the body uncompressed or with 'Content-Encoding: gzip'.")


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress, stopping at `limit` bytes of output so a small zip bomb cannot fill memory."""
    out = b""
    while True:  # a gzip body may hold several members (RFC 1952), each decoded in turn
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(data, limit + 1 - len(out))
        except zlib.error as e:
            raise ApiError(400, "bad_encoding", f"the body is not valid gzip ({e}).") from None
        if len(out) > limit or d.unconsumed_tail:
            raise ApiError(413, "body_too_large", f"the decompressed body exceeds {limit} "
                           "bytes. Split the texts over several requests.")
        if not d.eof:
            raise ApiError(400, "bad_encoding", "the gzip body is truncated.")
        data = d.unused_data
        if not data.strip(b"\0"):  # trailing zero padding after the last member is allowed
            return out


def _warm_up_texts(max_chars: int, n: int) -> list[str]:
    """Longer than most texts, so the first throughput estimate errs low; real batches
    refine it."""
    return [("the quick brown fox jumps over the lazy dog " * 20)[:min(max_chars, 500)]] * n


def _describe(errs: list[dict]) -> str:
    parts = []
    for err in errs[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts) + ('. Expected {"texts": ["..."]} (optionally "text_pairs": '
                               '["..."]).')
