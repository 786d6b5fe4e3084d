"""What one decision costs as the catalogue grows: the SQLite catalogue (format 3) against rewriting the .npz (format 2).

    python bench/catalogue.py [--sizes 1000 10000 100000] [--m 64] [--q 8] [--decisions 5]

For each size, a gallery of random templates (the cost does not depend on
what the codes are) in sessions of 500 photos is saved once; then each
decision (a ``rename`` of one fish: load, change, log, save, as the command
does) is timed, then a second one on the gallery held in memory (as the
review page decides: ``commands.changing`` with the gallery it read, the
lock, the check that the file is unchanged, change, save: "held s"), and
beside it the write a format-2 gallery made for the same change (the whole
``.npz`` with its meta JSON, written atomically). Prints
the median times, the bytes written per decision (the SQLite WAL file's
growth, or the whole ``.npz``) and the file sizes. Both run in turns, so load
on the machine hits both alike.
"""

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lateral.atomic_write import write_atomically
from lateral.gallery import catalogue, commands, database
from lateral.gallery.packing import pack_codes
from lateral.gallery.store import Gallery, gallery_revision, load_gallery, now, save_gallery

MODEL = {"path": "/runs/bench", "fingerprint": "ab" * 32, "embedding_size": 128, "input_size": [128, 256]}


def make_gallery(size, m, q, rng):
    gallery = Gallery.new({**MODEL, "m": m, "q": q}, None, False)
    entries = [{"fish_id": f"fish_{i // 4:06d}", "source": f"/photos/{i:07d}.jpg", "sha256": f"{i:064x}",
                "session": f"session_{i // 500:04d}", "flank": "left", "mode": "tent", "added": now(), "how": "enroll"}
               for i in range(size)]
    gallery.add(entries, pack_codes(rng.integers(0, q, (size, m)), q))
    return gallery


def npz_bytes(gallery):
    """What format 2 wrote on every decision: the meta JSON and all codes, in one .npz."""
    meta = json.dumps({"header": gallery.header, "entries": gallery.entries, "decisions": gallery.decisions})
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(meta.encode(), np.uint8), codes=gallery.codes)
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--q", type=int, default=8)
    parser.add_argument("--decisions", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'templates':>10s} {'load s':>8s} {'decide+save s':>14s} {'held s':>7s} {'bytes/decision':>15s} "
          f"{'.lgal MB':>9s} | "
          f"{'v2 .npz write s':>16s} {'bytes/decision':>15s}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path, old = Path(folder) / f"g{size}.lgal", Path(folder) / f"g{size}.npz"
            save_gallery(make_gallery(size, args.m, args.q, rng), path)
            loads, saves, grown, writes, held_saves = [], [], [], [], []
            for number in range(args.decisions):
                started = time.perf_counter()
                gallery = load_gallery(path)
                loaded = time.perf_counter()
                catalogue.rename(gallery, f"fish_{number:06d}", f"renamed_{number}", path, "bench")
                wal = Path(f"{path}-wal")
                with database.connected(path) as db:  # keep one connection open so the WAL is not checkpointed away
                    before = wal.stat().st_size if wal.exists() else 0
                    database.write(db, gallery, now())
                    grown.append(wal.stat().st_size - before)
                gallery.revision = gallery_revision(path)  # what save_gallery records (bypassed to measure the WAL)
                saves.append(time.perf_counter() - loaded)
                loads.append(loaded - started)
                started = time.perf_counter()  # the review page's way: the gallery it holds, unchanged on disk
                with commands.changing(path, known=gallery) as held:
                    assert held is gallery
                    catalogue.rename(held, f"renamed_{number}", f"again_{number}", path, "bench")
                held_saves.append(time.perf_counter() - started)
                started = time.perf_counter()
                data = npz_bytes(gallery)
                write_atomically(old, data)
                writes.append(time.perf_counter() - started)
            print(f"{size:10d} {statistics.median(loads):8.3f} {statistics.median(saves):14.4f} "
                  f"{statistics.median(held_saves):7.4f} "
                  f"{statistics.median(grown):15,d} {path.stat().st_size / 1e6:9.1f} | "
                  f"{statistics.median(writes):16.4f} {len(data):15,d}")


if __name__ == "__main__":
    main()
