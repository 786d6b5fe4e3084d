"""Stage two: the deep IoM hashing head (issue 4). Not yet available."""

import sys

if __name__ == "__main__":
    sys.exit("train_twostage.py: not yet implemented (stage two, the IoM hashing head, is the next piece of work)")
