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
  it guards everything but `/healthz` and the page, including `/docs`, `/redoc` and
  `/openapi.json`.
- An undeclared method gets 405 with `Allow` naming exactly the path's methods, before any
  key check; the spec documents every body with this server's limits, so an OpenAPI fuzzer
  (schemathesis, in the slow tests) finds nothing.

`create_app` composes named pieces: a `Service` (predictor, limits, key, batcher; the key,
body and scoring steps) and one `add_..._routes` function per group of routes; the body is
read by `body`, the micro-batching is `microbatch`'s, running the app is `server`'s.
"""



import contextlib
import hmac
import logging
from dataclasses import asdict, dataclass
from typing import Any, Optional, Union

from ..data import is_empty_text, non_empty_text_pattern
from . import hf_compat
from .body import parse_json, read_body
from .microbatch import ApiError, MicroBatcher
from .page import PAGE
from .predictor import check_input_kind

log = logging.getLogger(__name__)

API_KEY_ENV = "TEXTUNE_API_KEY"
PUBLIC = {("/healthz", "get"), ("/", "get")}  # what answers without the key


@dataclass
class Limits:
    max_texts: int = 256           # texts per request
    max_chars: int = 10_000        # characters per text (and per text pair)
    max_body_bytes: int = 2_000_000
    max_queued_texts: int = 8_192  # hard cap on queued texts; beyond it 503 (back-pressure)
    max_queue_seconds: float = 5.0  # admit only what measured throughput finishes in this time


def create_app(predictor, *, api_key: str | None = None, limits: Limits | None = None,
               max_batch: int = 128, max_wait_ms: float = 2.0):
    """The FastAPI app around a loaded predictor (see `batch.load_predictor`): the shared
    state in one `Service`, then each group of routes added by its own function."""
    from fastapi import FastAPI

    from .. import __version__

    svc = Service(predictor, api_key, limits or Limits(), max_batch, max_wait_ms)
    # the built-in docs routes cannot check the key: served by `add_docs_routes` instead
    app = FastAPI(title="textune", version=__version__, lifespan=_lifespan(svc),
                  docs_url=None, redoc_url=None, openapi_url=None,
                  description="Text classification with a textune model. Errors are "
                              '`{"error": {"code": ..., "message": ...}}`.')
    app.state.ready = False
    errors = _error_responses()
    add_error_handlers(app)
    add_docs_routes(app, svc)
    add_status_routes(app, svc, errors)
    add_classify_route(app, svc, errors)
    add_hf_routes(app, svc, errors)
    app.openapi = _openapi_with_security(app, svc.key is not None)
    return app


class Service:
    """What the routes share: the predictor and its labels, the limits, the API key and the
    micro-batcher; and the three steps every scoring route takes (key, body, score)."""

    def __init__(self, predictor, api_key: str | None, limits: Limits, max_batch: int,
                 max_wait_ms: float):
        if limits.max_queued_texts < limits.max_texts:
            raise ValueError(f"--max-queued-texts ({limits.max_queued_texts}) is below "
                             f"--max-texts ({limits.max_texts}): a full request could never "
                             "be queued and would be told to retry for ever. Raise "
                             "--max-queued-texts or lower --max-texts.")
        self.predictor = predictor
        self.limits = limits
        self.max_batch, self.max_wait_ms = max_batch, max_wait_ms
        self.labels = list(predictor.labels)
        self.str_labels = [str(c) for c in self.labels]
        self.decision = predictor.decision
        self.key = api_key.encode("utf-8") if api_key else None
        self.batcher = MicroBatcher(lambda t, p: predictor.predict_proba(t, p),
                                    max_batch=max_batch, max_wait_ms=max_wait_ms,
                                    max_queued=limits.max_queued_texts,
                                    max_queue_seconds=limits.max_queue_seconds)

    def check_key(self, request) -> None:
        """Nothing without a key; else the key from either header, compared in constant time."""
        if self.key is None:
            return
        given = []
        if "x-api-key" in request.headers:
            given.append(request.headers["x-api-key"])
        auth = request.headers.get("authorization")
        if auth is not None:  # any Authorization header is a credential, and must be the key
            given.append(auth[7:].strip() if auth.lower().startswith("bearer ") else "")
        if not given:
            raise ApiError(401, "missing_api_key", "this server needs an API key: send "
                           "'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
                           headers={"WWW-Authenticate": "Bearer"})
        # every credential sent must be the key: a wrong one beside a right one is refused
        if not all([hmac.compare_digest(g.encode("utf-8"), self.key) for g in given]):
            raise ApiError(401, "invalid_api_key", "the API key is not valid.",
                           headers={"WWW-Authenticate": "Bearer"})

    async def read_json(self, request, shape: str) -> Any:
        """The key checked, then the body read within the limits and parsed as JSON."""
        self.check_key(request)
        return parse_json(await read_body(request, self.limits.max_body_bytes), shape)

    async def score(self, texts: list[str], pairs: list[str] | None,
                    fields: tuple[str, str] = ("texts", "text_pairs"),
                    send: tuple[str, str] = ("'texts' only", "'texts' and 'text_pairs'")):
        """Probabilities for a request's texts, after every limit and input check; errors
        name the request's `fields` and what to `send` for single texts and for pairs
        (the Hugging Face shapes differ from /v1/classify)."""
        limits = self.limits
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
        check_input_kind(self.predictor, pairs is not None,
                         f"send {send[bool(self.predictor.is_pair_)]}.",
                         lambda message: ApiError(422, "wrong_input_kind", message))
        return await self.batcher.submit(texts, pairs)


def _lifespan(svc: Service):
    """Warm the batcher up (its first throughput estimate) before /healthz says ready."""
    @contextlib.asynccontextmanager
    async def lifespan(app):
        limits = svc.limits
        warm = _warm_up_texts(limits.max_chars, min(svc.max_batch, limits.max_texts, 8))
        await svc.batcher.start(warm, warm if svc.predictor.is_pair_ else None)
        app.state.ready = True
        log.info("model ready: %s labels %s", svc.predictor.info.get("method"), svc.labels)
        try:
            yield
        finally:
            app.state.ready = False
            await svc.batcher.stop()

    return lifespan


def _error(status: int, code: str, message: str, headers=None):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _error_responses() -> dict:
    """The OpenAPI `responses` of the error statuses: `{"error": {"code", "message"}}`."""
    from pydantic import BaseModel

    class ErrorBody(BaseModel):
        code: str
        message: str

    class ErrorResponse(BaseModel):
        error: ErrorBody

    return {status: {"model": ErrorResponse} for status in (400, 401, 413, 422, 503)}


def add_error_handlers(app) -> None:
    """Every error, ours or the framework's, answered as `{"error": {"code", "message"}}`."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ApiError)
    async def _api_error(_req, e: ApiError):
        if e.quiet:
            log.info("%s", e.message)
        return _error(e.status, e.code, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, e):
        if e.status_code == 405:
            return _method_not_allowed(app, request)
        return _error(e.status_code, "http_error", str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req, e):
        return _error(422, "invalid_request", _describe(e.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(_req, _e):  # the traceback is still logged by the server
        return _error(500, "internal_error", "the server failed on this request; the server "
                      "log has the details.")


def _method_not_allowed(app, request):
    """405 with `Allow` listing every method some route declares for this path. Starlette's
    own names only the first matching route's methods (`GET` for `/`, which POST answers
    too). Routing runs before any route checks the key, so 405 comes before 401."""
    from starlette.routing import Match

    scope = {**request.scope, "method": "GET"}
    allowed = set()
    for route in app.router.routes:
        if route.matches(scope)[0] != Match.NONE and getattr(route, "methods", None):
            allowed |= route.methods
    allow = ", ".join(sorted(allowed))
    return _error(405, "method_not_allowed", f"{request.method} is not served at "
                  f"{request.url.path}; it answers {allow}.", {"Allow": allow})


def add_docs_routes(app, svc: Service) -> None:
    """/openapi.json, /docs and /redoc, behind the API key like the model itself."""
    from fastapi import Request
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import JSONResponse

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_spec(request: Request):
        svc.check_key(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_docs(request: Request):
        svc.check_key(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="textune - docs")

    @app.get("/redoc", include_in_schema=False)
    async def redoc_docs(request: Request):
        svc.check_key(request)
        return get_redoc_html(openapi_url="/openapi.json", title="textune - ReDoc")


def add_status_routes(app, svc: Service, errors: dict) -> None:
    """The try-it page (`/`), `/healthz` and `/v1/model`."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from .. import __version__

    @app.get("/", summary="A page to try the model in a browser (public: it holds no model "
             "data; the key, if any, is typed into it)", response_class=HTMLResponse)
    async def try_page():  # public like /healthz: the page holds no model data itself
        return HTMLResponse(PAGE)

    @app.head("/healthz", include_in_schema=False)  # probes that send HEAD
    @app.get("/healthz", summary="200 once the model is loaded", responses={503: errors[503]})
    async def healthz():
        if not app.state.ready:
            return _error(503, "not_ready", "the model is not loaded yet.")
        return {"status": "ok"}

    @app.get("/v1/model", summary="Labels, method, backbone, versions and limits",
             responses={401: errors[401]})
    async def model_info(request: Request):
        svc.check_key(request)
        return {**svc.predictor.info, "textune_version": __version__,
                "limits": asdict(svc.limits),
                "micro_batch": {"max_batch": svc.max_batch, "max_wait_ms": svc.max_wait_ms}}


def add_classify_route(app, svc: Service, errors: dict) -> None:
    """`POST /v1/classify`: textune's own shape, documented with this model's labels."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from pydantic import ValidationError

    request_model = _classify_request(svc.limits)
    key = "labels" if svc.decision.multi_label else "label"

    @app.post("/v1/classify", summary="Classify a batch of texts or text pairs",
              response_model=list[_prediction(svc)], responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _classify_schema(request_model, svc)}}}})
    async def classify(request: Request):
        payload = await svc.read_json(request, '{"texts": ["..."]}')
        try:
            req = request_model.model_validate(payload)
        except ValidationError as e:
            raise ApiError(422, "invalid_request", _describe(e.errors())) from None
        proba = await svc.score(req.texts, req.text_pairs)
        return JSONResponse([{key: chosen, "probabilities": dict(zip(svc.str_labels, row))}
                             for chosen, row in zip(svc.decision.labels(proba, svc.labels),
                                                    proba.tolist())])


