"""Start components as OS processes and stop every one of them, whatever happens.

`ProcessGroup` is what `ntnric run` and the latency benchmark use: each child is started in its
own session (process group) so that stopping it also stops anything it spawned; children are
stopped on normal completion, on Ctrl-C, and as soon as one of them dies unexpectedly (the
reason — exit status and the tail of its log — is reported). No orphans.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


class ComponentDied(RuntimeError):
    """A child process exited while the group still needed it."""


@dataclass
class Component:
    """One child process and its log file."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    expected_exit: bool = False
    started_at: float = field(default_factory=time.monotonic)

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


class ProcessGroup:
    """A set of child processes that live and die together.

    Parameters
    ----------
    log_dir : Path, optional
        Where each child's stdout+stderr goes (``NAME.log``); a temporary directory by default.
    """

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="ntnric-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.components: list[Component] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Component:
        """Start ``argv`` as child ``name`` in its own process group."""
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        log.close()
        component = Component(name, list(argv), process, log_path)
        self.components.append(component)
        return component

    def start_python(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Component:
        """Start ``python -m ntnric.cli ARGS`` with this interpreter."""
        return self.start(name, [sys.executable, "-m", "ntnric.cli", *args], env)

    def check(self) -> None:
        """Raise `ComponentDied` if a child exited that was not expected to."""
        for c in self.components:
            code = c.process.poll()
            if code is not None and not c.expected_exit:
                tail = c.log_tail()
                reason = f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
                raise ComponentDied(f"{c.name} stopped ({reason})" + (f": {tail.splitlines()[-1]}" if tail else ""))

    def wait(self, component: Component, timeout_s: float | None = None, poll_s: float = 0.05) -> int:
        """Wait for ``component`` to exit (it is expected to); watch the others meanwhile."""
        component.expected_exit = True
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            code = component.process.poll()
            if code is not None:
                return code
            self.check()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{component.name} did not finish within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGINT every live child (newest first), then SIGKILL what is left after ``grace_s``."""
        for c in reversed(self.components):
            c.expected_exit = True
            if c.process.poll() is None:
                _signal_group(c.process, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        for c in self.components:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                c.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(c.process, signal.SIGKILL)
                c.process.wait()
            # anything the child left in its group goes too
            _signal_group(c.process, signal.SIGKILL)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _default_sigint() -> None:
    """In the child: Ctrl-C's SIGINT does its default (Python: KeyboardInterrupt), even when the
    parent was started in the background of a shell, where SIGINT is ignored and inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
