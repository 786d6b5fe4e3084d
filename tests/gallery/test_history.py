import csv

import numpy as np

from lateral.gallery.history import write_capture_history
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery

MODEL = {"path": "/r", "fingerprint": "0" * 64, "m": 8, "q": 4, "embedding_size": 2, "input_size": [8, 16]}


def test_capture_history_table(tmp_path):
    sightings = [("F2", "2026-05"), ("F1", "2026-04"), ("F1", "2026-06"), ("F1", "2026-06"), ("F3", "")]
    gallery = Gallery.new(MODEL, None, False)
    entries = [{"fish_id": fish, "session": session, "flank": "left", "source": f"/{i}", "sha256": str(i),
                "mode": "tent", "added": "", "how": "enroll"} for i, (fish, session) in enumerate(sightings)]
    gallery.add(entries, pack_codes(np.zeros((len(entries), 8), int), 4))
    write_capture_history(gallery, tmp_path / "captures.csv")
    rows = list(csv.reader(open(tmp_path / "captures.csv")))
    assert rows == [
        ["fish_id", "2026-04", "2026-05", "2026-06", "no_session", "ch"],
        ["F1", "1", "0", "1", "0", "1010"],
        ["F2", "0", "1", "0", "0", "0100"],
        ["F3", "0", "0", "0", "1", "0001"],
    ]
