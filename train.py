"""Stage one: train the embedding network (ArcFace or softmax head); the same as ``lateral train``.

    python train.py --cfg_path configs/my_fish_stage1.yaml [--mode fit|eager_tf] [--strategy default|mirrored|multi_worker]
"""

import sys

from lateral.console.train import main

if __name__ == "__main__":
    sys.exit(main(prog="python train.py"))
