"""``python -m docgen.cli``: the ``docgen`` command (as torchrun starts it)."""

import sys

from docgen.cli import main

sys.exit(main())
