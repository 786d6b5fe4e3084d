"""Embeddings and IoM codes of every image, for use by other tools.

    python -m lateral.embed --cfg_path C --input PATH --output X.npz [--ckpt DIR]

PATH: prepare_data.py output (TFRecords) or a folder of ROI images, one folder
per fish. X.npz holds ``paths``, ``labels`` (fish ids), ``embeddings`` (float32
[n, d]) and ``codes`` (int32 [n, m]; empty [n, 0] for a stage-one run).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from lateral.config import ConfigError, load_config


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lateral.embed", description=__doc__.split("\n")[0])
    parser.add_argument("--cfg_path", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--ckpt", help="run folder (default: checkpoints/<sub_name>)")
    args = parser.parse_args(argv)
    from lateral.data.records import DatasetError
    from lateral.evaluation.templates import compute_templates, load_test_set

    try:
        config = load_config(args.cfg_path)
        roi_set = load_test_set(args.input)
        templates = compute_templates(Path(args.ckpt or Path("checkpoints") / config.sub_name), roi_set)
    except (ConfigError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    codes = templates["codes"] if templates["codes"] is not None else np.zeros((len(roi_set), 0), np.int32)
    np.savez(args.output, paths=roi_set.sources, labels=roi_set.fish_ids, embeddings=templates["embeddings"],
             codes=codes)
    print(f"wrote {len(roi_set)} embeddings {templates['embeddings'].shape[1:]} and codes {codes.shape[1:]} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
