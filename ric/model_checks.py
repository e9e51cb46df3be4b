"""Model checks in a worker process, away from the RIC's event loop.

`validate_model` parses the model, runs the ONNX checker and a smoke inference: C++ work that
holds the interpreter lock for milliseconds, and the first call imports onnx and onnxruntime.
In a thread of the RIC process that stalls the per-slot paths (measured: the first check cost a
realtime run its first slots); in `ModelChecker`'s worker process it costs them nothing. The
worker runs at a lower CPU priority (`WORKER_NICE`), so on a busy host the slot loop comes
first, and a model that crashes onnxruntime takes down the worker, not the RIC.

The worker (`main`) is started on first use and kept. Frames on its
stdin: two big-endian uint32 (lengths of a JSON header and of the model), the header
(``{"expected": <model spec or null>}``), the model's bytes. On its stdout: a big-endian uint32
length and a JSON answer, ``{"ok": true, "info": {...ModelInfo...}}`` or ``{"ok": false,
"reason": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
from typing import Any, BinaryIO

from ric.protocol.models import ModelError, ModelInfo, validate_model

WORKER_NICE = 10  # added niceness of the worker process (0 = as the RIC, 19 = lowest)
CHECK_TIMEOUT_S = 60.0  # one check, model import included [s]
_HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">I")
_WORKER = f"import os; os.nice({WORKER_NICE}); from ric.model_checks import main; main()"


class ModelChecker:
    """`validate_model` in one worker process (module docstring); use from one event loop."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None
        self._warming: asyncio.Task[None] | None = None

    async def _worker(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WORKER, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self._proc

    @property
    def worker_running(self) -> bool:
        """Whether the worker process is up."""
        return self._proc is not None and self._proc.returncode is None

    def warm_up(self) -> None:
        """Start the worker now (it loads the ONNX libraries), without waiting for it."""
        if self._warming is None and self._proc is None:
            self._warming = asyncio.get_running_loop().create_task(self._warm_up())

    async def _warm_up(self) -> None:
        with contextlib.suppress(ModelError):
            await self._ask(b"", None, warm_up=True)

    async def validate(self, data: bytes, expected: dict[str, Any] | None) -> ModelInfo:
        """`validate_model(data, expected)` in the worker; `ModelError` with the reason (also when the
        worker dies or hangs)."""
        answer = await self._ask(data, expected)
        if not answer["ok"]:
            raise ModelError(answer["reason"])
        return ModelInfo(**answer["info"])

    async def _ask(self, data: bytes, expected: dict[str, Any] | None, warm_up: bool = False) -> dict[str, Any]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            proc = await self._worker()
            assert proc.stdin is not None and proc.stdout is not None
            header = json.dumps({"expected": expected, "warm_up": warm_up}).encode()
            try:
                proc.stdin.write(_HEADER.pack(len(header), len(data)) + header + data)
                await proc.stdin.drain()
                head = await asyncio.wait_for(proc.stdout.readexactly(_LENGTH.size), CHECK_TIMEOUT_S)
                body = await asyncio.wait_for(proc.stdout.readexactly(_LENGTH.unpack(head)[0]), CHECK_TIMEOUT_S)
            except asyncio.CancelledError:
                self._abandon(proc)  # its answer would be read as the next check's
                raise
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                await self._stop(proc)
                if isinstance(exc, TimeoutError):
                    raise ModelError(f"the model check did not finish within {CHECK_TIMEOUT_S:g} s") from None
                raise ModelError(f"the model crashed the model checker (exit status {proc.returncode})") from None
        answer: dict[str, Any] = json.loads(body)
        return answer

    def _abandon(self, proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        if self._proc is proc:
            self._proc = None

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        if self._proc is proc:
            self._proc = None

    async def close(self) -> None:
        """Stop the worker (it exits when its stdin closes; killed after one second)."""
        if self._warming is not None:
            self._warming.cancel()
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 1.0)
        except TimeoutError:
            await self._stop(proc)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    """The worker: answer checks on stdin until it closes."""
    stdin = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    import onnx  # noqa: F401 - load the libraries before the first check
    import onnxruntime  # noqa: F401

    while (head := _read_exactly(stdin, _HEADER.size)) is not None:
        header_len, data_len = _HEADER.unpack(head)
        header_bytes, data = _read_exactly(stdin, header_len), _read_exactly(stdin, data_len)
        if header_bytes is None or data is None:
            return
        header = json.loads(header_bytes)
        answer: dict[str, Any] = {"ok": True}
        if not header.get("warm_up"):
            try:
                info = validate_model(data, header["expected"])
                answer["info"] = {"metadata": info.metadata, "obs_dim": info.obs_dim, "hidden": info.hidden,
                                  "n_logits": info.n_logits}
            except ModelError as exc:
                answer = {"ok": False, "reason": str(exc)}
            except Exception as exc:  # any other failure is still an answer, not a dead worker
                answer = {"ok": False, "reason": f"model check failed: {type(exc).__name__}: {exc}"}
        text = json.dumps(answer).encode()
        answers.write(_LENGTH.pack(len(text)) + text)
        answers.flush()