def add_hf_routes(app, svc: Service, errors: dict) -> None:
    """The Hugging Face shapes (`hf_compat`): `POST /` as the Inference API's text
    classification, `POST /predict` as Text Embeddings Inference's."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.post("/", summary="Hugging Face Inference API text classification "
              "(huggingface_hub.InferenceClient)", responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _inference_api_schema(svc),
                                       "example": {"inputs": "a wonderful film",
                                                   "parameters": {"top_k": 2}}}}}})
    async def hf_text_classification(request: Request):
        payload = await svc.read_json(request, '{"inputs": "..."}')
        texts, top_k, function = hf_compat.inference_api_inputs(payload)
        hf_compat.check_function(function, svc.decision.multi_label)
        proba = await svc.score(texts, None, ("inputs", "inputs"), (
            "single texts", "[text, pair] inputs to POST /predict (this route takes no pairs)"))
        return JSONResponse([hf_compat.ranked(row, svc.str_labels, top_k)
                             for row in proba.tolist()])

    @app.post("/predict", summary="Text Embeddings Inference /predict (every label's score, "
              "best first)", responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _tei_schema(svc),
                                       "example": {"inputs": "a wonderful film"}}}}})
    async def tei_predict(request: Request):
        payload = await svc.read_json(request, '{"inputs": "..."}')
        texts, pairs, is_batch = hf_compat.tei_inputs(payload)
        proba = await svc.score(texts, pairs, ("inputs", "inputs (pairs)"), (
            'single texts ("text" or [["t1"], ["t2"]])',
            '[text, pair] inputs ([["t1", "p1"], ["t2", "p2"]] for a batch)'))
        answers = [hf_compat.ranked(row, svc.str_labels) for row in proba.tolist()]
        return JSONResponse(answers if is_batch else answers[0])


def _text_schema(limits: Limits) -> dict:
    """One text as the spec documents it: what `Service.score` accepts (at most `max_chars`
    characters, not empty by `data.is_empty_text`), so a fuzzer's valid texts are valid."""
    return {"type": "string", "minLength": 1, "maxLength": limits.max_chars,
            "pattern": non_empty_text_pattern(),
            "description": f"At most {limits.max_chars} characters, and more than whitespace "
                           "and invisible (Unicode Cf) characters."}


