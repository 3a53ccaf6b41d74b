"""Regenerate docs/try-page.png, the README's picture of the try-it page: a 5-topic BBC News
probe (8 articles per topic) served in-process, three headlines typed into the page in
headless Chromium.

    HF_HUB_OFFLINE=1 .venv/bin/python docs/screenshot_page.py
"""

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

from textune import TextClassifier, sample_per_class
from textune.demo import bbc_news
from textune.serving.batch import load_predictor
from textune.serving.http import create_app
from textune.serving.server import bind_socket, make_server

HEADLINES = ["Shares slide as the central bank signals more rate rises",
             "Late penalty sends the champions through to the cup final",
             "New phone chip promises a week of battery life"]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        TextClassifier(method="probe").fit(sample_per_class(bbc_news(), 8, seed=0)).save(
            Path(tmp) / "news")
        sock = bind_socket("127.0.0.1", 0)
        server = make_server(create_app(load_predictor(Path(tmp) / "news")), log_level="warning")
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(url + "/")
            page.locator("#texts").fill("\n".join(HEADLINES))
            page.locator("#texts").press("Control+Enter")
            expect(page.locator(".result")).to_have_count(3)
            out = Path(__file__).with_name("try-page.png")
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        server.should_exit = True
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
