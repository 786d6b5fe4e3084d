"""Embeddings and IoM codes of every image, for use by other tools.

    python -m lateral.embed --cfg_path C --input PATH --output X.npz [--ckpt DIR] [--verbose]

PATH: prepare_data.py output (TFRecords) or a folder of ROI images, one folder
per fish. X.npz holds ``paths``, ``labels`` (fish ids), ``embeddings`` (float32
[n, d]) and ``codes`` (int32 [n, m]; empty [n, 0] for a stage-one run).
"""

from lateral.quiet import quiet_unless_verbose

quiet_unless_verbose()  # before anything imports TensorFlow

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from lateral.atomic_write import replacing  # noqa: E402
from lateral.cli import USER_ERROR, ArgumentParser, add_verbose_flag, check_outputs_apart, run_explaining_errors  # noqa: E402,E501
from lateral.config import load_config  # noqa: E402


def main(argv=None, prog="python -m lateral.embed"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0], epilog=(
        "example:\n  lateral embed --cfg_path configs/my_fish_stage2.yaml --input my_prepared --output my_fish.npz"))
    parser.add_argument("--cfg_path", required=True, help="the run's YAML config (its sub_name)")
    parser.add_argument("--input", required=True, help="a `lateral prepare` output folder, or a folder of ROI "
                                                       "images per fish")
    parser.add_argument("--output", required=True, help="the .npz file to write")
    parser.add_argument("--ckpt", help="run folder (default: checkpoints/<sub_name>)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    output_folder = Path(args.output).parent
    if not output_folder.is_dir():
        print(f"error: --output {args.output}: the folder {output_folder} does not exist", file=sys.stderr)
        return USER_ERROR
    return run_explaining_errors(lambda: embed_to_file(args), kept=f"nothing was written to {args.output}")


def embed_to_file(args):
    check_outputs_apart([("--output", args.output)],
                        [("--input", args.input), ("--cfg_path", args.cfg_path), ("--ckpt", args.ckpt)])
    from lateral.evaluation.templates import compute_templates, load_test_set

    config = load_config(args.cfg_path)
    roi_set = load_test_set(args.input)
    templates = compute_templates(Path(args.ckpt or Path("checkpoints") / config.run.sub_name), roi_set)
    codes = templates["codes"] if templates["codes"] is not None else np.zeros((len(roi_set), 0), np.int32)
    with replacing(args.output) as temporary, open(temporary, "wb") as handle:  # a full disk leaves no damaged file
        np.savez(handle, paths=roi_set.sources, labels=roi_set.fish_ids, embeddings=templates["embeddings"],
                 codes=codes)
    print(f"wrote {len(roi_set)} embeddings {templates['embeddings'].shape[1:]} and codes {codes.shape[1:]} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
