"""HTTP service for a saved model: FastAPI app factory + uvicorn runner.

- `POST /v1/classify` `{"texts": [...]}` or `{"texts": [...], "text_pairs": [...]}` ->
  a JSON array, one `{"label": ..., "probabilities": {label: p}}` per input, in input order.
- `GET /healthz` (200 once the model is loaded and the batcher runs), `GET /v1/model`.
- Concurrent requests are micro-batched: one worker thread runs the model on everything that
  queued while the previous batch ran (plus `max_wait_ms` to gather), so throughput grows with
  load instead of requests fighting over the cores.
- Limits (texts per request, characters per text, body bytes, queued texts) are checked before
  any model work and answered with 4xx/503 and `{"error": {"code", "message"}}`.
- Optional API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`), compared in constant time.
"""


import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Optional, Union

import numpy as np

log = logging.getLogger(__name__)

API_KEY_ENV = "TEXTUNE_API_KEY"


@dataclass
class Limits:
    max_texts: int = 256           # texts per request
    max_chars: int = 10_000        # characters per text (and per text pair)
    max_body_bytes: int = 2_000_000
    max_queued_texts: int = 8_192  # beyond this the server answers 503 (back-pressure)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# -------------------------------------------------------------------------------- batching


class MicroBatcher:
    """Queue requests; a single worker runs them through the model in combined batches."""

    def __init__(self, predict, *, max_batch: int = 128, max_wait_ms: float = 2.0,
                 max_queued: int = 8192):
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self.queued = 0
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textune-model")

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish everything already queued, then stop the worker."""
        if self.task is None:
            return
        await self.queue.put(None)
        await self.task
        self.executor.shutdown(wait=True)

    async def submit(self, texts: list[str], pairs: list[str] | None) -> np.ndarray:
        if self.queued + len(texts) > self.max_queued:
            raise ApiError(503, "overloaded", f"{self.queued} texts are already queued; retry "
                           "shortly.", headers={"Retry-After": "1"})
        fut = asyncio.get_running_loop().create_future()
        self.queued += len(texts)
        await self.queue.put((texts, pairs, fut))
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            item = await self.queue.get()
            if item is None:
                break
            items = [item]
            n = len(item[0])
            deadline = loop.time() + self.max_wait
            while n < self.max_batch:
                try:
                    timeout = max(0.0, deadline - loop.time())
                    nxt = self.queue.get_nowait() if timeout == 0 else \
                        await asyncio.wait_for(self.queue.get(), timeout)
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
                if nxt is None:
                    stopping = True
                    break
                items.append(nxt)
                n += len(nxt[0])
            await self._process(loop, items)

    async def _process(self, loop, items) -> None:
        texts = [t for it in items for t in it[0]]
        pairs = None if items[0][1] is None else [p for it in items for p in it[1]]
        try:
            proba = await loop.run_in_executor(self.executor, self.predict, texts, pairs)
        except Exception as e:  # noqa: BLE001 - reported to every waiting request
            log.exception("prediction failed")
            for *_, fut in items:
                if not fut.done():
                    fut.set_exception(ApiError(500, "prediction_failed", str(e)))
        else:
            start = 0
            for t, _, fut in items:
                if not fut.done():
                    fut.set_result(proba[start:start + len(t)])
                start += len(t)
        finally:
            self.queued -= len(texts)


# -------------------------------------------------------------------------------- app


def create_app(predictor, *, api_key: str | None = None, limits: Limits | None = None,
               max_batch: int = 128, max_wait_ms: float = 2.0):
    """The FastAPI app around a loaded predictor (see `batch_predict.load_predictor`)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from . import __version__

    limits = limits or Limits()
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

    class Prediction(BaseModel):
        label: Union[int, str]
        probabilities: dict[str, float]

    class ErrorBody(BaseModel):
        code: str
        message: str

    class ErrorResponse(BaseModel):
        error: ErrorBody

    batcher = MicroBatcher(lambda t, p: predictor.predict_proba(t, p), max_batch=max_batch,
                           max_wait_ms=max_wait_ms, max_queued=limits.max_queued_texts)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        app.state.ready = True
        log.info("model ready: %s labels %s", predictor.info.get("method"), labels)
        try:
            yield
        finally:
            app.state.ready = False
            await batcher.stop()

    app = FastAPI(title="textune", version=__version__, lifespan=lifespan,
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
        return error(e.status, e.code, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req, e):
        return error(e.status_code, "http_error", str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req, e):
        return error(422, "invalid_request", _describe(e.errors()))

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
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
            raise ApiError(413, "body_too_large", f"request body is {length} bytes; the limit "
                           f"is {limits.max_body_bytes}. Split the texts over several requests.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_body_bytes:
                raise ApiError(413, "body_too_large", "request body exceeds "
                               f"{limits.max_body_bytes} bytes. Split the texts over several "
                               "requests.")
        return bytes(body)

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
        raw = await read_body(request)
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, "malformed_json", f"the body is not valid JSON ({e}). Send "
                           '{"texts": ["..."]}.') from None
        try:
            req = ClassifyRequest.model_validate(payload)
        except ValidationError as e:
            raise ApiError(422, "invalid_request", _describe(e.errors())) from None
        texts, pairs = req.texts, req.text_pairs
        if not texts:
            raise ApiError(422, "no_texts", "'texts' is empty; send at least one text.")
        if len(texts) > limits.max_texts:
            raise ApiError(413, "too_many_texts", f"{len(texts)} texts in one request; the "
                           f"limit is {limits.max_texts}. Split them over several requests.")
        for field, values in (("texts", texts), ("text_pairs", pairs or [])):
            long = [i for i, t in enumerate(values) if len(t) > limits.max_chars]
            if long:
                raise ApiError(413, "text_too_long", f"{field}[{long[0]}] has "
                               f"{len(values[long[0]])} characters; the limit is "
                               f"{limits.max_chars}. Shorten or split it.")
        if pairs is not None and len(pairs) != len(texts):
            raise ApiError(422, "pair_length_mismatch", f"{len(texts)} texts but {len(pairs)} "
                           "text_pairs; send one text pair per text.")
        if (pairs is not None) != predictor.is_pair_:
            want = "'texts' and 'text_pairs'" if predictor.is_pair_ else "'texts' only"
            raise ApiError(422, "wrong_input_kind", f"this model was trained on "
                           f"{'text pairs' if predictor.is_pair_ else 'single texts'}; send "
                           f"{want}.")
        proba = await batcher.submit(texts, pairs)
        rows = proba.tolist()
        top = proba.argmax(axis=1).tolist()
        return JSONResponse([{"label": labels[k],
                              "probabilities": dict(zip(str_labels, row))}
                             for k, row in zip(top, rows)])

    return app


def _describe(errs: list[dict]) -> str:
    parts = []
    for err in errs[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts) + ('. Expected {"texts": ["..."]} (optionally "text_pairs": '
                               '["..."]).')


# -------------------------------------------------------------------------------- runner


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def make_server(app, *, log_level: str = "info",
                graceful_timeout: float = 30.0):
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=graceful_timeout, lifespan="on")
    return uvicorn.Server(config)


def run(model_dir: str, *, host: str = "127.0.0.1", port: int = 8000,
        api_key: str | None = None, backend: str = "torch", limits: Limits | None = None,
        max_batch: int = 128, max_wait_ms: float = 2.0, log_level: str = "info") -> None:
    """Load the model (failing fast on a bad folder), bind, serve until SIGINT/SIGTERM."""
    from .batch_predict import load_predictor

    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    predictor = load_predictor(model_dir, backend)
    app = create_app(predictor, api_key=api_key, limits=limits, max_batch=max_batch,
                     max_wait_ms=max_wait_ms)
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    server = make_server(app, log_level=log_level)
    shown = f"[{host}]" if ":" in host else host
    print(f"textune serving {model_dir} on http://{shown}:{bound} (docs: /docs"
          f"{', API key required' if api_key else ''})", file=sys.stderr, flush=True)
    server.run(sockets=[sock])

