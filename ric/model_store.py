"""Content-addressed store of the RIC's ONNX models, per xApp, in one directory.

Layout of ``RicConfig.model_dir`` (default ``.ntnric/models`` under the RIC's working
directory; ``ntnric ric --model-dir DIR``)::

    <sha256>.onnx      one file per distinct model, named by the hex sha256 of its bytes
    index.json         what each xApp has: its models and its activation stack

``index.json`` (`INDEX_FORMAT` 1)::

    {"format": 1,
     "xapps": {"onnx-hex19": {
         "stack": ["<sha A>", "<sha B>"],          # activation order; the last one is active
         "models": {"<sha B>": {"name": "hex19-v2.onnx", "version": "hex19-2026...", "size_bytes": 81234,
                                "metadata": {...}, "deployed_at": "2026-11-22T02:30:00Z",
                                "activated_at_slot": 1234, "source": "deploy"}, ...}}}}

Every write goes to a temporary file first and is renamed over the old one (after ``fsync``), so
a RIC that dies mid-write leaves the previous index or the new one, never half of one. A store
without a directory keeps everything in memory (``RicConfig.model_dir = None``: tests).

The store is not thread-safe: its state is changed on the RIC's event loop only; `ModelStore.save`
returns the index as text so the disk write can run elsewhere (`ric.registry_models`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INDEX_FORMAT = 1
INDEX_NAME = "index.json"
BLOB_SUFFIX = ".onnx"


class ModelStoreError(RuntimeError):
    """The store directory or its index cannot be used; the message is one line."""


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data`` (the model's id in the store)."""
    return hashlib.sha256(data).hexdigest()


def utc_now_iso() -> str:
    """The current UTC time, ISO 8601 to the second (``2026-11-22T02:30:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StoredModel:
    """One model of one xApp.

    Attributes
    ----------
    sha256 : str
        Hex digest of the file (its name in the store).
    name : str
        File name it was deployed from.
    version : str
        The metadata's ``version`` (the digest's first 12 characters when the metadata has none).
    size_bytes : int
        File size [bytes].
    metadata : dict
        The model's ``ntnric`` metadata.
    deployed_at : str
        When it was last deployed (UTC, ISO 8601).
    activated_at_slot : int
        The slot an instance of the xApp last switched to it; -1 if never.
    source : str
        ``deploy`` (``ntnric models deploy``) or ``xapp`` (the model the xApp was started with).
    """

    sha256: str
    name: str
    version: str
    size_bytes: int
    metadata: dict[str, Any]
    deployed_at: str
    activated_at_slot: int = -1
    source: str = "deploy"

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        del document["sha256"]
        return document

    @classmethod
    def from_json(cls, sha: str, document: dict[str, Any]) -> StoredModel:
        return cls(sha256=sha, name=str(document["name"]), version=str(document["version"]),
                   size_bytes=int(document["size_bytes"]), metadata=dict(document["metadata"]),
                   deployed_at=str(document["deployed_at"]),
                   activated_at_slot=int(document.get("activated_at_slot", -1)),
                   source=str(document.get("source", "deploy")))


@dataclass
class XappModels:
    """The models of one xApp name and the order they were made active in."""

    stack: list[str] = field(default_factory=list)
    models: dict[str, StoredModel] = field(default_factory=dict)

    @property
    def active(self) -> StoredModel | None:
        """The active model (the top of the stack), if any."""
        return self.models.get(self.stack[-1]) if self.stack else None


class ModelStore:
    """Models by xApp name, with their files addressed by content (module docstring).

    Parameters
    ----------
    directory : Path or None
        Where the files and the index live (created on the first write); None keeps everything
        in memory.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.xapps: dict[str, XappModels] = {}
        self._memory: dict[str, bytes] = {}

    # ------------------------------------------------------------------ index

    def load(self) -> None:
        """Read the index (an absent one is an empty store); `ModelStoreError` when unusable."""
        self.xapps = {}
        if self.directory is None:
            return
        if self.directory.exists() and not self.directory.is_dir():
            raise ModelStoreError(f"model directory {str(self.directory)!r} is a file")
        path = self.directory / INDEX_NAME
        if not path.exists():
            return
        try:
            document = json.loads(path.read_text())
            if document.get("format") != INDEX_FORMAT:
                raise ValueError(f"format {document.get('format')!r} is not {INDEX_FORMAT}")
            for name, entry in document["xapps"].items():
                models = {sha: StoredModel.from_json(sha, m) for sha, m in entry["models"].items()}
                stack = [sha for sha in entry["stack"] if sha in models]
                self.xapps[name] = XappModels(stack=stack, models=models)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelStoreError(f"model index {str(path)!r} is not readable: {exc}") from None

    def index_text(self) -> str:
        """The index as it is now (JSON text)."""
        document = {
            "format": INDEX_FORMAT,
            "xapps": {name: {"stack": list(entry.stack),
                             "models": {sha: m.to_json() for sha, m in entry.models.items()}}
                      for name, entry in sorted(self.xapps.items())},
        }
        return json.dumps(document, indent=1) + "\n"  # models in the order they were stored

    def write_index(self, text: str) -> None:
        """Replace the index on disk with ``text`` atomically (no-op in memory)."""
        if self.directory is not None:
            _atomic_write(self.directory / INDEX_NAME, text.encode())

    # ------------------------------------------------------------------ files

    def blob_path(self, sha: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{sha}{BLOB_SUFFIX}"

    def has_blob(self, sha: str) -> bool:
        path = self.blob_path(sha)
        return sha in self._memory if path is None else path.is_file()

    def write_blob(self, sha: str, data: bytes) -> None:
        """Store ``data`` under its digest ``sha`` (atomic; nothing to do when it is there)."""
        path = self.blob_path(sha)
        if path is None:
            self._memory[sha] = data
        elif not path.is_file():
            _atomic_write(path, data)

    def read_blob(self, sha: str) -> bytes:
        """The file of model ``sha``; `ModelStoreError` when it is missing or does not match its name."""
        path = self.blob_path(sha)
        try:
            data = self._memory[sha] if path is None else path.read_bytes()
        except (KeyError, OSError):
            raise ModelStoreError(f"model file {sha[:12]} is missing from the store") from None
        if sha256_hex(data) != sha:
            raise ModelStoreError(f"model file {sha[:12]} in the store is damaged (digest differs)")
        return data

    def remove_blob(self, sha: str) -> None:
        """Delete model ``sha``'s file unless some xApp still holds it."""
        if any(sha in entry.models for entry in self.xapps.values()):
            return
        path = self.blob_path(sha)
        if path is None:
            self._memory.pop(sha, None)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # ------------------------------------------------------------------ state

    def entry(self, xapp: str) -> XappModels:
        """The models of ``xapp`` (an empty entry is created on first use)."""
        return self.xapps.setdefault(xapp, XappModels())

    def active(self, xapp: str) -> StoredModel | None:
        entry = self.xapps.get(xapp)
        return entry.active if entry is not None else None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ModelStoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
