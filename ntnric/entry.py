"""The ``ntnric`` console script: lowers the priority of operator commands before anything loads.

``ntnric models ...`` talks to a running RIC, often on the host of a realtime run; it runs at
`CLIENT_NICE` from its first import on (loading the command line alone costs a
few hundred milliseconds of CPU), so it never takes a core from the RIC, the nodes or the xApps.
"""

from __future__ import annotations

import contextlib
import os
import sys

LOW_PRIORITY_COMMANDS = ("models",)
CLIENT_NICE = 10  # added niceness of those commands (0 = as the slot loop, 19 = lowest)


def main() -> None:
    """Entry point: ``nice`` first for `LOW_PRIORITY_COMMANDS`, then `ntnric.cli.main`."""
    if sys.argv[1:2] and sys.argv[1] in LOW_PRIORITY_COMMANDS:
        with contextlib.suppress(OSError):
            os.nice(CLIENT_NICE)
    from ntnric.cli import main as cli_main

    cli_main()
