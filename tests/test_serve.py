"""The HTTP service over real loopback HTTP: a real uvicorn server, a real httpx client."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from textune.batch_predict import load_predictor  # noqa: E402
from textune.serve import Limits, bind_socket, create_app, make_server  # noqa: E402

KEY = "s3cret-key"
LIMITS = Limits(max_texts=8, max_chars=200, max_body_bytes=4_000, max_queued_texts=10_000)


@pytest.fixture(scope="module")
def server(probe_model):
    """An in-process server on an ephemeral loopback port; stopped at the end."""
    _, path = probe_model
    predictor = load_predictor(path)
    app = create_app(predictor, api_key=KEY, limits=LIMITS, max_batch=32)
    sock = bind_socket("127.0.0.1", 0)
    srv = make_server(app, log_level="warning")
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        pytest.fail("server did not become healthy in 30 s")
    yield url, predictor
    srv.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


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


def test_process_graceful_shutdown_finishes_in_flight(probe_model, tiny_texts):
    _, path = probe_model
    proc = _start([str(path), "--port", "0", "--quiet"], env={"TEXTUNE_API_KEY": KEY})
    try:
        addr = _wait_url(proc)
        url = f"http://{addr}"
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
        # uvicorn drains, then re-raises the signal: the conventional 'ended by SIGTERM'
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
