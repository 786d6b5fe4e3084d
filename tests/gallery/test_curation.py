"""The catalogue commands through the command line, on a hand-made gallery (no model: they never make templates).

Expected catalogues are written out by hand from the fixture's five photos.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lateral.gallery import lock
from lateral.gallery.__main__ import main
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery, load_gallery, save_gallery
from tests.gallery.test_store import sql

MODEL = {"path": "/runs/iom", "fingerprint": "ab" * 32, "m": 4, "q": 4, "embedding_size": 2, "input_size": [8, 16]}
REPO = Path(__file__).resolve().parents[2]
# photo, fish, session, flank
PHOTOS = [("a1", "A", "10 July", "left"), ("a2", "A", "9 June", "left"), ("b1", "B", "9 June", "left"),
          ("b2", "B", "10 July", "right"), ("c1", "C", "9 June", "left")]


@pytest.fixture
def pond(tmp_path):
    gallery = Gallery.new(MODEL, None, False)
    entries = [{"fish_id": fish, "source": f"/photos/{name}.jpg", "sha256": f"sha_{name}", "session": session,
                "flank": flank, "mode": "tent", "added": f"2026-07-10T00:00:0{i}+00:00", "how": "enroll"}
               for i, (name, fish, session, flank) in enumerate(PHOTOS)]
    gallery.add(entries, pack_codes(np.arange(20).reshape(5, 4) % 4, 4))
    path = tmp_path / "pond.lgal"
    save_gallery(gallery, path)
    return path


def gallery_cli(path, *args, reviewer="ana"):
    return main([args[0], "--gallery", str(path), *args[1:], *(["--reviewer", reviewer] if reviewer else [])])


def assignment(path):
    return {Path(e["source"]).stem: e["fish_id"] for e in load_gallery(path).entries}


def test_merge_split_rename_each_logged_and_any_one_undone(pond, capsys):
    start = assignment(pond)
    assert gallery_cli(pond, "merge", "--fish", "C", "--into", "A", "--note", "same spots") == 0
    assert capsys.readouterr().out == "decision 1: merged C into A (1 photo)\n"
    assert gallery_cli(pond, "split", "--fish", "B", "--photos", "b2.jpg") == 0
    assert capsys.readouterr().out == "decision 2: split 1 photo of B into new fish new_0001\n"
    assert gallery_cli(pond, "rename", "--fish", "A", "--to", "A7", reviewer="ben") == 0
    assert capsys.readouterr().out == "decision 3: renamed A to A7 (3 photos)\n"
    assert assignment(pond) == {"a1": "A7", "a2": "A7", "b1": "B", "b2": "new_0001", "c1": "A7"}

    with sql(pond) as db:
        log = db.execute("SELECT decision_id, reviewer, action, fish_id, before, after, undoes, note, decided "
                         "FROM decisions").fetchall()
    assert [row[:8] for row in log] == [
        (1, "ana", "merge", "A", '{"sha_c1": "C"}', '{"sha_c1": "A"}', None, "same spots"),
        (2, "ana", "split", "new_0001", '{"sha_b2": "B"}', '{"sha_b2": "new_0001"}', None, ""),
        (3, "ben", "rename", "A7", '{"sha_a1": "A", "sha_a2": "A", "sha_c1": "A"}',
         '{"sha_a1": "A7", "sha_a2": "A7", "sha_c1": "A7"}', None, "")]
    assert all(row[8].startswith("20") for row in log)

    # Not only the last: undo the split (decision 2) while the rename (3) stands.
    assert gallery_cli(pond, "undo", "--decision", "2") == 0
    assert capsys.readouterr().out == "decision 4: undid decision 2 (1 photo put back)\n"
    assert assignment(pond) == {"a1": "A7", "a2": "A7", "b1": "B", "b2": "B", "c1": "A7"}
    # The merge's photo was renamed since: undoing the merge first is refused, naming the rename.
    before = pond.read_bytes()
    assert gallery_cli(pond, "undo", "--decision", "1") == 2
    assert "a photo of decision 1 is now A7, not A (decision 3 changed it; undo that first)" in capsys.readouterr().err
    assert pond.read_bytes() == before
    assert gallery_cli(pond, "undo", "--decision", "3") == 0 and gallery_cli(pond, "undo", "--decision", "1") == 0
    assert assignment(pond) == start
    assert gallery_cli(pond, "undo", "--decision", "1") == 2
    assert "decision 1 was already undone by decision 6" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["log", "--gallery", str(pond)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[3:5] for line in lines] == [
        ["ana", "merge A [1 photos]: same spots"], ["ana", "split new_0001 [1 photos]"], ["ben", "rename A7 [3 photos]"],
        ["ana", "undo (undoes 2) new_0001 [1 photos]"], ["ana", "undo (undoes 3) A7 [3 photos]"],
        ["ana", "undo (undoes 1) A [1 photos]"]]


def test_catalogue_edits_that_cannot_be_done_are_refused_in_one_line(pond, capsys):
    before = pond.read_bytes()
    for args, message in [
        (("merge", "--fish", "Z", "--into", "A"), "has no fish Z"),
        (("merge", "--fish", "A", "--into", "A"), "cannot merge fish A into itself"),
        (("rename", "--fish", "A", "--to", "B"), "already has a fish B"),
        (("split", "--fish", "A", "--photos", "a1.jpg", "a2.jpg"), "that is every photo of fish A: use `rename`"),
        (("split", "--fish", "A", "--photos", "b1.jpg"), "b1.jpg is not one of fish A's photos"),
        (("split", "--fish", "A", "--photos", "a1.jpg", "--to", "C"), "already has a fish C"),
        (("undo", "--decision", "7"), "has no decision 7 (its log holds none"),
    ]:
        assert gallery_cli(pond, *args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, (args, err)
    assert pond.read_bytes() == before


def test_sessions_are_dated_and_ordered_by_date_in_every_export(pond, tmp_path, capsys):
    """"10 July" sorts before "9 June" as text; dated, 9 June comes first."""
    (tmp_path / "sessions.csv").write_text("session,date\n9 June,2026-06-09\n")
    assert gallery_cli(pond, "sessions", "--csv", str(tmp_path / "sessions.csv"), "--date", "10 July=2026-07-10") == 0
    assert capsys.readouterr().out == ("dated 2 sessions\n  9 June: 2026-06-09, 3 photos\n"
                                       "  10 July: 2026-07-10, 2 photos\n")
    assert main(["history", "--gallery", str(pond), "--out", str(tmp_path / "h.csv")]) == 0
    assert list(csv.reader(open(tmp_path / "h.csv"))) == [
        ["fish_id", "9 June", "10 July", "ch"], ["A", "1", "1", "11"], ["B", "1", "1", "11"], ["C", "1", "0", "10"]]
    assert gallery_cli(pond, "sessions", "--date", "9 June=2026-08-01") == 0
    capsys.readouterr()
    assert main(["export", "--gallery", str(pond), "--mark", str(tmp_path / "c.inp")]) == 0
    assert (tmp_path / "c.inp").read_text().splitlines() == [
        "/* lateral capture histories of 3 fish; occasions in order: 10 July (2026-07-10), 9 June (2026-08-01) */",
        "/* A */ 11 1;", "/* B */ 11 1;", "/* C */ 01 1;"]
    with sql(pond) as db:
        assert db.execute("SELECT action, note FROM decisions").fetchall()[-1] == (
            "session_date", "session 9 June: 2026-06-09 -> 2026-08-01")
    for args, message in [(("sessions", "--date", "9 June=9/6/2026"), "'9/6/2026' is not a date written YYYY-MM-DD"),
                          (("sessions", "--date", "9 June=2026-02-30"), "'2026-02-30' is not a date"),
                          (("sessions", "--date", "2026-06-09"), "write SESSION=YYYY-MM-DD")]:
        assert gallery_cli(pond, *args) == 2
        assert message in capsys.readouterr().err


def test_metadata_is_imported_and_carried_into_the_exports(pond, tmp_path, capsys):
    (tmp_path / "photos.csv").write_text(
        "photo,date,site,observer,length,weight\n"
        "a2.jpg,2026-06-09,=HYPERLINK(\"http://x\"),Ana,41.5,\n"
        "/photos/b1.jpg,2026-06-09,north pond,-Ben,38,610\n")
    assert gallery_cli(pond, "metadata", "--csv", str(tmp_path / "photos.csv")) == 0
    assert capsys.readouterr().out == "imported date, length, observer, site, weight for 2 photos\n"
    assert gallery_cli(pond, "sessions", "--date", "9 June=2026-06-09", "10 July=2026-07-10") == 0
    out = {name: str(tmp_path / f"{name}.csv") for name in ("rmark", "encounters")}
    assert main(["export", "--gallery", str(pond), "--rmark", out["rmark"], "--encounters", out["encounters"]]) == 0
    rmark = list(csv.reader(open(out["rmark"])))
    assert rmark == [
        ["fish_id", "ch", "freq", "occ_1", "occ_2", "date", "length", "observer", "site", "weight"],
        ["A", "11", "1", "1", "1", "2026-06-09", "41.5", "Ana", "'=HYPERLINK(\"http://x\")", ""],
        ["B", "11", "1", "1", "1", "2026-06-09", "38", "'-Ben", "north pond", "610"],
        ["C", "10", "1", "1", "0", "", "", "", "", ""]]
    rows = list(csv.DictReader(open(out["encounters"])))
    assert [(r["photo"], r["fish_id"], r["session"], r["session_date"], r["site"]) for r in rows] == [
        ("a1.jpg", "A", "10 July", "2026-07-10", ""), ("a2.jpg", "A", "9 June", "2026-06-09", "'=HYPERLINK(\"http://x\")"),
        ("b1.jpg", "B", "9 June", "2026-06-09", "north pond"), ("b2.jpg", "B", "10 July", "2026-07-10", ""),
        ("c1.jpg", "C", "9 June", "2026-06-09", "")]
    before = pond.read_bytes()
    for text, message in [("photo,site\nz9.jpg,x\n", "line 2: 'z9.jpg' is no enrolled photo"),
                          ("photo,length\na1.jpg,long\n", "line 2: length 'long' is not a number"),
                          ("photo,date\na1.jpg,June\n", "line 2, date: 'June' is not a date"),
                          ("site\nx\n", "no column photo in its first line")]:
        (tmp_path / "bad.csv").write_text(text)
        assert gallery_cli(pond, "metadata", "--csv", str(tmp_path / "bad.csv")) == 2
        assert message in capsys.readouterr().err
    assert pond.read_bytes() == before


def test_a_version_2_gallery_keeps_its_decisions_and_they_can_be_undone(tmp_path, capsys):
    """A confirm logged by a version-2 gallery (no before/after) is undone from its photo: its template goes."""
    from tests.gallery.test_store import write_version_1

    path = tmp_path / "pond.lgal"
    write_version_1(path, version=2, decisions=[{"photo": "/photos/2.jpg", "fish_id": "fish_2", "new_fish": True,
                                                 "decided": "2026-06-09T10:00:00+00:00", "note": "review"}])
    assert main(["undo", "--gallery", str(path), "--decision", "1", "--reviewer", "ana"]) == 0
    assert [e["fish_id"] for e in load_gallery(path).entries] == ["fish_0", "fish_1"]
    assert (tmp_path / "pond.lgal.v2.bak").is_file()


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


KILLED_MID_WRITE = """
import sys, time
from lateral.gallery import catalogue, database, store
def stall(*args):
    print("mid-transaction", flush=True)
    time.sleep(600)