def _texts_schema(limits: Limits, item: dict) -> dict:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": limits.max_texts}


def _classify_schema(request_model, svc: Service) -> dict:
    """The /v1/classify body with the limits and the model's input kind: `text_pairs` is
    required for a pair model and absent (or null) otherwise. Validation itself stays in
    `Service.score`, whose error codes are the contract."""
    schema = request_model.model_json_schema()
    text = _text_schema(svc.limits)
    props = schema["properties"]
    props["texts"].update(_texts_schema(svc.limits, text))
    if svc.predictor.is_pair_:
        props["text_pairs"] = {**_texts_schema(svc.limits, text),
                               "description": "Second texts, one per text."}
        schema["required"] = ["texts", "text_pairs"]
    else:
        props["text_pairs"] = {"type": "null", "description": "Only for models trained on "
                               "text pairs; this one reads single texts."}
    return schema


def _inference_api_schema(svc: Service) -> dict:
    """`POST /`: `inputs` one text or a list; `top_k` and this model's own function."""
    text = _text_schema(svc.limits)
    own = "sigmoid" if svc.decision.multi_label else "softmax"
    return {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"anyOf": [text, _texts_schema(svc.limits, text)]},
        "parameters": {"type": ["object", "null"], "additionalProperties": False,
                       "properties": {"top_k": {"type": ["integer", "null"], "minimum": 1},
                                      "function_to_apply": {"enum": [own, None]}}}}}


