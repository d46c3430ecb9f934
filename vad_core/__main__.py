"""Entry point for `python -m vad_core`."""

import os
import sys

from vad_core.cli import main
from vad_core.io.lifeline import PARENT_PID_VARIABLE, die_with_parent

parent = os.environ.pop(PARENT_PID_VARIABLE, None)  # popped: a grandchild is not the parent's child
if parent:  # started by the app's training runner (app.training): die with the server
    die_with_parent(int(parent))
sys.exit(main())
