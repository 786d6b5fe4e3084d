"""``python -m lateral COMMAND ...``: the same as the ``lateral`` command (lateral.console.main)."""

import sys

from lateral.console.main import main

sys.exit(main())
