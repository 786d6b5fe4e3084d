"""Stage two: the deep IoM hashing head on the frozen stage-one network; the same as ``lateral train-iom``.

    python train_twostage.py --cfg_path configs/my_fish_stage2.yaml [--freeze_backbone 0|1] [--strategy default|mirrored|multi_worker]
"""

import sys

from lateral.console.train_iom import main

if __name__ == "__main__":
    sys.exit(main(prog="python train_twostage.py"))