database._write_metadata = stall
gallery = store.load_gallery(sys.argv[1])
catalogue.merge(gallery, "B", "A", sys.argv[1])
gallery.keep([True] * (len(gallery) - 1) + [False])
store.save_gallery(gallery, sys.argv[1])
"""


def test_a_kill_9_in_the_middle_of_a_write_loses_nothing_committed(pond):
    """The photos and log were written inside the transaction when the process died: none of it is seen after."""
    child = subprocess.Popen([sys.executable, "-c", KILLED_MID_WRITE, str(pond)], stdout=subprocess.PIPE, text=True,
                             env=_env())
    try:
        assert child.stdout.readline().strip() == "mid-transaction"
        assert Path(f"{pond}-wal").exists()  # the uncommitted pages are on disk
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    gallery = load_gallery(pond)
    assert assignment(pond) == {name: fish for name, fish, _, _ in PHOTOS}
    assert gallery.decisions == [] and len(gallery) == 5
    assert main(["merge", "--gallery", str(pond), "--fish", "B", "--into", "A", "--reviewer", "ana"]) == 0
    assert load_gallery(pond).decisions[0]["id"] == 1


def test_two_writers_at_once_keep_both_changes(pond):
    """Both renames start while the lock is held, so they contend for it; both land, each in the log once."""
    holder = subprocess.Popen([sys.executable, "-c", "import filelock, sys; held = filelock.FileLock(sys.argv[1]); "
                               "held.acquire(); print('held', flush=True); sys.stdin.read()",
                               str(lock.lock_path(pond))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    logs = [pond.with_name(f"{fish}.err") for fish in "AB"]
    writers = [subprocess.Popen([sys.executable, "-m", "lateral.gallery", "rename", "--gallery", str(pond), "--fish",
                                 fish, "--to", f"{fish}{fish}", "--reviewer", fish], stdout=subprocess.DEVNULL,
                                stderr=open(log, "w"), env=_env()) for fish, log in zip("AB", logs)]
    deadline = time.monotonic() + 60
    while not all("waiting for another process" in log.read_text() for log in logs):
        assert time.monotonic() < deadline, "the writers never waited for the lock"
        time.sleep(0.1)
    holder.stdin.close()
    holder.wait(timeout=30)
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0], [log.read_text() for log in logs]
    assert assignment(pond) == {"a1": "AA", "a2": "AA", "b1": "BB", "b2": "BB", "c1": "C"}
    assert sorted(d["reviewer"] for d in load_gallery(pond).decisions) == ["A", "B"]
    assert json.dumps(sorted(d["id"] for d in load_gallery(pond).decisions)) == "[1, 2]"
