"""``python -m pynetes``: the same as the ``pynetes`` command."""

import sys

from pynetes.cli.main import main

sys.exit(main())
