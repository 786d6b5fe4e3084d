"""The review app through Flask's test client: queue, candidates, decisions, undo, moves, and what it refuses."""

import csv
import io
import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from lateral.gallery import commands
from lateral.gallery.review.app import create_app
from lateral.gallery.packing import unpack_codes
from lateral.gallery.review.images import KINDS, display_size, thumbs_folder
from lateral.gallery.review.workspace import ReviewWorkspace
from lateral.gallery.fpir_thresholds import FpirThresholds
from lateral.gallery.search import Thresholds, given_thresholds
from lateral.gallery.store import load_gallery
from tests.gallery.review.conftest import KEY, THRESHOLDS

TOKEN = "test-token-123"
ANY_TIME = "__:__:__"


def timeless(lines):
    return [re.sub(r"^\d\d:\d\d:\d\d ", ANY_TIME + " ", line) for line in lines]


@pytest.fixture
def client(review_setup):
    gallery_path, inputs, workspace = review_setup
    app = create_app(workspace, token=TOKEN)
    return app.test_client(), gallery_path, inputs, workspace


def post(client, url, token=TOKEN, **form):
    return client.post(url, data={**form, **({"token": token} if token else {})}, headers={"Accept": "application/json"})


def test_queue_and_candidates_agree_with_identify(client):
    client, gallery_path, inputs, workspace = client
    expected = commands.identify(gallery_path, inputs, given_thresholds(*THRESHOLDS), key=KEY, top_k=5)["results"]
    gallery = load_gallery(gallery_path)
    codes = unpack_codes(gallery.codes, gallery.m)
    index_of = {entry["sha256"]: index for index, entry in enumerate(gallery.entries)}
    queue = client.get("/api/queue").get_json()
    assert (queue["decided"], queue["total"]) == (0, 8)
    assert (queue["accept"], queue["reject"]) == THRESHOLDS
    by_name = {Path(result["photo"]).name: result for result in expected}
    assert sorted(row["name"] for row in queue["rows"]) == sorted(by_name)
    mixed = 0
    for row in queue["rows"]:
        reference = by_name[row["name"]]
        assert (row["decision"], row["flank"], row["recorded"]) == (reference["decision"], reference["flank"], None)
        best, runner_up = reference["candidates"][:2]
        assert row["suggestion"] == {
            "decision": reference["decision"], "fish_id": best["fish_id"],
            "score": pytest.approx(best["score"], abs=1e-4),
            "runner_up": {"fish_id": runner_up["fish_id"], "score": pytest.approx(runner_up["score"], abs=1e-4)},
            "accept": THRESHOLDS[0], "reject": THRESHOLDS[1], "thresholds": given_thresholds(*THRESHOLDS).source,
            "templates": 24, "fish": reference["fish_searched"]}  # N: the fish of its flank
        page = client.get(f"/api/photo/{row['id']}").get_json()
        assert [(c["fish_id"], c["score"], c["compared"]) for c in page["candidates"]] == [
            (c["fish_id"], pytest.approx(c["score"], abs=1e-4), c["templates"]) for c in reference["candidates"]]
        code = workspace.queue_photos[row["id"]].code
        for candidate in page["candidates"]:
            photos, other = candidate["photos"], candidate["other_flank"]
            assert len(photos) + len(other) == candidate["templates"] == 4  # 4 photos per known fish
            assert {p["flank"] for p in photos} == {row["flank"]} and row["flank"] not in {o["flank"] for o in other}
            mixed += bool(other)
            # Each photo's score is the share of equal codes (IoM Hamming similarity), recomputed here with NumPy;
            # the first is the one that gave the fish its score.
            for shown in photos:
                assert shown["score"] == pytest.approx(np.mean(codes[index_of[shown["id"]]] == code), abs=1e-4)
            assert [p["gave_score"] for p in photos] == [True] + [False] * (len(photos) - 1)
            assert photos[0]["score"] == pytest.approx(candidate["score"], abs=1e-4) == max(p["score"] for p in photos)
        assert page["compare"]["fish_id"] == best["fish_id"] and page["compare"]["photo"]["gave_score"]
    assert mixed  # the synthetic fish show both flanks, so some candidates have photos left out
    needs_person = client.get("/api/queue?show=review").get_json()["rows"]
    assert sorted(r["name"] for r in needs_person) == sorted(n for n, r in by_name.items() if r["decision"] == "review")
    html = client.get("/queue").get_data(as_text=True)
    assert "0 of 8 decided" in html and all(name in html for name in by_name)
    assert KEY not in html and all(KEY not in client.get(f"/photo/{row['id']}").get_data(as_text=True)
                                   for row in queue["rows"])


