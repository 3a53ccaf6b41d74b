"""Running the HTTP service: a socket bound before the model warms up, uvicorn with idle
connections timed out, and a drain on SIGINT/SIGTERM that ends with exit status 0."""

import contextlib
import os
import signal
import socket
import sys

from .http import API_KEY_ENV, Limits, create_app


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # clients arriving during the warm-up wait in the backlog, not refused
    sock.set_inheritable(True)
    return sock


KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this long


def make_server(app, *, log_level: str = "info", graceful_timeout: float = 30.0,
                keep_alive_s: int = KEEP_ALIVE_SECONDS):
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=graceful_timeout,
                            timeout_keep_alive=keep_alive_s, lifespan="on",
                            http=_idle_timeout_protocol())
    return uvicorn.Server(config)


def _idle_timeout_protocol():
    """uvicorn's HTTP protocol, with its keep-alive timer also armed when a connection opens
    and while a request's head is still arriving: uvicorn arms it only after a response, so a
    client that connects and sends nothing (or half a request line) held a connection open
    for ever. A request in progress, a slow body upload included, is never cut."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class IdleTimeoutProtocol(AutoHTTPProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm_idle_timer()

        def data_received(self, data):
            super().data_received(data)
            cycle = getattr(self, "cycle", None)
            if cycle is None or getattr(cycle, "response_complete", False):
                self._arm_idle_timer()

        def _arm_idle_timer(self):
            try:
                if self.timeout_keep_alive_task is None and not self.transport.is_closing():
                    self.timeout_keep_alive_task = self.loop.call_later(
                        self.timeout_keep_alive, self.timeout_keep_alive_handler)
            except AttributeError:  # a uvicorn without these internals: its own timer only
                pass

    return IdleTimeoutProtocol


@contextlib.contextmanager
def _drain_then_exit_zero():
    """uvicorn drains on SIGINT/SIGTERM, then re-raises the signal with the handlers found at
    start, which would end a clean drain as 'killed' (143/130). With these no-op handlers in
    place the re-raised signal is absorbed and the process exits 0."""
    stop = (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.signal(sig, lambda *_: None) for sig in stop}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def run(model_dir: str, *, host: str = "127.0.0.1", port: int = 8000,
        api_key: str | None = None, backend: str = "torch", limits: Limits | None = None,
        max_batch: int = 128, max_wait_ms: float = 2.0, log_level: str = "info",
        keep_alive_s: int = KEEP_ALIVE_SECONDS) -> None:
    """Load the model (failing fast on a bad folder), bind, serve until SIGINT/SIGTERM; exit
    normally once the drain is done."""
    from .batch import load_predictor

    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    predictor = load_predictor(model_dir, backend)
    app = create_app(predictor, api_key=api_key, limits=limits, max_batch=max_batch,
                     max_wait_ms=max_wait_ms)
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    server = make_server(app, log_level=log_level, keep_alive_s=keep_alive_s)
    shown = f"[{host}]" if ":" in host else host
    print(f"textune serving {model_dir} on http://{shown}:{bound} (docs: /docs"
          f"{', API key required' if api_key else ''})", file=sys.stderr, flush=True)
    with _drain_then_exit_zero():
        server.run(sockets=[sock])
