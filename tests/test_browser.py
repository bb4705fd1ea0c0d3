"""End to end: the page in a real headless Chromium (Debian's, driven by Playwright) types a
review, clicks Analyse, and shows the prediction, the heatmap and the gate grid.

Skipped where no Chromium is installed, except under GATEDRNN_REQUIRE_BROWSER=1 (.ci/run sets
it after installing Debian's chromium), where a missing browser fails the run.
"""

import contextlib
import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("GATEDRNN_REQUIRE_BROWSER") == "1"

if CHROMIUM is None and not REQUIRED:
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)


@contextlib.contextmanager
def serving(checkpoint):
    """The app for ``checkpoint`` on a free local port, in a thread; yields its base URL."""
    import uvicorn

    from gatedrnn.serve.app import build

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(build([checkpoint]), host="127.0.0.1", port=port,
                            log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not instance.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def page_at(url: str, errors: list):
    """A headless Chromium page opened at ``url``; the page's script errors go to ``errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/")
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(trained_sentiment):
    with serving(trained_sentiment) as url:
        yield url


def test_page_shows_prediction_heatmap_and_gates(server, trained_sentiment):
    from gatedrnn.sentiment import Predictor

    assert CHROMIUM is not None, "GATEDRNN_REQUIRE_BROWSER=1 but chromium is not installed"
    review = "A great and wonderful film, truly great."
    expected = Predictor.load(trained_sentiment).predict([review])[0]
    errors = []
    with page_at(server, errors) as page:
        page.wait_for_function("document.getElementById('models').textContent.includes('sentiment')")
        page.fill("#review", review)
        page.click("#analyse")
        page.wait_for_selector("#result:not([hidden])")
        assert page.inner_text("#label").lower() == expected["label"]
        confidence = page.inner_text("#confidence")
        assert f"{100 * expected['confidence']:.1f}%" in confidence
        # every class's probability, the most likely first
        rows = [r.inner_text().split("\t")[:2] for r in page.query_selector_all(
            "#probabilities tr")]
        assert [name for name, _ in rows][0] == expected["label"]
        assert {name: share for name, share in rows} == {
            name: f"{100 * p:.1f}%" for name, p in expected["probabilities"].items()}
        tokens = page.query_selector_all("#heatmap .token")
        assert [t.inner_text() for t in tokens] == ["a", "great", "and", "wonderful", "film",
                                                    ",", "truly", "great", "."]
        backgrounds = [t.evaluate("el => getComputedStyle(el).backgroundColor") for t in tokens]
        assert all(b.startswith("rgba(") for b in backgrounds) and len(set(backgrounds)) > 1
        # Gate grid: a column per token, rows for f, i, o of both directions.
        header_cells = page.query_selector_all("#gates th.tok")
        assert len(header_cells) == len(tokens)
        assert len(page.query_selector_all("#gates tr.values")) >= 6
        if os.environ.get("GATEDRNN_SCREENSHOT"):  # e.g. /tmp/page.png, to look at the page
            page.screenshot(path=os.environ["GATEDRNN_SCREENSHOT"], full_page=True)
    assert not errors, errors


def test_page_marks_the_entities_an_entity_tagger_finds(trained_entities):
    from gatedrnn.entities import EntityRecognizer

    text = "Hanne arbejder for Danske Bank.  Erik bor i Vejle."
    (expected,) = EntityRecognizer.load(trained_entities[0]).entities([text])
    assert expected["entities"], "the toy tagger should find entities in this text"
    errors = []
    with serving(trained_entities[0]) as url, page_at(url, errors) as page:
        page.wait_for_selector("#entities-panel:not([hidden])")
        page.fill("#entity-text", text)
        page.click("#find-entities")
        page.wait_for_selector("#entity-text-marked mark.entity")
        marks = page.query_selector_all("#entity-text-marked mark.entity")
        assert [m.inner_text().replace("\n", "") for m in marks] == [
            e["text"] + e["type"] for e in expected["entities"]]
        # the text around the marks is the text as sent
        assert page.inner_text("#entity-text-marked").replace("\n", "").startswith("Hanne")
        assert len(page.query_selector_all("#entity-table tr")) == len(expected["entities"])
    assert not errors, errors
