"""``python -m lateral.synthetic OUT --ids N --sessions S --per_id K``: see ``lateral.synthetic.command_line``."""

import sys

from lateral.synthetic.command_line import main

if __name__ == "__main__":
    sys.exit(main())
