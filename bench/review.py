"""Review page times on a 10,000-template gallery, with Flask's test client.

    python bench/review.py [--run checkpoints/synthetic_iom] [--templates 10000]

Enrols real synthetic photos (6 fish, session 1) with a stage-two run (by
default a tiny one trained here in about a minute; ``--run`` takes yours),
fills the gallery to ``--templates`` with random IoM codes of 4 photos per
made-up fish, and reviews the 32 session-2 photos of 8 fish (2 never
enrolled). Prints the time of the queue page, every photo page and the
compare view of each candidate (HTML; images are separate requests, cut once
and cached), one decision (lock, encode, save the changed rows), an unusable
photo, an undo, the fish page and the fish list, cold (first request after start) and
warm.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from lateral import synthetic  # noqa: E402
from lateral.config import PreprocessConfig  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.gallery import commands  # noqa: E402
from lateral.gallery.packing import pack_codes  # noqa: E402
from lateral.gallery.review.app import create_app  # noqa: E402
from lateral.gallery.review.workspace import ReviewWorkspace  # noqa: E402
from lateral.gallery.search import given_thresholds  # noqa: E402
from lateral.gallery.store import load_gallery, now, save_gallery  # noqa: E402


def tiny_run(root):
    """A tiny stage-two run (MobileNetV2 0.35, 32x64, m=16, q=4) trained for a few steps: page times do not
    depend on the model's accuracy."""
    import keras

    from tests.training.tiny import run, stage_two_config, tiny_config, train

    prepare(root / "raw", root / "prepared", PreprocessConfig(), (32, 64), progress=False)
    run(tiny_config(root / "prepared", epochs=1, steps_per_epoch=5), root / "s1")
    keras.mixed_precision.set_global_policy("float32")
    train(stage_two_config(root / "prepared", root / "s1", epochs=1, steps_per_epoch=5), root / "s2")
    return root / "s2" / "checkpoints" / "tiny_iom"


def fill(gallery_path, templates, seed=0):
    """Add random templates (4 per made-up fish) until the gallery holds ``templates``."""
    gallery = load_gallery(gallery_path)
    count = templates - len(gallery)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, gallery.q, (count, gallery.m))
    stamp = now()
    entries = [{"fish_id": f"bulk_{i // 4:05d}", "source": f"/nonexistent/bulk_{i:05d}.jpg",
                "sha256": f"{rng.integers(0, 2**63):016x}{i:048x}", "session": f"session_{i % 4 + 1}",
                "flank": ("left", "right")[i % 2], "mode": "tent", "added": stamp, "how": "enroll"}
               for i in range(count)]
    embeddings = None if gallery.embeddings is None else np.zeros((count, gallery.embeddings.shape[1]), np.float32)
    gallery.add(entries, pack_codes(codes, gallery.q), embeddings)
    save_gallery(gallery, gallery_path)
    return len(gallery)


def timed(client, url, method="get", **kwargs):
    started = time.perf_counter()
    response = getattr(client, method)(url, **kwargs)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 303), (url, response.status_code, response.get_data(as_text=True)[:300])
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=None, help="a train_twostage.py run folder (default: train a tiny one)")
    parser.add_argument("--templates", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="review_bench_"))
    synthetic.render_dataset(root / "raw", ids=8, sessions=2, per_id=4, size=(480, 360), seed=11)
    model = Path(args.run) if args.run else tiny_run(root)
    gallery_path = root / "bench.lgal"
    known = root / "known"
    for fish in sorted((root / "raw" / "session_1").iterdir())[:6]:
        (known / "session_1").mkdir(parents=True, exist_ok=True)
        fish.rename(known / "session_1" / fish.name)
    commands.enroll(gallery_path, known, model=model)
    size = fill(gallery_path, args.templates)
    started = time.perf_counter()
    workspace = ReviewWorkspace(gallery_path, [root / "raw" / "session_2"], given_thresholds(0.9, 0.6),
                                session="session_2")  # a run whose config finds no session in file names too
    startup = time.perf_counter() - started
    client = create_app(workspace, token="bench").test_client()
    queue_cold = timed(client, "/queue")
    queue = [timed(client, "/queue") for _ in range(5)]
    ids = workspace.order
    photo = [timed(client, f"/photo/{photo_id}") for photo_id in ids]
    compare = [timed(client, f"/photo/{ids[0]}?fish={fish_id}") for fish_id in
               [c["fish_id"] for c in workspace.photo_page(ids[0])["candidates"]]]
    decide = timed(client, f"/photo/{ids[0]}/decide", "post", data={"token": "bench", "fish": "new"})
    after = timed(client, f"/photo/{ids[1]}")  # the first page after a decision re-reads the gallery
    queue_after = timed(client, "/queue")
    unusable = timed(client, f"/photo/{ids[2]}/decide", "post",
                     data={"token": "bench", "verdict": "unusable", "reason": "blurred or out of focus"})
    undo = timed(client, "/undo", "post", data={"token": "bench"})
    fish = timed(client, "/fish/bulk_00000")
    fish_list = timed(client, "/fish")
    search = timed(client, "/fish?search=bulk_0001")
    print(f"gallery: {size} templates ({len(load_gallery(gallery_path).fish_ids())} fish); review of {len(ids)} "
          f"photos; start (read + encode the new photos): {startup:.2f} s")
    print(f"queue page: cold {queue_cold * 1e3:.0f} ms, warm median {statistics.median(queue) * 1e3:.0f} ms")
    print(f"photo page (top 5 candidates with their photos): median {statistics.median(photo) * 1e3:.0f} ms, "
          f"max {max(photo) * 1e3:.0f} ms over {len(photo)} photos")
    print(f"compare view of each candidate: max {max(compare) * 1e3:.0f} ms")
    print(f"decision (lock, encode the photo, save its rows; gallery of {size} templates held): {decide * 1e3:.0f} ms; "
          f"next photo page "
          f"{after * 1e3:.0f} ms; queue page after it {queue_after * 1e3:.0f} ms")
    print(f"unusable photo (lock, save one log entry): {unusable * 1e3:.0f} ms; undo {undo * 1e3:.0f} ms")
    print(f"fish page {fish * 1e3:.0f} ms; fish list ({len(load_gallery(gallery_path).fish_ids())} fish) "
          f"{fish_list * 1e3:.0f} ms; fish search {search * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
