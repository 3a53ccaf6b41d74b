"""HTTP conformance: an OpenAPI fuzzer (schemathesis) against the served spec, and the 405
answer (with an `Allow` header of exactly the route's methods) to every undeclared method."""

import subprocess
import sys

import httpx
import pytest

pytest.importorskip("fastapi")

from tests.serve.helpers import KEY, TOPICS, serving  # noqa: E402
from textune.serving.batch import load_predictor  # noqa: E402
from textune.serving.http import Limits, create_app  # noqa: E402

# the routes and the methods each one answers (/healthz also HEAD, for probes)
DECLARED = {"/": {"GET", "POST"}, "/predict": {"POST"}, "/v1/classify": {"POST"},
            "/healthz": {"GET", "HEAD"}, "/v1/model": {"GET"}, "/openapi.json": {"GET"},
            "/docs": {"GET"}, "/redoc": {"GET"}}
# small limits the fuzzer reaches, and a body limit no request within them reaches (a
# too-large body is a 413 that the spec's per-text limits cannot express)
LIMITS = Limits(max_texts=8, max_chars=200, max_body_bytes=100_000)
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")


@pytest.fixture(scope="module")
def tiny_topics(tiny_backbone, tmp_path_factory):
    """A 3-topic probe on the tiny backbone: fast enough to fuzz."""
    from textune import TextClassifier

    texts = [t for rows in zip(*TOPICS.values()) for t in rows]
    labels = [y for _ in range(6) for y in TOPICS]
    path = tmp_path_factory.mktemp("models") / "tiny-topics"
    TextClassifier(method="probe", model=tiny_backbone).fit(texts, labels).save(path)
    return load_predictor(path)


@pytest.fixture(scope="module", params=[None, KEY], ids=["open", "keyed"])
def served(request, tiny_topics):
    """(url, key) of a running server, without and with an API key."""
    with serving(create_app(tiny_topics, api_key=request.param, limits=LIMITS)) as url:
        yield url, request.param


@pytest.mark.parametrize("path", sorted(DECLARED))
def test_undeclared_methods_get_405_and_allow_lists_the_routes_methods(served, path):
    url, key = served
    with httpx.Client(base_url=url, timeout=30) as client:  # no key: 405 comes before 401
        for method in sorted(set(METHODS) - DECLARED[path]):
            r = client.request(method, path)
            assert r.status_code == 405, (method, path, r.text)
            allowed = {m.strip() for m in r.headers["allow"].split(",")}
            assert allowed == DECLARED[path], (method, path)
            if method != "HEAD":
                assert r.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.slow
def test_openapi_fuzzer_finds_nothing(served, tmp_path):
    """schemathesis (its command line, as a user runs it) against the served spec: the
    examples, coverage (undeclared methods, edge cases), fuzzing and stateful phases on
    every operation with every check, sending the key when the server has one. A fixed
    seed and few examples keep it to about a minute."""
    pytest.importorskip("schemathesis")
    url, key = served
    # over-limit requests answer 413 (too_many_texts, text_too_long), a documented 4xx
    config = tmp_path / "schemathesis.toml"
    config.write_text("[checks.negative_data_rejection]\nexpected-statuses = "
                      "[400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]\n")
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
           f"{url}/openapi.json", "--max-examples", "15", "--seed", "1", "--no-color",
           "--workers", "1"]
    if key:
        cmd += ["--header", f"X-API-Key: {key}"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


@pytest.mark.parametrize("served", [KEY], ids=["keyed"], indirect=True)
def test_every_credential_sent_must_be_the_key(served):
    """A wrong key in one header beside the right one in the other is refused, as a
    fuzzer's 'invalid authentication' probe expects."""
    url, key = served
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/v1/model", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/v1/model", headers={"Authorization": f"Bearer {key}"}).status_code \
            == 200
        for headers in ({"X-API-Key": key, "Authorization": "Bearer wrong"},
                        {"X-API-Key": "wrong", "Authorization": f"Bearer {key}"},
                        {"X-API-Key": key, "Authorization": "Basic dXNlcjpwYXNz"}):
            r = client.get("/v1/model", headers=headers)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_api_key")
