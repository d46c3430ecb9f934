"""Entry point for `python -m vad_core`."""

import sys

from vad_core.cli import main

sys.exit(main())
