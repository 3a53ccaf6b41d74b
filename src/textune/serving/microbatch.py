"""Micro-batching with a latency budget: concurrent requests queue, one worker thread runs
everything that queued while the previous batch ran through the model at once, and the queue
admits only what the measured throughput can finish within `max_queue_seconds` (beyond that
a fast 503 with `Retry-After`). Refusals are `ApiError`s, answered by the HTTP app as
`{"error": {"code", "message"}}`."""

import asyncio
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 quiet: bool = False):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers
        self.quiet = quiet  # expected (a client went away): one INFO line, no response sent


class MicroBatcher:
    """Queue requests; a single worker runs them through the model in combined batches.

    Admission follows a latency budget: `rate` (work units/s, measured at warm-up, then an EWMA
    of real batches) times `max_queue_seconds` bounds the queued work, so an overloaded server
    answers 503 at once instead of letting clients wait past their timeouts. A unit is one
    500-character text; shorter texts cost less (see `work`), so a burst of short texts is not
    refused on the strength of a warm-up on long ones.
    """

    RATE_SMOOTHING = 0.3  # EWMA weight of the newest full batch; smaller ones weigh less

    def __init__(self, predict, *, max_batch: int = 128, max_wait_ms: float = 2.0,
                 max_queued: int = 8192, max_queue_seconds: float = 5.0):
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self.max_queue_seconds = max_queue_seconds
        self.rate: float | None = None  # work units per second; None until measured
        self.queued = 0  # texts, for the hard cap
        self.queued_work = 0.0  # work units, for the latency budget
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textune-model")

    async def start(self, warm_texts: list[str] | None = None,
                    warm_pairs: list[str] | None = None) -> None:
        """Start the worker, after timing a warm-up batch for the first throughput estimate."""
        if warm_texts:
            try:
                await self._warm_up(warm_texts, warm_pairs)
            except Exception:  # noqa: BLE001 - serve anyway, bounded by the hard cap only
                log.warning("warm-up failed; the queue is bounded by max_queued_texts only",
                            exc_info=True)
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _warm_up(self, texts: list[str], pairs: list[str] | None) -> None:
        loop = asyncio.get_running_loop()
        # the first call pays one-time costs; time the second one
        await loop.run_in_executor(self.executor, self.predict, texts[:1],
                                   None if pairs is None else pairs[:1])
        began = time.perf_counter()
        await loop.run_in_executor(self.executor, self.predict, texts, pairs)
        self.rate = work(texts, pairs) / max(time.perf_counter() - began, 1e-6)
        log.info("warm-up: about %.1f work units/s (a unit: one 500-character text); the "
                 "queue admits %.1f s of work", self.rate, self.max_queue_seconds)

    async def stop(self) -> None:
        """Finish everything already queued, then stop the worker."""
        if self.task is None:
            return
        await self.queue.put(None)
        await self.task
        self.executor.shutdown(wait=True)

    def queued_seconds(self) -> float:
        """Estimated seconds of work already queued (0 until a rate is measured)."""
        return self.queued_work / self.rate if self.rate else 0.0

    async def submit(self, texts: list[str], pairs: list[str] | None) -> np.ndarray:
        n, w = len(texts), work(texts, pairs)
        # an idle server always takes one request (up to the hard cap), however slow the model
        over_budget = (self.rate is not None and self.queued > 0
                       and (self.queued_work + w) / self.rate > self.max_queue_seconds)
        if over_budget or self.queued + n > self.max_queued:
            wait = self.queued_seconds()
            raise ApiError(503, "overloaded", f"{self.queued} texts are already queued (about "
                           f"{wait:.1f} s of work); retry shortly.",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        fut = asyncio.get_running_loop().create_future()
        self.queued += n
        self.queued_work += w
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
        """Run a combined batch; if it fails, rerun each request alone so only a bad one fails."""
        texts, pairs = [t for it in items for t in it[0]], _pairs(items)
        try:
            proba = await self._predict(loop, texts, pairs)
        except Exception:  # noqa: BLE001 - isolated below
            if len(items) == 1:
                self._fail(items[0])
            else:
                log.warning("a batch of %d requests failed; retrying each on its own",
                            len(items))
                for item in items:
                    await self._process_one(loop, item)
        else:
            start = 0
            for t, _, fut in items:
                if not fut.done():
                    fut.set_result(proba[start:start + len(t)])
                start += len(t)
        finally:
            self.queued -= len(texts)
            self.queued_work = self.queued_work - work(texts, pairs) if self.queued else 0.0

    async def _process_one(self, loop, item) -> None:
        texts, pairs, fut = item
        try:
            proba = await self._predict(loop, texts, pairs)
        except Exception:  # noqa: BLE001 - reported to this request only
            self._fail(item)
        else:
            if not fut.done():
                fut.set_result(proba)

    async def _predict(self, loop, texts, pairs) -> np.ndarray:
        began = time.perf_counter()
        proba = await loop.run_in_executor(self.executor, self.predict, texts, pairs)
        rate = work(texts, pairs) / max(time.perf_counter() - began, 1e-6)
        # a lone text on an idle server says little about the throughput under load
        a = self.RATE_SMOOTHING * min(1.0, len(texts) / self.max_batch)
        self.rate = rate if self.rate is None else a * rate + (1 - a) * self.rate
        return proba

    @staticmethod
    def _fail(item) -> None:
        """The model failed on this request alone: log why, answer a generic 500."""
        texts, _, fut = item
        log.exception("prediction failed on a request of %d texts", len(texts))
        if not fut.done():
            fut.set_exception(ApiError(500, "prediction_failed", "the model failed on these "
                                       "texts; the server log has the details."))


def work(texts: list[str], pairs: list[str] | None = None) -> float:
    """Model work in units of one 500-character text: roughly per-text overhead plus length,
    capped where tokenizers truncate. Only the shape matters; the measured rate sets the scale."""
    lengths = [len(t) for t in texts] if pairs is None else \
        [len(t) + len(p) for t, p in zip(texts, pairs)]
    return sum(min(3.0, (n + 100) / 600) for n in lengths)


def _pairs(items) -> list[str] | None:
    return None if items[0][1] is None else [p for it in items for p in it[1]]
