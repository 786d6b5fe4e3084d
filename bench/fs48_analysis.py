"""What limits accuracy on FS48: colour alone, camera colour, viewpoint, and camera pairs.

    python bench/fs48_analysis.py [--work fs48_run] [--run fs48_iom]

Reads the prepared FS48 crops and the trained run of ``bench/fs48_dev.py``
(same ``--work``) and prints, for the 8 held-out fish (cross-camera unless
said otherwise):

1. a baseline with no learning: cosine on HSV colour histograms of the crops;
2. each camera's mean colour (in HSV) over all its crops: how much the
   cameras disagree about the same fish;
3. the trained embedding (cosine) and IoM codes (Hamming): same-camera pairs
   allowed vs cross-camera only; cross-camera per camera pair;
4. cross-camera rank-1 by the crop's aspect ratio (width / height of the
   original crop), a proxy for the fish's pose: a long crop is a fish seen
   from the side, a squat one a fish turned towards or away from the camera.
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from lateral.config import load_config  # noqa: E402
from lateral.data.records import load_roi_set  # noqa: E402
from lateral.data.split import keep_fish  # noqa: E402
from lateral.evaluation.metrics import area_under_roc, cmc_and_map, equal_error_rate  # noqa: E402
from lateral.evaluation.templates import compute_templates  # noqa: E402
from lateral.measures import MEASURES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def figures(similarity, fish, allowed):
    """rank-1, mAP, EER, AUC of one score matrix under one set of allowed pairs."""
    cmc, mean_ap, _ = cmc_and_map(similarity, fish, allowed)
    upper = np.triu(allowed, k=1)
    genuine = fish[:, None] == fish[None, :]
    scores_genuine, scores_impostor = similarity[upper & genuine], similarity[upper & ~genuine]
    return cmc[0], mean_ap, equal_error_rate(scores_genuine, scores_impostor)[0], area_under_roc(scores_genuine,
                                                                                                 scores_impostor)


def row(label, values):
    print(f"  {label:38s} rank-1 {values[0]:.3f}  mAP {values[1]:.3f}  EER {values[2]:.3f}  AUC {values[3]:.3f}")


def hsv_histograms(roi_set, bins=(8, 4, 4)):
    rows = []
    for encoded in roi_set.images:
        image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        rows.append(cv2.calcHist([hsv], [0, 1, 2], None, list(bins), [0, 180, 0, 256, 0, 256]).ravel())
    return np.sqrt(np.array(rows))  # Hellinger-style: cosine on square roots of the histograms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="fs48_run")
    parser.add_argument("--run", default="fs48_iom", help="stage-two run under <work>/checkpoints")
    args = parser.parse_args()
    work = Path(args.work)
    config = load_config(REPO / "configs" / "fs48_stage2.yaml")
    everything = load_roi_set(work / "prepared", "fish")
    held_out = keep_fish(everything, config.data.held_out_fish, keep=True)
    fish, cameras = held_out.fish_ids, held_out.sessions
    cross = cameras[:, None] != cameras[None, :]
    anywhere = np.ones_like(cross)
    print(f"{len(held_out)} crops of {len(set(fish))} held-out fish from cameras {', '.join(sorted(set(cameras)))}")

    print("\n1. no learning: cosine on HSV colour histograms (8x4x4 bins)")
    histograms = hsv_histograms(held_out)
    colour = MEASURES.get("cosine").scores(histograms, histograms)
    row("colour histograms, cross-camera", figures(colour, fish, cross))
    row("colour histograms, cameras mixed", figures(colour, fish, anywhere))

    print("\n2. mean colour of each camera's crops (all 24 fish; H in 0..180, S and V in 0..255)")
    for camera in sorted(set(everything.sessions)):
        pixels = np.concatenate([cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR),
                                              cv2.COLOR_BGR2HSV).reshape(-1, 3)[::7]
                                 for encoded in everything.images[everything.sessions == camera][::5]])
        mean = pixels.mean(axis=0)
        print(f"  {camera}: H {mean[0]:5.1f}  S {mean[1]:5.1f}  V {mean[2]:5.1f}")

    print(f"\n3. the trained run {work / 'checkpoints' / args.run}")
    templates = compute_templates(work / "checkpoints" / args.run, held_out)
    matrices = {"cosine (embedding)": MEASURES.get("cosine").scores(templates["embeddings"], templates["embeddings"])}
    if templates["codes"] is not None:
        matrices["Hamming (IoM codes)"] = MEASURES.get("hamming").scores(templates["codes"], templates["codes"])
    for name, similarity in matrices.items():
        row(f"{name}, cross-camera", figures(similarity, fish, cross))
        row(f"{name}, cameras mixed", figures(similarity, fish, anywhere))
        for first, second in (("C1", "C2"), ("C1", "C3"), ("C2", "C3")):
            pair = ((cameras[:, None] == first) & (cameras[None, :] == second)) | (
                (cameras[:, None] == second) & (cameras[None, :] == first))
            row(f"{name}, {first} <-> {second} only", figures(similarity, fish, pair))

    print("\n4. cross-camera rank-1 by crop aspect ratio (pose), cosine on the embedding")
    manifest = {}
    for line in (work / "prepared" / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["status"] == "ok":
            corners = np.array(record["roi"])
            width, height = corners[:, 0].max() - corners[:, 0].min(), corners[:, 1].max() - corners[:, 1].min()
            manifest[record["source"]] = width / height
    aspect = np.array([manifest[source] for source in held_out.sources])
    similarity = matrices["cosine (embedding)"]
    ranked = np.where(cross, similarity, -np.inf)
    hit = fish[ranked.argmax(axis=1)] == fish
    edges = np.quantile(aspect, [0, 0.25, 0.5, 0.75, 1.0])
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = (aspect >= low) & (aspect <= high)
        print(f"  aspect {low:4.2f}-{high:4.2f}: rank-1 {hit[chosen].mean():.3f} ({chosen.sum()} queries)")


if __name__ == "__main__":
    main()
