"""The HTTP service over real loopback HTTP: a real uvicorn server, a real httpx client."""

import asyncio
import contextlib
import gzip
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from tests.serve.helpers import KEY, LIMITS, serving  # noqa: E402
from textune.serving.batch import load_predictor  # noqa: E402
from textune.serving.http import ApiError, Limits, MicroBatcher, create_app  # noqa: E402

@pytest.fixture(scope="module")
def server(probe_model):
    """An in-process server on an ephemeral loopback port; stopped at the end."""
    _, path = probe_model
    predictor = load_predictor(path)
    with serving(create_app(predictor, api_key=KEY, limits=LIMITS, max_batch=32)) as url:
        yield url, predictor


@pytest.fixture()
def server_logs():
    """Every record the server's loggers emit (uvicorn's do not propagate to the root)."""
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    loggers = [logging.getLogger(n) for n in ("", "uvicorn")]  # each record once
    for lg in loggers:
        lg.addHandler(handler)
    textune_log = logging.getLogger("textune")
    level = textune_log.level
    textune_log.setLevel(logging.DEBUG)
    yield records
    textune_log.setLevel(level)
    for lg in loggers:
        lg.removeHandler(handler)


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {KEY}"},
                      timeout=30) as c:
        yield c


def error_code(r):
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["code"]


def test_happy_path_matches_direct_predict(server, client, tiny_texts):
    _, predictor = server
    texts = tiny_texts[0][:5]
    r = client.post("/v1/classify", json={"texts": texts})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out) == 5 and all(set(o) == {"label", "probabilities"} for o in out)
    want = predictor.predict_proba(texts)
    for o, p in zip(out, want):
        assert o["label"] == predictor.labels[int(p.argmax())]
        assert abs(o["probabilities"]["pos"] - float(p[1])) < 1e-5
    assert [o["label"] for o in out] == ["pos"] * 5


def test_healthz_model_info_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    info = client.get("/v1/model").json()
    assert info["labels"] == ["neg", "pos"] and info["method"] == "probe"
    assert info["backbone"] == "minilm" and "torch" in info["versions"]
    assert info["limits"]["max_texts"] == 8
    spec = client.get("/openapi.json").json()
    assert "/v1/classify" in spec["paths"] and client.get("/docs").status_code == 200
    assert client.head("/healthz").status_code == 200  # probes that send HEAD


@pytest.mark.parametrize("body,status,code", [
    ({"texts": ["x"] * 9}, 413, "too_many_texts"),
    ({"texts": ["ok", "y" * 201]}, 413, "text_too_long"),
    ({"texts": []}, 422, "no_texts"),
    ({"texts": "a single string"}, 422, "invalid_request"),
    ({"texts": ["ok", 3]}, 422, "invalid_request"),
    ({"text": ["typo in the field name"]}, 422, "invalid_request"),
    ({"texts": ["a"], "text_pairs": ["b"]}, 422, "wrong_input_kind"),
    ({"texts": ["a", "b"], "text_pairs": ["c"]}, 422, "pair_length_mismatch"),
    ([1, 2, 3], 422, "invalid_request"),
])
def test_bad_requests_are_clear_4xx(client, body, status, code):
    r = client.post("/v1/classify", json=body)
    assert r.status_code == status and error_code(r) == code, r.text


@pytest.mark.parametrize("body,where", [
    ({"texts": ["fine", "also fine", "", "ok"]}, "texts[2]"),
    ({"texts": ["fine", " \t\n "]}, "texts[1]"),
    ({"texts": ["\u3000\u00a0"]}, "texts[0]"),  # unicode spaces, as str.strip sees them
    ({"texts": ["fine", "\u200b\u2060\ufeff"]}, "texts[1]"),  # zero-width: empty too
    ({"texts": ["a", "b"], "text_pairs": ["c", "  "]}, "text_pairs[1]"),
])
def test_empty_texts_are_refused_like_the_python_api(client, body, where):
    r = client.post("/v1/classify", json=body)
    assert r.status_code == 422 and error_code(r) == "empty_text", r.text
    assert r.json()["error"]["message"].startswith(f"{where} is empty")


