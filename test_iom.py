"""Evaluation and reports (issue 5). Not yet available."""

import sys

if __name__ == "__main__":
    sys.exit("test_iom.py: not yet implemented (evaluation and reports come after stage two)")
