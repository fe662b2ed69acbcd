"""``python -m pynetes.apiserver``: the same as ``pynetes apiserver``."""

import sys

from pynetes.cli.main import main

sys.exit(main(["apiserver", *sys.argv[1:]]))
