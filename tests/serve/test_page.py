"""The try-it page (`GET /`) in a real browser: headless Chromium driven by Playwright types
texts, submits from the keyboard and reads the rendered labels; the API key is asked for,
kept for the tab, and errors from the service are shown."""

import shutil

import pytest

from tests.serve.helpers import KEY, LIMITS, serving
from textune.serving.http import create_app

sync_api = pytest.importorskip("playwright.sync_api")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium found (apt-get install chromium) to drive the page")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox"])
        yield browser
        browser.close()


def test_a_person_classifies_texts_in_the_page(topics, browser, tmp_path):
    predictor, texts = topics
    expect = sync_api.expect
    want = [predictor.labels[i] for i in predictor.predict_proba(texts[:3], None).argmax(1)]
    with serving(create_app(predictor, api_key=KEY, limits=LIMITS)) as url:
        page = browser.new_page()
        page.goto(url + "/")
        # the server needs a key: the page says so and opens the key field
        expect(page.locator("#error")).to_contain_text("needs an API key")
        expect(page.locator("#key")).to_be_focused()
        page.locator("#key").fill(KEY)
        page.keyboard.press("Tab")  # leaving the field saves the key and loads the card
        expect(page.locator("#card")).to_contain_text("probe on minilm")
        expect(page.locator("#card")).to_contain_text(", ".join(predictor.labels))
        expect(page.locator("#card")).to_contain_text("18 examples")
        expect(page.locator("#error")).to_be_hidden()

        page.locator("#texts").fill("\n".join(texts[:3]))
        page.locator("#texts").press("Control+Enter")
        expect(page.locator(".result")).to_have_count(3)
        assert page.locator(".result li.chosen .name").all_text_contents() == want
        first = page.locator(".result").first
        assert first.locator(".text").text_content() == texts[0]
        assert first.locator("li").count() == 3  # every label, with its bar
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

        # an error from the service is shown, not swallowed (the limit is 200 characters)
        page.locator("#texts").fill("x" * 300)
        page.locator("#submit").click()
        expect(page.locator("#error")).to_contain_text("the limit is 200")
        # the key is kept for the tab: a reload needs no typing
        page.reload()
        expect(page.locator("#card")).to_contain_text("probe on minilm")
        page.close()