def test_the_compare_view_steps_through_a_candidates_photos_of_the_same_flank(client):
    client, *_ = client
    row = client.get("/api/queue").get_json()["rows"][0]
    page = client.get(f"/api/photo/{row['id']}").get_json()
    candidate = max(page["candidates"], key=lambda c: len(c["photos"]))
    photos = [p["id"] for p in candidate["photos"]]
    seen, shown = [], None
    for _ in photos:
        asked = {"fish": candidate["fish_id"], **({"shown": shown} if shown else {})}
        compare = client.get(f"/api/photo/{row['id']}", query_string=asked).get_json()["compare"]
        seen.append(compare["photo"]["id"])
        assert (compare["fish_id"], compare["index"], compare["count"]) == (candidate["fish_id"], len(seen),
                                                                            len(photos))
        shown = compare["next"]
    assert seen == photos and shown is None
    # A photo of the other flank, or of nobody, is never put beside the new one: the best photo is shown instead.
    for stranger in [o["id"] for o in candidate["other_flank"]] + ["0" * 64]:
        compare = client.get(f"/api/photo/{row['id']}", query_string={"fish": candidate["fish_id"],
                                                                    "shown": stranger}).get_json()["compare"]
        assert compare["photo"]["id"] == photos[0]
    html = client.get(f"/photo/{row['id']}").get_data(as_text=True)
    assert 'id="compare-query"' in html and 'id="compare-candidate"' in html and "match-lines" not in html


def test_match_lines_from_a_matcher_are_drawn_between_the_two_rois(client):
    client, _, _, workspace = client
    pairs = [((0.1, 0.2), (0.3, 0.4)), ((0.5, 1.0), (0.0, 0.5))]
    asked = []
    workspace.match_lines = lambda photo, entry: asked.append((photo.sha256, entry["sha256"])) or pairs
    row = client.get("/api/queue").get_json()["rows"][0]
    page = client.get(f"/api/photo/{row['id']}").get_json()
    assert asked == [(row["id"], page["compare"]["photo"]["id"])]
    assert page["compare"]["lines"] == [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 1.0], [0.0, 0.5]]]
    html = client.get(f"/photo/{row['id']}").get_data(as_text=True)
    # The SVG spans both ROIs (2 wide, 32/64 high): a point (x, y) of the right ROI is at (1 + x, y * 0.5).
    assert 'viewBox="0 0 2 0.5"' in html
    assert '<line x1="0.1" y1="0.1" x2="1.3" y2="0.2"/>' in html
    assert '<line x1="0.5" y1="0.5" x2="1.0" y2="0.25"/>' in html


