"""Processes the tests start: find the command-line processes still alive."""

from __future__ import annotations

import os
from pathlib import Path


def ntnric_processes() -> set[int]:
    """PIDs of live processes running the ntnric command line (``python -m ntnric.cli``), this one aside."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ntnric.cli" in cmdline and int(entry.name) != os.getpid():
                pids.add(int(entry.name))
    return pids
