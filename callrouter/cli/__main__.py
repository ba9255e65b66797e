"""`python -m callrouter.cli ...`: the `callrouter` command without its script
(how `callrouter serve` starts its worker with this very interpreter)."""

import sys

from callrouter.cli import main

sys.exit(main())
