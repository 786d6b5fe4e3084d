"""The review page in a real headless Chromium: one match accepted by keyboard, one new fish by click, both in the .lgal.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` Python package (never ``playwright
install``: the system browser is used). The screenshot goes to the test's temporary folder, or to the folder
``LATERAL_SCREENSHOTS`` names: ``make screenshots`` refreshes the README's ``docs/review.png`` that way.
"""

import os
import threading
from pathlib import Path

import pytest

from lateral.gallery.review.serve import start_server
from lateral.gallery.store import load_gallery

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install "
                                                            "-e '.[test]')")
if not CHROMIUM.exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)


@pytest.fixture
def server(review_setup):
    gallery_path, inputs, workspace = review_setup
    server, url = start_server(workspace, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, gallery_path, inputs, workspace
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_a_reviewer_accepts_a_match_by_keyboard_and_records_a_new_fish(server, tmp_path):
    url, gallery_path, inputs, workspace = server
    screenshot = Path(os.environ.get("LATERAL_SCREENSHOTS") or tmp_path) / "review.png"
    known, stranger = (sorted(folder.glob("*.jpg"))[0] for folder in inputs)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(20_000)
            page.goto(url)
            assert "0 of 8 decided" in page.inner_text("#progress")
            link = f"a.photo-link:text-is('{known.name}')"
            address = page.get_attribute(link, "href")
            page.click(link)
            page.wait_for_url(f"**{address}")
            first = page.get_attribute('form[data-key="1"] input[name="fish"]', "value")
            page.keyboard.press("1")
            page.wait_for_url(lambda now: not now.endswith(address))
            page.goto(url)
            page.click(f"a.photo-link:text-is('{stranger.name}')")
            page.click("button.new")
            page.wait_for_selector("#progress:has-text('2 of 8 decided')")
            page.goto(url)
            undecided = page.locator("tr:not(.done) a.photo-link").first.get_attribute("href")
            page.goto(url.rstrip("/") + undecided)
            page.wait_for_load_state("networkidle")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    gallery = load_gallery(gallery_path)
    recorded = {Path(e["source"]).name: e["fish_id"] for e in gallery.entries if e["how"] == "confirm"}
    assert recorded == {known.name: first, stranger.name: "new_0001"}
    assert [(Path(d["photo"]).name, d["fish_id"]) for d in gallery.decisions] == [(known.name, first),
                                                                                  (stranger.name, "new_0001")]
