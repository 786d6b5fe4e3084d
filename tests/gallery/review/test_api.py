"""The review app through Flask's test client: queue, candidates, decisions, undo, moves, and what it refuses."""

import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from lateral.gallery import commands
from lateral.gallery.review.app import create_app
from lateral.gallery.review.images import display_size, thumbs_folder
from lateral.gallery.search import given_thresholds
from lateral.gallery.store import load_gallery
from tests.gallery.review.conftest import KEY, THRESHOLDS

TOKEN = "test-token-123"


@pytest.fixture
def client(review_setup):
    gallery_path, inputs, workspace = review_setup
    app = create_app(workspace, token=TOKEN)
    return app.test_client(), gallery_path, inputs, workspace


def post(client, url, token=TOKEN, **form):
    return client.post(url, data={**form, **({"token": token} if token else {})}, headers={"Accept": "application/json"})


def test_queue_and_candidates_agree_with_identify(client):
    client, gallery_path, inputs, _ = client
    expected = commands.identify(gallery_path, inputs, given_thresholds(*THRESHOLDS), key=KEY, top_k=5)["results"]
    queue = client.get("/api/queue").get_json()
    assert (queue["decided"], queue["total"]) == (0, 8)
    by_name = {Path(result["photo"]).name: result for result in expected}
    assert sorted(row["name"] for row in queue["rows"]) == sorted(by_name)
    for row in queue["rows"]:
        reference = by_name[row["name"]]
        assert (row["decision"], row["flank"], row["recorded"]) == (reference["decision"], reference["flank"], None)
        page = client.get(f"/api/photo/{row['id']}").get_json()
        assert [(c["fish_id"], c["score"], c["compared"]) for c in page["candidates"]] == [
            (c["fish_id"], pytest.approx(c["score"], abs=1e-4), c["templates"]) for c in reference["candidates"]]
        assert all(len(c["entries"]) == c["templates"] == 4 for c in page["candidates"])  # 4 photos per known fish
    needs_person = client.get("/api/queue?show=review").get_json()["rows"]
    assert sorted(r["name"] for r in needs_person) == sorted(n for n, r in by_name.items() if r["decision"] == "review")
    html = client.get("/queue").get_data(as_text=True)
    assert "0 of 8 decided" in html and all(name in html for name in by_name)
    assert KEY not in html and all(KEY not in client.get(f"/photo/{row['id']}").get_data(as_text=True)
                                   for row in queue["rows"])


def test_decide_undo_and_history_reach_the_gallery_file(client):
    client, gallery_path, inputs, _ = client
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    known = sorted(p.name for p in inputs[0].glob("*.jpg"))[0]
    stranger = sorted(p.name for p in inputs[1].glob("*.jpg"))[0]

    before = gallery_path.read_bytes()
    assert post(client, f"/photo/{rows[known]['id']}/decide", token=None, fish="fish_000").status_code == 403
    assert post(client, f"/photo/{rows[known]['id']}/decide", token="wrong", fish="fish_000").status_code == 403
    assert client.get(f"/photo/{rows[known]['id']}/decide").status_code == 405
    assert gallery_path.read_bytes() == before

    answer = post(client, f"/photo/{rows[known]['id']}/decide", fish="fish_000")
    assert answer.status_code == 200 and answer.get_json()["fish_id"] == "fish_000"
    answer = post(client, f"/photo/{rows[stranger]['id']}/decide", fish="new")
    assert answer.get_json() == {**answer.get_json(), "fish_id": "new_0001", "new_fish": True}
    gallery = load_gallery(gallery_path)
    added = {Path(e["source"]).name: e for e in gallery.entries if e["how"] == "confirm"}
    assert {name: (e["fish_id"], e["session"]) for name, e in added.items()} == {
        known: ("fish_000", "session_2"), stranger: ("new_0001", "session_2")}
    assert [(Path(d["photo"]).name, d["fish_id"], d["new_fish"]) for d in gallery.decisions] == [
        (known, "fish_000", False), (stranger, "new_0001", True)]
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
    assert undone["photo"] == stranger
    gallery = load_gallery(gallery_path)
    assert "new_0001" not in gallery.fish_ids() and len(gallery) == 25
    assert [(d["action"], d["undoes"]) for d in gallery.decisions] == [("confirm", None), ("confirm", None),
                                                                       ("undo", 2)]  # the log only grows
    assert post(client, "/undo").get_json()["photo"] == known
    assert len(load_gallery(gallery_path)) == 24
    nothing = post(client, "/undo")
    assert nothing.status_code == 404 and "nothing to undo" in nothing.get_json()["error"]


def test_a_confirm_from_the_command_line_shows_at_once(client, monkeypatch):
    client, gallery_path, inputs, _ = client
    photo = sorted(inputs[0].glob("*.jpg"))[1]
    commands.confirm(gallery_path, photo, "fish_000", key=KEY, session="session_2")
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    assert rows[photo.name]["recorded"] == "fish_000"
    assert photo.name not in [row["name"] for row in client.get("/api/queue?show=open").get_json()["rows"]]


def test_fish_page_moves_a_photo_and_undo_moves_it_back(client):
    client, gallery_path, _, _ = client
    page = client.get("/api/fish/fish_002").get_json()
    entries = [e for _, session in page["sessions"] for e in session]
    assert page["templates"] == len(entries) == 4 and "fish_002" not in page["other_fish"]
    moved = post(client, f"/entry/{entries[0]['id']}/move", fish="fish_005").get_json()
    assert moved == {"photo": entries[0]["name"], "from": "fish_002", "fish_id": "fish_005", "new_fish": False}
    gallery = load_gallery(gallery_path)
    assert [e["fish_id"] for e in gallery.entries if e["sha256"] == entries[0]["id"]] == ["fish_005"]
    assert gallery.decisions[-1]["note"] == "review: moved from fish_002"
    assert client.get("/api/fish/fish_002").get_json()["templates"] == 3
    post(client, "/undo")
    assert [e["fish_id"] for e in load_gallery(gallery_path).entries if e["sha256"] == entries[0]["id"]] == ["fish_002"]
    html = client.get("/fish/fish_002").get_data(as_text=True)
    assert html.count('action="/entry/') == 4 and "<h2>session_1</h2>" in html


def test_merge_two_fish_then_undo_an_earlier_decision_by_its_number(client):
    client, gallery_path, inputs, _ = client
    rows = {row["name"]: row for row in client.get("/api/queue").get_json()["rows"]}
    known = sorted(p.name for p in inputs[0].glob("*.jpg"))[0]
    post(client, f"/photo/{rows[known]['id']}/decide", fish="fish_000")
    before = {e["sha256"]: e["fish_id"] for e in load_gallery(gallery_path).entries}
    merged = post(client, "/fish/fish_001/merge", into="fish_002").get_json()
    assert merged == {"decision": 2, "fish": "fish_001", "into": "fish_002", "photos": 4}
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
    assert pixels.shape[:2] == display_size((32, 64)) == (240, 480)
    photo = client.get(f"/image/{row['id']}/photo")
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (360, 480)
    assert (thumbs_folder(gallery_path) / f"{row['id']}.roi.png").read_bytes() == roi.data
    assert (thumbs_folder(gallery_path) / f"{row['id']}.photo.jpg").read_bytes() == photo.data
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