def test_lone_surrogate_is_a_422_naming_the_text(client):
    r = client.post("/v1/classify", content=b'{"texts": ["fine", "x \\ud800"]}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and error_code(r) == "invalid_text", r.text
    assert "texts[1]" in r.json()["error"]["message"] and "U+D800" in r.json()["error"]["message"]
    # a proper surrogate pair is one valid character
    r = client.post("/v1/classify", content=b'{"texts": ["nice \\ud83d\\ude00"]}')
    assert r.status_code == 200, r.text


def test_poisoned_request_fails_alone_among_concurrent_good_ones(topics):
    predictor, texts = topics
    want = [predictor.labels[int(k)] for k in predictor.predict_proba(texts).argmax(axis=1)]
    poison = b'{"texts": ["the weather is x \\ud800"]}'
    app = create_app(predictor, api_key=KEY, limits=LIMITS, max_batch=64, max_wait_ms=20)
    with serving(app) as url:
        def one(i):
            if i == 15:
                r = httpx.post(f"{url}/v1/classify", content=poison, timeout=60,
                               headers={"X-API-Key": KEY, "Content-Type": "application/json"})
                return i, r
            batch = [texts[(i + j) % len(texts)] for j in range(3)]
            return i, httpx.post(f"{url}/v1/classify", json={"texts": batch}, timeout=60,
                                 headers={"X-API-Key": KEY})

        with ThreadPoolExecutor(31) as pool:
            results = list(pool.map(one, range(31)))
    for i, r in results:
        if i == 15:
            assert r.status_code == 422 and error_code(r) == "invalid_text", r.text
            continue
        assert r.status_code == 200, (i, r.text)
        assert [o["label"] for o in r.json()] == [want[(i + j) % len(texts)] for j in range(3)]


def test_batcher_reruns_a_failed_batch_request_by_request(topics):
    """Behind the up-front checks: whatever breaks the model fails only its own request."""
    predictor, texts = topics
    want = predictor.predict_proba(texts[:6])

    async def main():
        batcher = MicroBatcher(predictor.predict_proba, max_batch=64, max_wait_ms=200)
        await batcher.start()
        try:
            good = [batcher.submit([t], None) for t in texts[:6]]
            bad = batcher.submit(["x \ud800"], None)  # bypasses the service's text checks
            return await asyncio.gather(*good[:3], bad, *good[3:], return_exceptions=True)
        finally:
            await batcher.stop()

    out = asyncio.run(main())
    bad = out.pop(3)
    assert isinstance(bad, ApiError) and bad.status == 500, bad
    assert "TextEncodeInput" not in bad.message  # no tokenizer internals in the answer
    for got, expect in zip(out, want):
        assert not isinstance(got, Exception), got
        assert abs(got[0] - expect).max() < 1e-5


def test_deeply_nested_json_gets_the_error_shape(client):
    for body in (b"[" * 1900 + b"]" * 1900, b'{"texts": ' + b"[" * 1900 + b"]" * 1900 + b"}"):
        r = client.post("/v1/classify", content=body,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and error_code(r) == "malformed_json", r.text[:200]
        assert "deeply" in r.json()["error"]["message"]


def test_docs_and_spec_need_the_key_and_declare_it(server, client):
    url, predictor = server
    for path in ("/docs", "/redoc", "/openapi.json"):
        r = httpx.get(f"{url}{path}")
        assert r.status_code == 401 and error_code(r) == "missing_api_key", path
        assert client.get(path).status_code == 200, path
        assert httpx.get(f"{url}{path}", headers={"X-API-Key": KEY}).status_code == 200
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"].values()
    assert {"type": "http", "scheme": "bearer"}.items() <= next(
        s for s in schemes if s["type"] == "http").items()
    assert any(s["type"] == "apiKey" and s["in"] == "header" and s["name"] == "X-API-Key"
               for s in schemes)
    for path in ("/v1/classify", "/v1/model"):
        op = next(iter(spec["paths"][path].values()))
        assert len(op["security"]) == 2, op  # either scheme (OR)
    assert "security" not in spec["paths"]["/healthz"]["get"]
    # without a key nothing is declared, and the docs stay open
    assert "securitySchemes" not in create_app(predictor).openapi().get("components", {})


def test_client_disconnect_mid_body_logs_no_traceback(server, client, server_logs):
    url, _ = server
    host, port = url.removeprefix("http://").split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nX-API-Key: " +
                         KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n" + b'{"texts": ["half')
            time.sleep(0.05)
    time.sleep(0.5)
    assert client.post("/v1/classify", json={"texts": ["still fine"]}).status_code == 200
    loud = [r for r in server_logs if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
    assert sum("disconnected" in r.getMessage() for r in server_logs) == 5


def test_overload_gets_fast_503_with_retry_after_not_timeouts(topics):
    predictor, texts = topics
    long = [" ".join(texts) * 2] * 8
    limits = Limits(max_texts=8, max_chars=2_000, max_body_bytes=100_000,
                    max_queued_texts=10_000, max_queue_seconds=0.5)
    app = create_app(predictor, limits=limits, max_batch=16)
    # one shared client: a fresh httpx.post per thread builds an SSL context under the GIL,
    # ~30 ms each, which made 40 clients' own overhead look like a slow server (CI: 2.5 s)
    with serving(app) as url, httpx.Client(
            base_url=url, timeout=60, limits=httpx.Limits(max_connections=40)) as http:
        def one(_):
            began = time.monotonic()
            r = http.post("/v1/classify", json={"texts": long})
            return r, time.monotonic() - began

        with ThreadPoolExecutor(40) as pool:
            results = list(pool.map(one, range(40)))
    statuses = [r.status_code for r, _ in results]
    assert set(statuses) == {200, 503}, statuses
    refused = [(r, t) for r, t in results if r.status_code == 503]
    assert all(error_code(r) == "overloaded" and int(r.headers["Retry-After"]) >= 1
               for r, _ in refused)
    # refused at admission, not after queueing: the typical refusal comes back before the
    # accepted work is done (relative, so a loaded CI machine slows both sides alike)
    slowest_accepted = max(t for r, t in results if r.status_code == 200)
    assert sorted(t for _, t in refused)[len(refused) // 2] < slowest_accepted


def test_burst_of_short_texts_fits_the_latency_budget(server, tiny_texts):
    """The budget counts work, not texts: 64 clients x 4 short texts at once is a second or
    two of work, so none is refused, though the warm-up timed long texts."""
    _, predictor = server
    texts = tiny_texts[0]
    want = predictor.predict_proba(texts).argmax(axis=1)

    with serving(create_app(predictor)) as url:  # default limits: a 5 s budget
        def one(i):
            batch = [texts[(i + j) % len(texts)] for j in range(4)]
            return i, httpx.post(f"{url}/v1/classify", json={"texts": batch}, timeout=60)

        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(one, range(64)))
    for i, r in results:
        assert r.status_code == 200, r.text
        assert [o["label"] for o in r.json()] == [
            predictor.labels[want[(i + j) % len(texts)]] for j in range(4)]


def test_gzip_bodies_are_decoded_and_bounded(client):
    body = json.dumps({"texts": ["a wonderful, moving film"]}).encode()
    plain = client.post("/v1/classify", content=body).json()
    r = client.post("/v1/classify", content=gzip.compress(body),
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == plain, r.text
    bomb = gzip.compress(b'{"texts": ["' + b" " * 1_000_000 + b'"]}')  # ~1 kB -> 1 MB
    assert len(bomb) < LIMITS.max_body_bytes
    r = client.post("/v1/classify", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and error_code(r) == "body_too_large", r.text
    r = client.post("/v1/classify", content=body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and error_code(r) == "bad_encoding", r.text
    r = client.post("/v1/classify", content=body, headers={"Content-Encoding": "br"})
    assert r.status_code == 415 and error_code(r) == "unsupported_encoding", r.text
    two_members = gzip.compress(body[:10]) + gzip.compress(body[10:])  # valid per RFC 1952
    r = client.post("/v1/classify", content=two_members, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json() == plain, r.text


def test_idle_keep_alive_connections_are_closed(server):
    _, predictor = server
    with serving(create_app(predictor), keep_alive_s=1) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            began = time.monotonic()
            assert sock.recv(4096) == b""  # the server closed the idle connection
            assert 0.5 < time.monotonic() - began < 5
        for opening in (b"", b"GET /hea"):  # silent, or stalled before a whole request
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(opening)
                began = time.monotonic()
                assert sock.recv(4096) == b""
                assert time.monotonic() - began < 5
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            body = json.dumps({"texts": ["a slow upload"]}).encode()
            sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         + KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
            for part in (body[:5], body[5:10], body[10:]):  # a live body is never cut
                time.sleep(0.7)
                sock.sendall(part)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_malformed_json_and_body_limit(client):
    r = client.post("/v1/classify", content=b'{"texts": ["unclosed"',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    r = client.post("/v1/classify", content=b"\xff\xfe not utf-8")
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    big = json.dumps({"texts": ["z" * 150] * 30}).encode()  # > 4,000 bytes
    r = client.post("/v1/classify", content=big)
    assert r.status_code == 413 and error_code(r) == "body_too_large"

    def chunks():  # no Content-Length: the limit holds on streamed bodies too
        for _ in range(10):
            yield b" " * 1000
    r = client.post("/v1/classify", content=chunks())
    assert r.status_code == 413 and error_code(r) == "body_too_large"
    assert client.get("/v1/nowhere").status_code == 404
    assert client.get("/v1/classify").status_code == 405


def test_api_key(server):
    url, _ = server
    r = httpx.post(f"{url}/v1/classify", json={"texts": ["hi"]})
    assert r.status_code == 401 and error_code(r) == "missing_api_key"
    r = httpx.post(f"{url}/v1/classify", json={"texts": ["hi"]}, headers={"X-API-Key": "nope"})
    assert r.status_code == 401 and error_code(r) == "invalid_api_key"
    r = httpx.post(f"{url}/v1/classify", json={"texts": ["hi"]}, headers={"X-API-Key": KEY})
    assert r.status_code == 200
    assert httpx.get(f"{url}/v1/model").status_code == 401
    assert httpx.get(f"{url}/healthz").status_code == 200  # probes need no key


def test_concurrent_requests_are_batched_and_correct(server, tiny_texts):
    url, predictor = server
    texts = tiny_texts[0]
    want = predictor.predict_proba(texts)

    def one(i):
        batch = [texts[(i + j) % len(texts)] for j in range(1 + i % 4)]
        r = httpx.post(f"{url}/v1/classify", json={"texts": batch},
                       headers={"X-API-Key": KEY}, timeout=60)
        return i, r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(48)))
    for i, status, out in results:
        assert status == 200
        for j, o in enumerate(out):
            expect = want[(i + j) % len(texts)]
            assert abs(o["probabilities"]["pos"] - float(expect[1])) < 1e-4


# ------------------------------------------------------------------------- as a process


def _start(args, env=None):
    proc = subprocess.Popen([sys.executable, "-m", "textune", "serve", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    return proc


@contextlib.contextmanager
def _serving_process(args, env=None):
    """`textune serve ARGS` as a process, killed at the end if a test left it running."""
    proc = _start(args, env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_url(proc, timeout=90):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "serving" in line and "http://" in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return line.split("http://")[1].split()[0]
    proc.kill()
    pytest.fail("server did not start:\n" + "".join(lines))


def test_bad_model_dir_fails_at_start(tmp_path):
    proc = _start([str(tmp_path / "missing"), "--port", "0"])
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2 and "not a textune model folder" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_process_graceful_shutdown_finishes_in_flight(probe_model, tiny_texts):
    _, path = probe_model
    # a budget that holds all six long requests below: this test is about the drain
    with _serving_process([str(path), "--port", "0", "--quiet", "--max-queue-seconds", "60",
                           "--max-queued-texts", "500", "--keep-alive", "2"],
                          env={"TEXTUNE_API_KEY": KEY}) as proc:
        addr = _wait_url(proc)
        url = f"http://{addr}"
        limits = httpx.get(f"{url}/v1/model", headers={"X-API-Key": KEY}, timeout=60).json()
        assert limits["limits"]["max_queue_seconds"] == 60
        assert limits["limits"]["max_queued_texts"] == 500
        # long inputs, so that several requests are still being processed at SIGTERM
        texts = [" ".join(tiny_texts[0]) * 3] * 8

        def one(_):
            try:
                r = httpx.post(f"{url}/v1/classify", json={"texts": texts},
                               headers={"X-API-Key": KEY}, timeout=60)
            except httpx.ConnectError:  # arrived after shutdown began: refused, never cut
                return "refused", time.monotonic()
            return r.status_code, time.monotonic()

        assert one(0)[0] == 200
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, i) for i in range(6)]
            time.sleep(0.5)  # all connected and queued behind the single model worker
            stopped_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            results = [f.result() for f in futures]
        statuses = [s for s, _ in results]
        assert set(statuses) <= {200, "refused"}, statuses
        # requests in flight at SIGTERM were answered after it, in full
        assert any(s == 200 and t > stopped_at for s, t in results), results
        # a clean drain is a clean exit (not 143, 'killed by SIGTERM')
        assert proc.wait(timeout=60) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)


@pytest.mark.slow
def test_process_exits_zero_after_sigint(probe_model):
    _, path = probe_model
    with _serving_process([str(path), "--port", "0", "--quiet"]) as proc:
        url = f"http://{_wait_url(proc)}"
        assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def test_queue_cap_below_request_size_is_refused_at_start(server):
    _, predictor = server
    with pytest.raises(ValueError, match="--max-queued-texts \\(4\\) is below --max-texts"):
        create_app(predictor, limits=Limits(max_texts=8, max_queued_texts=4))