def test_decide_undo_and_history_reach_the_gallery_file(client, capsys):
    client, gallery_path, inputs, _ = client
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    known = sorted(p.name for p in inputs[0].glob("*.jpg"))[0]
    stranger = sorted(p.name for p in inputs[1].glob("*.jpg"))[0]

    before = gallery_path.read_bytes()
    assert post(client, f"/photo/{rows[known]['id']}/decide", token=None, fish="fish_000").status_code == 403
    assert post(client, f"/photo/{rows[known]['id']}/decide", token="wrong", fish="fish_000").status_code == 403
    assert client.get(f"/photo/{rows[known]['id']}/decide").status_code == 405
    assert gallery_path.read_bytes() == before

    candidates_before = client.get(f"/api/photo/{rows[known]['id']}").get_json()["candidates"]
    answer = post(client, f"/photo/{rows[known]['id']}/decide", fish="fish_000", note="  spot  by the gill ")
    assert answer.status_code == 200 and answer.get_json()["fish_id"] == "fish_000"
    assert answer.get_json()["message"] == f"{known} → fish_000 recorded. U to undo"
    stranger_suggestion = {r["name"]: r for r in client.get("/api/queue").get_json()["rows"]}[stranger]["suggestion"]
    assert stranger_suggestion["templates"] == 25  # the known photo is in the gallery now
    answer = post(client, f"/photo/{rows[stranger]['id']}/decide", fish="new")
    assert answer.get_json() == {**answer.get_json(), "fish_id": "new_0001", "new_fish": True}
    assert answer.get_json()["message"] == f"{stranger} → new_0001 (a new fish) recorded. U to undo"
    assert timeless(capsys.readouterr().out.splitlines())[-2:] == [
        f"{ANY_TIME} {known} → fish_000 recorded. U to undo",
        f"{ANY_TIME} {stranger} → new_0001 (a new fish) recorded. U to undo"]
    # The decided photo is never ranked against its own template: its candidates are those before the decision.
    assert client.get(f"/api/photo/{rows[known]['id']}").get_json()["candidates"] == candidates_before
    # The suggestion of decision time stays with the decision (in the gallery) and in the queue.
    queue = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    assert queue[known]["suggestion"] == rows[known]["suggestion"] and queue[known]["suggestion_kept"]
    assert queue[stranger]["suggestion"] == stranger_suggestion and queue[stranger]["suggestion_kept"]
    assert queue[known]["recorded"] == {"kind": "fish", "fish_id": "fish_000", "label": "fish_000"}
    gallery = load_gallery(gallery_path)
    added = {Path(e["source"]).name: e for e in gallery.entries if e["how"] == "confirm"}
    assert {name: (e["fish_id"], e["session"]) for name, e in added.items()} == {
        known: ("fish_000", "session_2"), stranger: ("new_0001", "session_2")}
    assert [(Path(d["photo"]).name, d["fish_id"], d["new_fish"], d["note"]) for d in gallery.decisions] == [
        (known, "fish_000", False, "review: spot by the gill"), (stranger, "new_0001", True, "review")]
    assert [d["review"] for d in gallery.decisions] == [{"suggestion": rows[known]["suggestion"]},
                                                        {"suggestion": stranger_suggestion}]
    history = list(csv.reader(io.StringIO(client.get("/history.csv").get_data(as_text=True))))
    assert history[0] == ["fish_id", "session_1", "session_2", "ch"]
    assert ["fish_000", "1", "1", "11"] in history and ["new_0001", "0", "1", "01"] in history
    commands.history(gallery_path, gallery_path.with_name("cli.csv"))
    assert list(csv.reader(open(gallery_path.with_name("cli.csv")))) == history
    assert client.get("/api/queue").get_json()["decided"] == 2

    # A decision on a photo already enrolled under another fish is refused and changes nothing.
    before = gallery_path.read_bytes()
    refused = post(client, f"/photo/{rows[stranger]['id']}/decide", fish="fish_003")
    assert refused.status_code == 409 and "already enrolled as fish new_0001" in refused.get_json()["error"]
    assert gallery_path.read_bytes() == before

    undone = post(client, "/undo").get_json()
    assert undone["photo"] == stranger and undone["message"] == f"undone: {stranger} is undecided again (was new_0001)"
    gallery = load_gallery(gallery_path)
    assert "new_0001" not in gallery.fish_ids() and len(gallery) == 25
    assert [(d["action"], d["undoes"]) for d in gallery.decisions] == [("confirm", None), ("confirm", None),
                                                                       ("undo", 2)]  # the log only grows
    assert post(client, "/undo").get_json()["photo"] == known
    assert len(load_gallery(gallery_path)) == 24
    nothing = post(client, "/undo")
    assert nothing.status_code == 404 and "nothing to undo" in nothing.get_json()["error"]


def test_unusable_and_cant_tell_are_recorded_without_enrolling_the_photo(client):
    client, gallery_path, inputs, _ = client
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    blurred, unsure = (sorted(p.name for p in folder.glob("*.jpg"))[0] for folder in inputs)
    before = gallery_path.read_bytes()
    for form in ({"verdict": "unusable"}, {"verdict": "unusable", "reason": "bad"}, {"verdict": "sharp"},
                 {"verdict": "unsure", "fish": "fish_001"}):
        assert post(client, f"/photo/{rows[blurred]['id']}/decide", **form).status_code == 409, form
    assert gallery_path.read_bytes() == before

    answer = post(client, f"/photo/{rows[blurred]['id']}/decide", verdict="unusable", reason="blurred or out of focus",
                  note="motion blur").get_json()
    assert answer["message"] == f"{blurred} → unusable photo (blurred or out of focus) recorded. U to undo"
    post(client, f"/photo/{rows[unsure]['id']}/decide", verdict="unsure")
    gallery = load_gallery(gallery_path)
    assert len(gallery) == 24  # nothing enrolled
    assert [(d["action"], Path(d["photo"]).name, d["fish_id"], d["review"].get("verdict"), d["review"].get("reason"),
             d["note"], d["before"], d["after"]) for d in gallery.decisions] == [
        ("verdict", blurred, "", "unusable", "blurred or out of focus", "review: motion blur", {}, {}),
        ("verdict", unsure, "", "unsure", None, "review", {}, {})]
    assert all(d["review"]["suggestion"] == rows[name]["suggestion"]
               for d, name in zip(gallery.decisions, (blurred, unsure)))
    queue = client.get("/api/queue").get_json()
    recorded = {row["name"]: row["recorded"] for row in queue["rows"]}
    assert recorded[blurred] == {"kind": "unusable", "fish_id": None,
                                 "label": "unusable photo (blurred or out of focus)"}
    assert recorded[unsure] == {"kind": "unsure", "fish_id": None, "label": "can't tell"}
    assert queue["decided"] == 2
    assert blurred not in [r["name"] for r in client.get("/api/queue?show=open").get_json()["rows"]]
    assert "unusable photo (blurred or out of focus)" in client.get("/queue").get_data(as_text=True)

    # A photo set aside as "can't tell" can still be decided; undo takes back one decision at a time.
    assert post(client, f"/photo/{rows[unsure]['id']}/decide", fish="fish_003").get_json()["fish_id"] == "fish_003"
    assert post(client, "/undo").get_json()["message"] == f"undone: {unsure} is undecided again (was fish_003)"
    assert {r["name"]: r["recorded"] for r in client.get("/api/queue").get_json()["rows"]}[unsure]["kind"] == "unsure"
    assert post(client, "/undo").get_json()["message"] == f"undone: {unsure} is undecided again (was can't tell)"
    assert post(client, "/undo").get_json()["message"] == (f"undone: {blurred} is undecided again "
                                                           "(was unusable photo (blurred or out of focus))")
    assert client.get("/api/queue").get_json()["decided"] == 0
    # Every decision is undone by a later entry of the log, which only grew.
    log = load_gallery(gallery_path).decisions
    assert [(d["id"], d["action"], d["undoes"]) for d in log] == [
        (1, "verdict", None), (2, "verdict", None), (3, "confirm", None), (4, "undo", 3), (5, "undo", 2), (6, "undo", 1)]


