"""What the serving tests share: a model's limits and key, three topics of text, and a real
server on a loopback port."""

import contextlib
import threading
import time

import httpx
import pytest

from textune.serving.http import Limits
from textune.serving.server import bind_socket, make_server

KEY = "s3cret-key"
LIMITS = Limits(max_texts=8, max_chars=200, max_body_bytes=4_000, max_queued_texts=10_000)
# three topics, string labels in a non-sorted first-seen order
TOPICS = {"weather": ["heavy rain and strong winds tomorrow", "sunny skies and warm air all week",
                      "snow and freezing fog overnight", "a thunderstorm warning for the coast",
                      "mild and cloudy with light showers", "a heatwave with record temperatures"],
          "cooking": ["simmer the onions in butter until soft", "bake the bread for forty minutes",
                      "season the soup with salt and pepper", "whisk the eggs with sugar and flour",
                      "roast the chicken with garlic and lemon", "fry the rice with soy sauce"],
          "football": ["the striker scored twice in the second half",
                       "the goalkeeper saved a late penalty", "the club sacked its manager",
                       "a red card for a reckless tackle", "the league title race goes on",
                       "the winger crossed for a headed goal"]}


@contextlib.contextmanager
def serving(app, **server_kw):
    """Run `app` in-process on an ephemeral loopback port until the block ends."""
    sock = bind_socket("127.0.0.1", 0)
    srv = make_server(app, log_level="warning", **server_kw)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        pytest.fail("server did not become healthy in 60 s")
    try:
        yield url
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive()
