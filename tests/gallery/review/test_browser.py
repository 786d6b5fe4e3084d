"""The review page in a real headless Chromium: the compare view, a match accepted by keyboard, undone and accepted
again, an unusable photo, the notices, and the queue keeping the suggestion; screenshots at 1400 and 900 px.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` Python package (never ``playwright
install``: the system browser is used). The screenshots go to the test's temporary folder. The README's
``docs/review_*.png`` are taken on the gallery of a ``make demo`` run by the last test, which runs only when
``LATERAL_SCREENSHOTS`` names a folder: ``make screenshots``.
"""

import contextlib
import os
import threading
from pathlib import Path

import pytest

from lateral import demo
from lateral.gallery import commands
from lateral.gallery.fpir_thresholds import calibration_path, fpir_thresholds
from lateral.gallery.review.serve import start_server
from lateral.gallery.review.workspace import ReviewWorkspace
from lateral.gallery.store import load_gallery
from tests.reliability.test_review_server import stop

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install "
                                                            "-e '.[test]')")
if not CHROMIUM.exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)


@contextlib.contextmanager
def serving(workspace):
    server, url = start_server(workspace, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.trigger.pull_trigger(lambda: stop(server))  # in the server's own thread: its loop ends cleanly
        thread.join(timeout=10)


@pytest.fixture
def server(review_setup):
    gallery_path, inputs, workspace = review_setup
    with serving(workspace) as url:
        yield url, gallery_path, inputs, workspace


def test_a_reviewer_compares_decides_undoes_and_sets_a_photo_aside(server, tmp_path):
    url, gallery_path, inputs, workspace = server
    shots = tmp_path
    known, stranger = (sorted(folder.glob("*.jpg"))[0] for folder in inputs)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(url)
            assert "0 of 8 decided" in page.inner_text("#progress")
            link = f"a.photo-link:text-is('{known.name}')"
            address = page.get_attribute(link, "href")
            page.click(link)
            page.wait_for_url(f"**{address}")
            page.wait_for_load_state("networkidle")

            # The compare view: the new photo and the candidate's photo side by side at the same size.
            query, candidate = (page.locator(f"#compare-{side} img").bounding_box() for side in ("query", "candidate"))
            assert query["width"] > 250 and abs(query["y"] - candidate["y"]) < 1 and candidate["x"] > query["x"]
            assert candidate["width"] == pytest.approx(query["width"], abs=0.5)
            assert candidate["height"] == pytest.approx(query["height"], abs=0.5)
            # Legend and every decision above the fold.
            for selector in ("#legend", "button.new", "button.unsure", "#unusable button"):
                box = page.locator(selector).bounding_box()
                assert box["y"] + box["height"] <= 900, selector
            # Candidate strips: photos of the new photo's flank only; the other flank greyed, after them.
            flank = workspace.queue_photos[address.rsplit("/", 1)[1]].photo.flank
            strips = page.locator(".candidate .strip")
            greyed = 0
            for index in range(strips.count()):
                kinds = strips.nth(index).locator(".thumb").evaluate_all(
                    "items => items.map(item => [item.classList.contains('other-flank'), item.dataset.flank])")
                assert [other for other, _ in kinds] == sorted(other for other, _ in kinds)  # greyed ones last
                assert all((seen == flank) != other for other, seen in kinds)
                greyed += sum(other for other, _ in kinds)
            assert greyed  # the synthetic fish show both flanks
            assert page.locator(".candidate").first.locator(".thumb.gave").count() == 1
            suggested = page.inner_text(".candidate .fish-name >> nth=0"), page.inner_text(".score-big >> nth=0")
            page.screenshot(path=str(shots / "review_compare.png"))
            page.set_viewport_size({"width": 900, "height": 900})
            page.screenshot(path=str(shots / "review_compare_900.png"))
            bar = page.locator("header.bar").bounding_box()
            assert bar["height"] < 60  # the top bar does not wrap at 900 px
            page.set_viewport_size({"width": 1400, "height": 900})

            # A decision by keyboard says what it recorded; U takes it back and says so.
            first = page.get_attribute('button[data-key="a"]', "value")
            page.keyboard.press("a")
            page.wait_for_selector(f"#notice:has-text('{known.name} → {first} recorded. U to undo')")
            page.wait_for_load_state()  # the keys' script runs once the page is parsed
            page.keyboard.press("u")
            page.wait_for_selector(f"#notice:has-text('undone: {known.name} is undecided again (was {first})')")
            page.wait_for_load_state()
            page.keyboard.press("a")
            page.wait_for_selector("#progress:has-text('1 of 8 decided')")

            # "Unusable photo", with its reason, on the stranger.
            page.goto(url)
            page.click(f"a.photo-link:text-is('{stranger.name}')")
            page.select_option("#unusable select", "glare or bad light")
            page.fill("#note", "sun on the water")
            page.click("#unusable button")
            said = f"{stranger.name} → unusable photo (glare or bad light) recorded"
            page.wait_for_selector(f"#notice:has-text('{said}')")

            # The queue keeps the suggestion of decision time (not the photo against its own template, 1.000).
            page.goto(url)
            row = page.locator(f"tr:has(a.photo-link:text-is('{known.name}'))")
            best = row.locator(".best").inner_text()
            assert suggested[0] in best and suggested[1] in best
            assert "when decided" in row.locator(".suggestion").inner_text()
            assert row.locator(".recorded a").inner_text().strip() == first
            other = page.locator(f"tr:has(a.photo-link:text-is('{stranger.name}'))")
            assert other.locator(".recorded").inner_text().strip() == "unusable photo (glare or bad light)"
            page.screenshot(path=str(shots / "review_queue.png"), full_page=True)
            page.set_viewport_size({"width": 900, "height": 900})
            page.screenshot(path=str(shots / "review_queue_900.png"))
        finally:
            browser.close()
    gallery = load_gallery(gallery_path)
    recorded = {Path(e["source"]).name: e["fish_id"] for e in gallery.entries if e["how"] == "confirm"}
    assert recorded == {known.name: first}
    # The log only grows: the first acceptance, its undo (a new entry naming it), the acceptance again, the verdict.
    decisions = [(d["id"], d["action"], Path(d["photo"]).name, d["fish_id"], (d["review"] or {}).get("verdict"),
                  d["note"], d["undoes"]) for d in gallery.decisions]
    assert decisions == [
        (1, "confirm", known.name, first, None, "review", None), (2, "undo", known.name, first, None, "review", 1),
        (3, "confirm", known.name, first, None, "review", None),
        (4, "verdict", stranger.name, "", "unusable", "review: sun on the water", None)]
    assert {path.name for path in shots.glob("review_*.png")} >= {"review_compare.png", "review_compare_900.png",
                                                                  "review_queue.png", "review_queue_900.png"}


def test_a_reviewer_merges_two_fish_renames_one_and_undoes_each(server):
    url, gallery_path, _, _ = server
    before = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(url.rstrip("/") + "/fish/fish_003")
            page.select_option("form.merge select[name='into']", "fish_004")
            page.click("form.merge button")
            page.wait_for_url("**/fish/fish_004")
            assert "8 photos" in page.inner_text("h1")
            merged = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
            assert merged == {sha: "fish_004" if fish == "fish_003" else fish for sha, fish in before.items()}
            page.goto(url.rstrip("/") + "/decisions")
            page.click("#decision-1 button")
            page.wait_for_selector("#decision-1:has-text('undone by #2')")
            # Rename on the fish page; U takes it back and returns to the fish under its old name.
            page.goto(url.rstrip("/") + "/fish/fish_002")
            page.fill("form.rename input[name='to']", "tag_17")
            page.click("form.rename button")
            page.wait_for_url("**/fish/tag_17")
            assert page.inner_text("#notice") == "fish_002 renamed tag_17. U to undo"
            assert "fish_002" not in load_gallery(gallery_path).fish_ids()
            page.keyboard.press("u")
            page.wait_for_url("**/fish/fish_002")
            assert page.inner_text("#notice") == "undone: tag_17 is called fish_002 again"
        finally:
            browser.close()
    assert {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries} == before


@pytest.mark.skipif(not os.environ.get("LATERAL_SCREENSHOTS"), reason="the README's screenshots: make screenshots")
def test_the_readme_screenshots_on_the_demo_gallery(tmp_path):
    """The demo's review as its closing lines say (its held-out fish's first session enrolled, the new photos under
    neutral names), in a gallery of its own: the compare view of the first photo, then the queue after two
    acceptances of the suggestion and one unusable photo."""
    model, new_photos = demo.REPO / "checkpoints" / "synthetic_iom", demo.REPO / demo.NEW_PHOTOS
    if not (new_photos.is_dir() and calibration_path(model).is_file()):
        pytest.fail(f"no demo run in {demo.REPO}: run `make demo` first")
    shots = Path(os.environ["LATERAL_SCREENSHOTS"])
    shots.mkdir(parents=True, exist_ok=True)
    gallery_path = tmp_path / "pond.lgal"
    commands.enroll(gallery_path, demo.REPO / "demo_run" / "test_raw" / "session_1", model=model, session="session_1")
    workspace = ReviewWorkspace(gallery_path, [new_photos], fpir_thresholds(calibration_path(model), "hamming"),
                                session="session_2")
    with serving(workspace) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(url)
            page.click("a.photo-link >> nth=0")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / "review_compare.png"))
            for _ in range(2):  # accept the fish shown, twice; the page moves on to the next undecided photo
                page.keyboard.press("a")
                page.wait_for_selector("#notice")
                page.wait_for_load_state()
            page.select_option("#unusable select", "blurred or out of focus")
            page.click("#unusable button")
            page.wait_for_selector("#notice:has-text('unusable photo')")
            page.goto(url)
            page.wait_for_load_state("networkidle")
            assert "3 of" in page.inner_text("#progress")
            page.screenshot(path=str(shots / "review_queue.png"))
        finally:
            browser.close()