def test_the_page_after_a_change_says_what_was_recorded_and_the_server_logs_no_requests(client, capsys):
    client, _, inputs, _ = client
    assert logging.getLogger("werkzeug").getEffectiveLevel() >= logging.WARNING  # no line per request
    row = client.get("/api/queue").get_json()["rows"][0]
    page = client.post(f"/photo/{row['id']}/decide", data={"token": TOKEN, "fish": "fish_002"}, follow_redirects=True)
    assert f"{row['name']} → fish_002 recorded. U to undo" in page.get_data(as_text=True)
    assert 'id="notice"' not in client.get("/queue").get_data(as_text=True)  # said once
    page = client.post("/undo", data={"token": TOKEN}, follow_redirects=True)
    assert f"undone: {row['name']} is undecided again (was fish_002)" in page.get_data(as_text=True)
    assert len(capsys.readouterr().out.splitlines()) == 2  # one line per change


def test_a_confirm_from_the_command_line_shows_at_once(client, monkeypatch):
    client, gallery_path, inputs, _ = client
    photo = sorted(inputs[0].glob("*.jpg"))[1]
    commands.confirm(gallery_path, photo, "fish_000", key=KEY, session="session_2")
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    assert rows[photo.name]["recorded"]["fish_id"] == "fish_000" and not rows[photo.name]["suggestion_kept"]
    assert photo.name not in [row["name"] for row in client.get("/api/queue?show=open").get_json()["rows"]]


def test_fish_page_moves_a_photo_and_undo_moves_it_back(client):
    client, gallery_path, _, _ = client
    page = client.get("/api/fish/fish_002").get_json()
    entries = [e for _, sessions in page["flanks"] for _, session in sessions for e in session]
    assert page["templates"] == len(entries) == 4 and "fish_002" not in page["other_fish"]
    flanks = {e["sha256"]: e["flank"] for e in load_gallery(gallery_path).entries if e["fish_id"] == "fish_002"}
    assert [flank for flank, _ in page["flanks"]] == sorted(set(flanks.values()))
    assert all(e["flank"] == flank for flank, sessions in page["flanks"] for _, session in sessions for e in session)
    moved = post(client, f"/entry/{entries[0]['id']}/move", fish="fish_005").get_json()
    assert moved == {"photo": entries[0]["name"], "from": "fish_002", "fish_id": "fish_005", "new_fish": False,
                     "message": f"{entries[0]['name']} moved from fish_002 to fish_005. U to undo"}
    gallery = load_gallery(gallery_path)
    assert [e["fish_id"] for e in gallery.entries if e["sha256"] == entries[0]["id"]] == ["fish_005"]
    assert gallery.decisions[-1]["note"] == "review: moved from fish_002"
    assert client.get("/api/fish/fish_002").get_json()["templates"] == 3
    undone = post(client, "/undo").get_json()["message"]
    assert undone == f"undone: {entries[0]['name']} is back in fish_002 (was fish_005)"
    assert [e["fish_id"] for e in load_gallery(gallery_path).entries if e["sha256"] == entries[0]["id"]] == ["fish_002"]
    html = client.get("/fish/fish_002").get_data(as_text=True)
    assert html.count('action="/entry/') == 4 and "<h3>session_1</h3>" in html
    # Move never defaults to splitting the photo off as a new fish: nothing is chosen until a fish is picked.
    assert html.count('<option value="" selected disabled>') == 4 and 'value="new" selected' not in html


def test_the_fish_list_finds_fish_by_id(client):
    client, gallery_path, _, _ = client
    everything = client.get("/api/fish").get_json()
    assert [f["fish_id"] for f in everything["fish"]] == load_gallery(gallery_path).fish_ids()
    assert everything["count"] == everything["found"] == 6
    assert [(f["fish_id"], f["templates"]) for f in client.get("/api/fish?search=H_00").get_json()["fish"]] == [
        (f"fish_00{i}", 4) for i in range(6)]
    assert [f["fish_id"] for f in client.get("/api/fish?search=fish_003").get_json()["fish"]] == ["fish_003"]
    assert "No fish id contains" in client.get("/fish?search=zebra").get_data(as_text=True)


