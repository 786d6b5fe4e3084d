"""Evaluate a trained run: EER, AUC, thresholds, identification (CMC, mAP), with plots; the same as
``lateral evaluate`` (see ``python test_iom.py --help`` for every flag).

    python test_iom.py --cfg_path C [--test_dataset PATH] [--ckpt DIR] [--measure hamming --measure cosine]
        [--protocol all|cross_session] [--compare_flanks] [--classification] [--out DIR]
"""

import sys

from lateral.console.evaluate import main

if __name__ == "__main__":
    sys.exit(main(prog="python test_iom.py"))
