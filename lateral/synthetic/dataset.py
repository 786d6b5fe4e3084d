"""A dataset on disk: ``session_<s>/fish_<i>/*.jpg`` and ``ground_truth.jsonl``, each photo from its own seed."""

import json
from pathlib import Path

import numpy as np

from lateral.synthetic.fish import make_fish
from lateral.synthetic.photo import render_photo_jpeg
from lateral.synthetic.photo_params import BODY_LENGTH_OF_WIDTH

GROUND_TRUTH_FILE = "ground_truth.jsonl"


def individual_seed(seed, fish_index):
    return int(np.random.SeedSequence([seed, fish_index]).generate_state(1)[0])


def photo_rng(seed, fish_index, session_index, photo_index):
    """Each photo's own generator: any photo can be rendered alone, in any order."""
    return np.random.default_rng([seed, fish_index, session_index, photo_index, 1])


def render_dataset(
    out_dir, ids, sessions, per_id, size=(1024, 768), seed=0, max_rotation=40.0, upside_down=0.15, overwrite=False,
    palette="trout", fin_opacity=None, body_share=BODY_LENGTH_OF_WIDTH,
):
    """Write ``out_dir/session_<s>/fish_<i>/*.jpg`` and ``out_dir/ground_truth.jsonl``; return the truths.

    ``palette`` and ``fin_opacity`` go to make_fish, ``body_share`` to draw_photo_params.
    """
    out_dir = Path(out_dir)
    truth_path = out_dir / GROUND_TRUTH_FILE
    if truth_path.exists():
        if not overwrite:
            raise FileExistsError(f"{truth_path} exists: {out_dir} already holds a synthetic dataset")
        _remove_previous(out_dir, truth_path)
    digits = max(3, len(str(ids - 1)))
    fishes = [make_fish(individual_seed(seed, index), palette, fin_opacity) for index in range(ids)]
    truths = []
    for session_index in range(1, sessions + 1):
        session = f"session_{session_index}"
        for fish_index, fish in enumerate(fishes):
            fish_id = f"fish_{fish_index:0{digits}d}"
            folder = out_dir / session / fish_id
            folder.mkdir(parents=True, exist_ok=True)
            for photo_index in range(per_id):
                rng = photo_rng(seed, fish_index, session_index, photo_index)
                encoded, _, truth = render_photo_jpeg(
                    fish, rng, size, max_rotation, upside_down, body_share=body_share
                )
                name = f"{fish_id}_{session}_{photo_index:02d}.jpg"
                (folder / name).write_bytes(encoded)
                truth.update(photo=f"{session}/{fish_id}/{name}", fish_id=fish_id, session=session)
                truths.append(truth)
    truth_path.write_text("".join(json.dumps(truth) + "\n" for truth in truths))
    return truths


def _remove_previous(out_dir, truth_path):
    """Delete the photos a previous run listed, so none of them lingers as a stale photo."""
    for line in truth_path.read_text().splitlines():
        if line.strip():
            (out_dir / json.loads(line)["photo"]).unlink(missing_ok=True)
    truth_path.unlink()