def test_merge_two_fish_then_undo_an_earlier_decision_by_its_number(client):
    client, gallery_path, inputs, _ = client
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    known = sorted(p.name for p in inputs[0].glob("*.jpg"))[0]
    post(client, f"/photo/{rows[known]['id']}/decide", fish="fish_000")
    before = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
    merged = post(client, "/fish/fish_001/merge", into="fish_002").get_json()
    assert merged == {"decision": 2, "fish": "fish_001", "into": "fish_002", "photos": 4,
                      "message": "fish_001 merged into fish_002 (4 photos). U to undo"}
    after = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
    assert after == {sha: "fish_002" if fish == "fish_001" else fish for sha, fish in before.items()}
    assert client.get("/api/fish/fish_002").get_json()["templates"] == 8
    log = client.get("/api/decisions").get_json()["decisions"]
    assert [(d["id"], d["action"], d["photos"]) for d in log] == [(2, "merge", 4), (1, "confirm", 1)]
    # Undo the confirm (decision 1), not the last decision: the merge stays.
    undone = post(client, "/undo", decision="1").get_json()
    assert (undone["undoes"], undone["photo"]) == (1, known)
    gallery = load_gallery(gallery_path)
    assert rows[known]["id"] not in [e["sha256"] for e in gallery.entries] and "fish_001" not in gallery.fish_ids()
    assert post(client, "/undo", decision="2").get_json()["undoes"] == 2
    assert {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries} == {
        sha: fish for sha, fish in before.items() if sha != rows[known]["id"]}
    refused = post(client, "/undo", decision="2")
    assert refused.status_code == 409 and "already undone by decision 4" in refused.get_json()["error"]
    assert post(client, "/fish/fish_001/merge", into="fish_001").status_code == 409