def _tei_schema(svc: Service) -> dict:
    """`POST /predict`: a text or a batch of [text] for a single-text model; a pair
    [text, pair] or a batch of them for a pair model."""
    text = _text_schema(svc.limits)
    width = 2 if svc.predictor.is_pair_ else 1
    row = {"type": "array", "items": text, "minItems": width, "maxItems": width}
    one = row if width == 2 else text
    return {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"anyOf": [one, _texts_schema(svc.limits, row)]},
        "raw_scores": {"enum": [False, None],
                       "description": "Only false: the scores are probabilities."}}}


def _classify_request(limits: Limits):
    """The /v1/classify body, its limits in the field descriptions."""
    from pydantic import BaseModel, ConfigDict, Field, StrictStr

    class ClassifyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={
            "examples": [{"texts": ["a wonderful film", "a dull mess"]}]})
        texts: list[StrictStr] = Field(description=f"1 to {limits.max_texts} texts, each at "
                                       f"most {limits.max_chars} characters.")
        text_pairs: Optional[list[StrictStr]] = Field(
            None, description="Second texts, one per text, for models trained on pairs.")

    return ClassifyRequest


def _prediction(svc: Service):
    """One /v1/classify answer, its example written with this model's own labels."""
    from pydantic import BaseModel, ConfigDict, Field

    labels, str_labels, decision = svc.labels, svc.str_labels, svc.decision
    if decision.multi_label:
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
        return Prediction

    example = {"label": labels[0], "probabilities": {
        c: 0.8 if i == 0 else round(0.2 / (len(labels) - 1), 4)
        for i, c in enumerate(str_labels)}}

    class Prediction(BaseModel):  # noqa: F811 - the single-label shape
        model_config = ConfigDict(json_schema_extra={"examples": [example]})
        label: Union[int, str] = Field(description="The most probable label.")
        probabilities: dict[str, float] = Field(description="Each label's probability "
                                                "(they sum to 1).")
    return Prediction


def _openapi_with_security(app, keyed: bool):
    """The generated spec, plus the key's two header spellings so the docs UI can send it."""
    from fastapi import FastAPI

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = FastAPI.openapi(app)
            if keyed:
                _declare_api_key(spec)
        return app.openapi_schema

    return openapi


def check_texts(field: str, values: list[str]) -> None:
    """Refuse, by index, what the Python API refuses (empty text) and what no tokenizer can
    encode (lone surrogates: not Unicode text), before the text can reach a shared batch."""
    for i, text in enumerate(values):
        if is_empty_text(text):
            raise ApiError(422, "empty_text", f"{field}[{i}] is empty or only whitespace and "
                           "invisible characters (such as U+200B); send text in every entry "
                           "(textune never classifies empty text).")
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
        for method, op in ops.items():
            if (path, method) not in PUBLIC:
                op["security"] = [{"bearerAuth": []}, {"apiKeyHeader": []}]  # either one


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
