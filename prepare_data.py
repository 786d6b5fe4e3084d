"""Photos of fish in a green tent (or pre-cropped fish) -> ROIs, manifest, TFRecords; the same as ``lateral prepare``.

    python prepare_data.py --input_dir RAW --output_dir OUT [--cfg_path C] [--no_segment] [--workers N] [--overwrite]
"""

import sys

from lateral.console.prepare import main

if __name__ == "__main__":
    sys.exit(main(prog="python prepare_data.py"))
