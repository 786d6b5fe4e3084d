"""Template protection on synthetic fish: unlinkability across keys and revocability of a gallery.

    python bench/protection.py [--run checkpoints/synthetic_iom] [--fish 40]

Renders fish the model never saw (seed 3), prepares their ROIs, and makes
IoM templates of every photo with the identity permutation, key A and key B
(``lateral.gallery.encoder``, the code the gallery uses). Prints:

- accuracy under each key (same-flank pairs of different photos): EER and AUC;
- unlinkability: templates of the same fish under keys A and B (mated, the same
  photo included) against different fish under A and B (non-mated): mean
  scores, AUC, and D_sys (Gomez-Barrero et al. 2018; 0 = unlinkable, 1 = fully
  linkable), with the same-key D_sys for comparison;
- revocability: the old key-A templates searched in a gallery re-enrolled under
  key B: how often a genuine old template passes key B's accept threshold at
  FAR 1e-3 (against key B's own genuine templates), and rank-1 identification.
Needs a trained stage-two run (``make demo`` makes checkpoints/synthetic_iom).
"""

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from lateral import synthetic  # noqa: E402
from lateral.data.prepare import prepare  # noqa: E402
from lateral.data.records import load_roi_set  # noqa: E402
from lateral.evaluation.metrics import area_under_roc, equal_error_rate, tar_at_far  # noqa: E402
from lateral.evaluation.protection import linkability  # noqa: E402
from lateral.gallery.encoder import Photo, TemplateEncoder  # noqa: E402
from lateral.gallery.keys import permutation_seed  # noqa: E402
from lateral.measures import hamming_similarity  # noqa: E402

KEYS = {"identity": None, "key A": "key A: north pond", "key B": "key B: after the leak"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="checkpoints/synthetic_iom", help="a train_twostage.py run folder")
    parser.add_argument("--fish", type=int, default=40)
    args = parser.parse_args()
    encoders = {name: TemplateEncoder(args.run, permutation_seed(key)) for name, key in KEYS.items()}
    config = encoders["identity"].config
    with tempfile.TemporaryDirectory() as scratch:
        raw, prepared = Path(scratch) / "raw", Path(scratch) / "prepared"
        synthetic.render_dataset(raw, ids=args.fish, sessions=2, per_id=4, size=(640, 480), seed=3)
        prepare(raw, prepared, config.preprocess, config.model.input_size, progress=False)
        roi_set = load_roi_set(prepared)
    photos = [Photo(source, "", png, flank, "tent") for source, png, flank in
              zip(roi_set.sources, roi_set.images, roi_set.flanks)]
    codes = {name: encoder.encode(photos)[0] for name, encoder in encoders.items()}
    m = codes["identity"].shape[1]
    fish, flanks = roi_set.fish_ids, roi_set.flanks
    same_flank = flanks[:, None] == flanks[None, :]
    same_fish = fish[:, None] == fish[None, :]
    other_photo = ~np.eye(len(fish), dtype=bool)
    print(f"{len(photos)} photos of {args.fish} unseen synthetic fish; m={m}, q={encoders['identity'].q}; "
          f"model {args.run}")

    print("\naccuracy under each key (same flank, different photos)")
    same_key = {}
    for name in KEYS:
        scores = hamming_similarity(codes[name], codes[name])
        genuine, impostor = scores[same_flank & same_fish & other_photo], scores[same_flank & ~same_fish]
        same_key[name] = (scores, genuine, impostor)
        print(f"  {name:9s} EER {equal_error_rate(genuine, impostor)[0]:.3f}  AUC {area_under_roc(genuine, impostor):.3f}")

    cross = hamming_similarity(codes["key A"], codes["key B"])
    mated, non_mated = cross[same_flank & same_fish], cross[same_flank & ~same_fish]
    same_photo = np.diag(cross)
    d_cross, _ = linkability(mated, non_mated)
    d_same, _ = linkability(same_key["key A"][1], same_key["key A"][2])
    print("\nunlinkability: key A templates against key B templates (same flank)")
    print(f"  mated (same fish) mean score {mated.mean():.3f}; same photo {same_photo.mean():.3f}; "
          f"non-mated {non_mated.mean():.3f}; chance 1/q = {1 / encoders['identity'].q:.3f}")
    print(f"  AUC mated vs non-mated {area_under_roc(mated, non_mated):.3f} (0.5 = indistinguishable)")
    print(f"  D_sys across keys {d_cross:.3f}   (same key, for comparison: {d_same:.3f})")

    scores_b, genuine_b, impostor_b = same_key["key B"]
    tar_b, threshold_b = tar_at_far(genuine_b, impostor_b, 1e-3)
    old_genuine = cross.T[same_flank & same_fish & other_photo]  # old key-A query, revoked key-B gallery
    old_photo = same_photo
    print("\nrevocability: old key-A templates searched in the gallery re-enrolled under key B")
    print(f"  key B accept threshold at FAR 1e-3: {threshold_b:.3f}")
    print(f"  genuine key-B templates accepted: {tar_b:.3f}; old key-A templates of the same fish accepted: "
          f"{np.mean(old_genuine >= threshold_b):.3f}; of the very same photo: {np.mean(old_photo >= threshold_b):.3f}")
    for label, query_scores, allowed in (("key B queries (other photos)", scores_b, same_flank & other_photo),
                                         ("old key-A queries (same photos included)", cross.T, same_flank)):
        ranked = np.where(allowed, query_scores, -np.inf)
        best = ranked.argmax(axis=1)
        print(f"  rank-1 of {label}: {np.mean(fish[best] == fish):.3f}")
    print(f"  (chance rank-1 is about {1 / args.fish:.3f})")


if __name__ == "__main__":
    main()