def test_images_are_cut_cached_and_only_for_registered_photos(client):
    client, gallery_path, _, workspace = client
    row = client.get("/api/queue").get_json()["rows"][0]
    roi = client.get(f"/image/{row['id']}/roi")
    assert roi.status_code == 200 and roi.headers["Content-Type"] == "image/png"
    pixels = cv2.imdecode(np.frombuffer(roi.data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape[:2] == display_size((32, 64)) == (400, 800)
    photo = client.get(f"/image/{row['id']}/photo")
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (360, 480)
    assert (thumbs_folder(gallery_path) / f"{row['id']}{KINDS['roi']}").read_bytes() == roi.data
    assert (thumbs_folder(gallery_path) / f"{row['id']}{KINDS['photo']}").read_bytes() == photo.data
    # An enrolled photo whose source has moved: said in the image and on the fish page.
    entry = load_gallery(gallery_path).entries[0]
    source = Path(entry["source"])
    source.rename(source.with_suffix(".moved"))
    try:
        missing = client.get(f"/image/{entry['sha256']}/roi")
        assert missing.status_code == 404 and b"source photo missing" in missing.data and b"not found" in missing.data
        assert "source photo moved" in client.get(f"/fish/{entry['fish_id']}").get_data(as_text=True)
    finally:
        source.with_suffix(".moved").rename(source)
    # Nothing but registered ids: no paths, no unknown hashes, no other kinds.
    for url in ["/image/" + "0" * 64 + "/roi", f"/image/{row['id']}/source", "/image/..%2F..%2Fetc%2Fpasswd/roi",
                "/image/%2Fetc%2Fpasswd/photo", "/photo/" + "1" * 64, "/fish/no_such_fish", "/queue?show=everything"]:
        assert client.get(url).status_code == 404, url


def test_requests_for_another_host_are_refused(client):
    client, *_ = client
    assert client.get("/queue", headers={"Host": "attacker.example:8765"}).status_code == 403
    assert client.get("/queue", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    page = client.get("/queue")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_review_command_refuses_a_missing_gallery_or_input(tmp_path, capsys):
    from lateral.gallery.__main__ import main

    assert main(["review", "--gallery", str(tmp_path / "none.lgal"), "--input", str(tmp_path),
                 "--threshold", "0.9", "--no_browser"]) == 2
    assert f"{tmp_path / 'none.lgal'}: no such gallery" in capsys.readouterr().err


def test_photos_that_match_none_of_their_fishs_others_are_flagged(client, monkeypatch):
    client, gallery_path, _, workspace = client
    gallery = load_gallery(gallery_path)
    codes = unpack_codes(gallery.codes, gallery.m)
    # Reference: each photo's best share of equal codes against its fish's other photos of the same flank (NumPy).
    best = {}
    for index, entry in enumerate(gallery.entries):
        others = [j for j, other in enumerate(gallery.entries) if j != index and other["fish_id"] == entry["fish_id"]
                  and other["flank"] == entry["flank"]]
        if others:
            best[entry["sha256"]] = max(np.mean(codes[j] == codes[index]) for j in others)
    levels = sorted(set(best.values()))
    reject = (levels[0] + levels[1]) / 2 if len(levels) > 1 else levels[0] + 1e-3  # some photos fall below it
    monkeypatch.setattr(workspace, "thresholds", given_thresholds(0.99, reject))
    expected = {sha for sha, score in best.items() if score < reject}
    flagged = set()
    for fish_id in gallery.fish_ids():
        page = client.get(f"/api/fish/{fish_id}").get_json()
        views = [e for _, sessions in page["flanks"] for _, session in sessions for e in session]
        for view in views:
            if view["odd"] is not None:
                flagged.add(view["id"])
                assert view["odd"] == pytest.approx(best[view["id"]], abs=1e-4)
        assert page["odd_photos"] == sum(view["odd"] is not None for view in views)
    assert flagged == expected and expected
    fish_id = next(e["fish_id"] for e in gallery.entries if e["sha256"] in expected)
    assert "matches none of the others" in client.get(f"/fish/{fish_id}").get_data(as_text=True)


def test_an_acceptance_whose_runner_up_came_close_is_flagged(client):
    _, _, _, workspace = client
    queued = workspace.queue_photos[workspace.order[0]]
    recorded = {"kind": "fish", "fish_id": "fish_000", "label": "fish_000"}
    kept = {"fish_id": "fish_000", "score": 0.80, "runner_up": {"fish_id": "fish_001", "score": 0.76}}
    assert workspace.flags(queued, recorded, kept) == ["close call: runner-up fish_001 scored 0.760"]
    assert workspace.flags(queued, recorded, {**kept, "runner_up": {"fish_id": "fish_001", "score": 0.74}}) == []
    assert workspace.flags(queued, {**recorded, "fish_id": "fish_001"}, kept) == []  # the runner-up was chosen
    assert workspace.flags(queued, None, kept) == []


def test_every_page_names_the_favicon_and_it_is_served(client):
    client, *_ = client
    page = client.get("/queue").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    answer = client.get("/favicon.ico", follow_redirects=True)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("image/svg+xml")
    assert answer.get_data(as_text=True).startswith("<svg")


class PerFish:
    """A hand-made family of thresholds sized to N: accept at 0.1 N, new below 0.08 N; records each N asked for."""

    source = "0.1 N"

    def __init__(self):
        self.asked = []

    def for_fish(self, n_fish):
        self.asked.append(n_fish)
        return Thresholds(0.1 * n_fish, 0.08 * n_fish, f"N = {n_fish}")


def test_the_suggestion_uses_the_thresholds_sized_to_the_fish_searched(client, monkeypatch):
    client, gallery_path, inputs, workspace = client
    monkeypatch.setattr(workspace, "thresholds", PerFish())
    fish_of_flank = {}
    for entry in load_gallery(gallery_path).entries:
        fish_of_flank.setdefault(entry["flank"], set()).add(entry["fish_id"])
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    for row in rows.values():
        n, suggestion = len(fish_of_flank.get(row["flank"], ())), row["suggestion"]
        accept, reject = 0.1 * n, 0.08 * n
        assert (suggestion["fish"], suggestion["thresholds"]) == (n, f"N = {n}")
        assert (suggestion["accept"], suggestion["reject"]) == (pytest.approx(accept), pytest.approx(reject))
        score, tie = suggestion["score"], suggestion["runner_up"]["score"] == suggestion["score"]
        expected = "match" if score >= accept and not tie else "new" if score < reject else "review"
        assert row["decision"] == expected
    # A photo decided as a new fish is searched against the others only: N leaves its own template out.
    stranger = rows[sorted(p.name for p in inputs[1].glob("*.jpg"))[0]]
    post(client, f"/photo/{stranger['id']}/decide", fish="new")
    n = len(fish_of_flank.get(stranger["flank"], ()))
    page = client.get(f"/api/photo/{stranger['id']}").get_json()
    assert (page["accept"], page["thresholds"]) == (pytest.approx(0.1 * n), f"N = {n}")


def test_a_tie_at_the_top_is_suggested_for_review_not_as_a_match(client, monkeypatch):
    _, _, _, workspace = client
    queued = workspace.queue_photos[workspace.order[0]]
    monkeypatch.setattr(workspace, "thresholds", given_thresholds(0.8, 0.5))
    monkeypatch.setattr(workspace, "ranked", lambda queued, at_least=1: [("fish_001", 0.9, 4), ("fish_004", 0.9, 4)])
    assert workspace.suggestion(queued)["decision"] == "review"  # both above accept: a person chooses
    monkeypatch.setattr(workspace, "ranked", lambda queued, at_least=1: [("fish_001", 0.9, 4), ("fish_004", 0.89, 4)])
    assert workspace.suggestion(queued)["decision"] == "match"


def test_every_page_works_with_the_default_fpir_thresholds(client, monkeypatch):
    """FpirThresholds (what ``review`` uses by default) has no single accept threshold: every page asks for N's."""
    client, gallery_path, _, workspace = client
    impostors = np.random.default_rng(0).uniform(0.2, 0.6, 5000)
    thresholds = FpirThresholds(impostors, 0.01, 0.1, "test scores")
    monkeypatch.setattr(workspace, "thresholds", thresholds)
    queue = client.get("/api/queue").get_json()
    assert queue["accept"] == pytest.approx(thresholds.for_fish(6).accept)  # the whole gallery: 6 fish
    for row in queue["rows"]:
        sized = thresholds.for_fish(row["suggestion"]["fish"])
        assert (row["suggestion"]["accept"], row["suggestion"]["reject"]) == (pytest.approx(sized.accept),
                                                                            pytest.approx(sized.reject))
    photo = queue["rows"][0]["id"]
    for url in ("/queue", f"/photo/{photo}", f"/api/photo/{photo}", "/fish", "/fish/fish_001", "/api/fish/fish_001",
                "/decisions"):
        assert client.get(url).status_code == 200, url


def test_fish_page_renames_a_fish_and_splits_photos_off_each_undone(client):
    client, gallery_path, _, workspace = client
    before = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
    html = client.get("/fish/fish_003").get_data(as_text=True)
    assert 'action="/fish/fish_003/rename"' in html and 'action="/fish/fish_003/split"' in html
    assert html.count('type="checkbox" name="photo"') == 4
    renamed = post(client, "/fish/fish_003/rename", to="tag_17").get_json()
    assert renamed["message"] == "fish_003 renamed tag_17. U to undo"
    gallery = load_gallery(gallery_path)
    assert {e["sha256"]: e["fish_id"] for e in gallery.entries} == {
        sha: "tag_17" if fish == "fish_003" else fish for sha, fish in before.items()}
    assert (gallery.decisions[-1]["action"], gallery.decisions[-1]["reviewer"]) == ("rename", workspace.reviewer)
    assert client.get("/api/fish/tag_17").get_json()["templates"] == 4
    assert post(client, "/undo").get_json()["message"] == "undone: tag_17 is called fish_003 again"
    assert {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries} == before
    # Split two photos of fish_002 off as the next free id, then undo it by its number.
    two = sorted(sha for sha, fish in before.items() if fish == "fish_002")[:2]
    split = client.post("/fish/fish_002/split", data={"token": TOKEN, "photo": two, "to": ""},
                        headers={"Accept": "application/json"}).get_json()
    assert (split["fish_id"], split["photos"]) == ("new_0001", 2)
    assert split["message"] == "2 photos of fish_002 split off as new_0001 (a new fish). U to undo"
    assert {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries} == {
        sha: "new_0001" if sha in two else fish for sha, fish in before.items()}
    log = client.get("/api/decisions").get_json()["decisions"]
    assert [(d["action"], d["photos"]) for d in log] == [("split", 2), ("undo", 4), ("rename", 4)]
    undone = post(client, "/undo", decision=str(log[0]["id"])).get_json()
    assert undone["message"] == "undone: the 2 photos split off as new_0001 are back in fish_002"
    assert {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries} == before
    # Refused in one sentence, nothing written: a name taken, a name a spreadsheet would read as a formula, no photo.
    for url, form, said in (("/fish/fish_003/rename", {"to": "fish_004"}, "already has a fish fish_004"),
                            ("/fish/fish_003/rename", {"to": "=SUM(A1)"}, "spreadsheet would read it as a formula"),
                            ("/fish/fish_003/split", {}, "tick the photos of fish_003")):
        refused = post(client, url, **form)
        assert refused.status_code == 409 and said in refused.get_json()["error"]
    assert len(load_gallery(gallery_path).decisions) == 4


def test_each_view_answers_html_or_json_as_the_request_prefers(client):
    client, _, _, _ = client
    for url in ("/queue", "/fish", "/fish/fish_001", "/decisions"):
        page = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.content_type.startswith("text/html") and "<html" in page.get_data(as_text=True)
        asked = client.get(url, headers={"Accept": "application/json"})
        assert asked.content_type == "application/json" and asked.get_json() == client.get("/api" + url).get_json()
    missing = client.get("/fish/fish_999", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.get_json() == {"error": f"no fish fish_999 in "
                                                                          f"{client.application.config['WORKSPACE'].gallery_path}"}


CAPTURES = r"(?P<capture>fish_\d+)_session_2_0[01]"  # fish_000's _00 (left) and _01 (right) are one capture


def test_the_queue_shows_each_captures_flank_vote_as_identify_decides_it(review_setup, monkeypatch):
    gallery_path, inputs, _ = review_setup
    workspace = ReviewWorkspace(gallery_path, inputs, given_thresholds(*THRESHOLDS), key=KEY, session="session_2",
                                capture_pattern=CAPTURES)
    client = create_app(workspace, token=TOKEN).test_client()
    expected = {Path(result["photo"]).name: result for result in commands.identify(
        gallery_path, inputs, given_thresholds(*THRESHOLDS), key=KEY, capture_pattern=CAPTURES)["results"]}
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    members = {"fish_000": ["fish_000_session_2_00.jpg", "fish_000_session_2_01.jpg"],
               "fish_007": ["fish_007_session_2_00.jpg", "fish_007_session_2_01.jpg"]}
    for name, row in rows.items():
        capture = next((capture for capture, names in members.items() if name in names), None)
        if capture is None:
            assert row["capture"] is None and expected[name]["capture"] is None
            continue
        reference = expected[name]
        assert (row["capture"]["id"], row["capture"]["decision"], row["capture"]["fish_id"]) == (
            capture, reference["capture_decision"], reference["capture_fish"])
        assert [other["name"] for other in row["capture"]["photos"]] == [other for other in members[capture]
                                                                          if other != name]
    # A hand-made case: fish_000's left flank matches fish_001, its right flank fish_004 with a higher score; every
    # known fish has both flanks, so the capture goes to review with fish_004 and its flanks disagree.
    gallery = load_gallery(gallery_path)
    assert {(e["fish_id"], e["flank"]) for e in gallery.entries} >= {("fish_001", "left"), ("fish_004", "left"),
                                                                      ("fish_001", "right"), ("fish_004", "right")}
    left, right = (rows[name] for name in members["fish_000"])
    firsts = {left["id"]: ("fish_001", 0.995), right["id"]: ("fish_004", 0.997)}
    monkeypatch.setattr(workspace, "ranked", lambda queued, at_least=1: [
        (*firsts.get(queued.id, ("fish_002", 0.3)), 4), ("fish_005", 0.2, 4)])
    queue = client.get("/api/queue").get_json()
    captured = {row["name"]: row["capture"] for row in queue["rows"]}
    for name in members["fish_000"]:
        assert {key: captured[name][key] for key in ("id", "decision", "fish_id", "flanks_disagree", "summary")} == {
            "id": "fish_000", "decision": "review", "fish_id": "fish_004", "flanks_disagree": True,
            "summary": "review (best match fish_004; the flanks disagree)"}
    for name in members["fish_007"]:  # both new: the capture is new
        assert (captured[name]["decision"], captured[name]["fish_id"], captured[name]["flanks_disagree"]) == (
            "new", None, False)
    page = client.get(f"/api/photo/{left['id']}").get_json()
    assert page["capture"] == captured[left["name"]]
    html = client.get("/queue").get_data(as_text=True)
    assert html.count("capture fish_000: review (best match fish_004; the flanks disagree)") == 2
    assert 'id="capture"' in client.get(f"/photo/{left['id']}").get_data(as_text=True)
    # Both flanks find fish_004: the capture matches it.
    firsts[left["id"]] = ("fish_004", 0.991)
    captured = {row["name"]: row["capture"] for row in client.get("/api/queue").get_json()["rows"]}
    assert [(captured[name]["decision"], captured[name]["fish_id"], captured[name]["flanks_disagree"])
            for name in members["fish_000"]] == [("match", "fish_004", False)] * 2


def test_review_on_the_command_line_groups_the_photos_by_its_capture_pattern(review_setup, monkeypatch):
    """`lateral gallery review --capture_pattern` reaches the page: the served workspace's capture of each photo is
    the one the pattern names in its file name (worked out by hand from CAPTURES)."""
    from lateral.gallery.__main__ import main

    gallery_path, inputs, _ = review_setup
    served = []
    monkeypatch.setattr("lateral.gallery.review.serve.serve", lambda workspace, *where: served.append(workspace) or 0)
    assert main(["review", "--gallery", str(gallery_path), "--input", *map(str, inputs), "--key", KEY,
                 "--session", "session_2", "--threshold", str(THRESHOLDS[0]), "--review_threshold",
                 str(THRESHOLDS[1]), "--capture_pattern", CAPTURES, "--no_browser"]) == 0
    workspace, = served
    captures = {queued.name: workspace.capture_ids[photo_id] for photo_id, queued in workspace.queue_photos.items()}
    expected = {f"{fish}_session_2_0{i}.jpg": fish if i < 2 else None for fish in ("fish_000", "fish_007")
                for i in range(4)}
    assert captures == expected
