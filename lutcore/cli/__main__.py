"""``python -m lutcore.cli``: the ``lutcore`` command."""

import sys

from . import main

sys.exit(main())
