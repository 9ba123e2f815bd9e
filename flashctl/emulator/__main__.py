"""`python -m flashctl.emulator`: the same as `flashctl emulator`."""

import sys

from flashctl.emulator.server import main

sys.exit(main())
