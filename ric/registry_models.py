"""The RIC's model registry: deploy, list and roll back the ONNX models xApps run.

Procedures (Admin gRPC for the operator, ``XappPdu`` for the xApps; ``ric/README.md``):

- **Model status** (xApp -> RIC, after each registration once its world is known): the model
  spec the xApp runs models for (`ric.protocol.models.spec_of`; none for an xApp without
  models) and its running model. When the store holds an active model for that xApp name and
  the xApp runs another one, the RIC pushes the stored one (a RIC or xApp restart keeps the
  deployed model); when the store holds none, it keeps the running model as the xApp's first
  (``source = xapp``), so a rollback can return to it.
- **Deploy** (``DeployModel``): refused with a one-line reason when no instance of the xApp is
  connected, when it runs no models, or when `validate_model` fails against its spec (corrupt
  file, wrong shapes, wrong xApp kind or world, non-finite smoke outputs). Otherwise the file is
  stored, becomes the xApp's active model and is pushed (``ModelUpdate``) to every connected
  instance; the reply waits for the first instance's ``ModelActivated`` (the slot it switched
  at) or ``ModelLoadFailed`` (then the deploy is undone and refused with the xApp's reason), or
  for ``RicConfig.model_switch_timeout_s``.
- **Rollback** (``RollbackModel``): the model active before the current one becomes active again
  and is pushed the same way; refused when there is none.
- **List** (``ListModels``): every stored model per xApp with its metadata, whether it is active
  (the registry's choice) and running (an instance reports running it), when it was deployed and
  the slot it was last switched to.

Everything runs on the RIC's event loop; the model checks run in a worker process
(`ric.model_checks`) and the disk writes in one writer thread, so the per-slot paths never wait
for them. Changes of one xApp's models are serialised by a lock per xApp name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ric.config import RicConfig
from ric.logs import LOGGER_NAME, log
from ric.metrics import RicMetrics
from ric.model_checks import ModelChecker
from ric.model_store import ModelStore, ModelStoreError, StoredModel, XappModels, sha256_hex, utc_now_iso
from ric.protocol.gen import e2ap_pb2, services_pb2
from ric.protocol.models import ModelError, ModelInfo
from ric.registry import Registry, XappEntry

_log = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")
Request = Literal["deploy", "rollback"]


@dataclass(frozen=True)
class _Answer:
    """What an xApp instance said about a pushed model."""

    status: Literal["activated", "failed", "left"]
    xapp_id: str
    slot: int = -1
    prepare_ms: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class _Unconfirmed:
    """A deploy or rollback whose reply went out before the xApp answered."""

    previous_stack: list[str]
    stack: list[str]
    previous_model: StoredModel | None


class ModelRegistry:
    """Model procedures of one RIC over its `ModelStore` (module docstring).

    Parameters
    ----------
    config : RicConfig
        ``model_dir`` and ``model_switch_timeout_s``.
    registry : Registry
        The connected xApps (their announced spec and running model live on `XappEntry`).
    metrics : RicMetrics
        Where to count requests and switches.
    """

    def __init__(self, config: RicConfig, registry: Registry, metrics: RicMetrics) -> None:
        self.config = config
        self.registry = registry
        self.metrics = metrics
        self.store = ModelStore(Path(config.model_dir) if config.model_dir else None)
        self._io: ThreadPoolExecutor | None = None
        self.checker = ModelChecker()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waits: dict[tuple[str, str], list[asyncio.Future[_Answer]]] = {}
        self._unconfirmed: dict[tuple[str, str], _Unconfirmed] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Read the store's index; `ModelStoreError` (one line) when it cannot be used."""
        self.store.load()

    @property
    def n_models(self) -> int:
        """Models stored, over every xApp."""
        return sum(len(entry.models) for entry in self.store.xapps.values())

    async def close(self) -> None:
        """Cancel background pushes, wait for pending disk writes, stop the checker."""
        for task in list(self._tasks):
            task.cancel()
        if self._io is not None:
            self._io.shutdown(wait=True, cancel_futures=False)
            self._io = None
        await self.checker.close()

    def _writer(self) -> ThreadPoolExecutor:
        if self._io is None:
            self._io = ThreadPoolExecutor(1, thread_name_prefix="ric-model-io")
        return self._io

    async def _disk(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the writer thread (in order with every other disk access)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer(), fn, *args)

    async def _save(self) -> None:
        await self._disk(self.store.write_index, self.store.index_text())

    def _save_soon(self) -> None:
        """Write the index in the background (in order with every other write)."""
        future = self._writer().submit(self.store.write_index, self.store.index_text())
        future.add_done_callback(_log_write_failure)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _instances(self, name: str) -> list[XappEntry]:
        return [x for x in self.registry.xapps.values() if x.name == name]

    # ------------------------------------------------------------------ xApp side

    def on_status(self, xapp: XappEntry, status: e2ap_pb2.XappModelStatus) -> str | None:
        """An xApp announced its model spec and running model; the problem in one line, if any."""
        spec: dict[str, Any] | None = None
        if status.model_spec_json:
            try:
                parsed = json.loads(status.model_spec_json)
            except json.JSONDecodeError as exc:
                return f"model_spec_json is not JSON ({exc.msg})"
            if not isinstance(parsed, dict):
                return "model_spec_json is not a JSON object"
            spec = parsed
        xapp.models_announced = True
        xapp.model_spec = spec
        xapp.running_sha = status.running_sha256
        log(_log, logging.INFO, "xapp_models", xapp=xapp.xapp_id, runs_models=spec is not None,
            running=status.running_sha256[:12] or None, version=status.running_version or None)
        if spec is None:
            return None
        self.checker.warm_up()
        active = self.store.active(xapp.name)
        if active is not None and active.sha256 != status.running_sha256:
            self._spawn(self._restore(xapp, active.sha256, active.version))
        elif active is None and status.running_sha256 and status.running_model:
            self._spawn(self._adopt(xapp, spec, status))
        return None

    def on_activated(self, xapp: XappEntry, msg: e2ap_pb2.ModelActivated) -> None:
        """An xApp instance switched to model ``msg.sha256`` at ``msg.slot``."""
        xapp.running_sha = msg.sha256
        key = (xapp.name, msg.sha256)
        model = self.store.xapps[xapp.name].models.get(msg.sha256) if xapp.name in self.store.xapps else None
        if model is not None:
            model.activated_at_slot = int(msg.slot)
            self._save_soon()
        self._unconfirmed.pop(key, None)
        self.metrics.model_switches.labels("activated").inc()
        log(_log, logging.INFO, "model_activated", xapp=xapp.xapp_id, sha256=msg.sha256[:12],
            version=model.version if model else None, slot=msg.slot, prepare_ms=round(msg.prepare_ms, 2))
        self._answer(key, _Answer("activated", xapp.xapp_id, int(msg.slot), float(msg.prepare_ms)))

    def on_load_failed(self, xapp: XappEntry, msg: e2ap_pb2.ModelLoadFailed) -> None:
        """An xApp instance could not load model ``msg.sha256``; it keeps running its model."""
        key = (xapp.name, msg.sha256)
        reason = msg.cause.detail or "no reason given"
        self.metrics.model_switches.labels("load_failed").inc()
        log(_log, logging.WARNING, "model_load_failed", xapp=xapp.xapp_id, sha256=msg.sha256[:12], detail=reason)
        if self._answer(key, _Answer("failed", xapp.xapp_id, reason=reason)):
            return
        late = self._unconfirmed.pop(key, None)
        entry = self.store.xapps.get(xapp.name)
        if late is not None and entry is not None and entry.stack == late.stack:
            self._undo(xapp.name, entry, msg.sha256, late.previous_stack, late.previous_model)
            self._save_soon()

    def xapp_left(self, xapp: XappEntry) -> None:
        """An xApp instance left: deploys waiting for it alone learn it."""
        if self._instances(xapp.name):
            return
        for (name, sha), futures in list(self._waits.items()):
            if name == xapp.name:
                self._answer((name, sha), _Answer("left", xapp.xapp_id))
                del futures[:]

    def _answer(self, key: tuple[str, str], answer: _Answer) -> bool:
        """Hand ``answer`` to the requests waiting on ``key``; whether one was waiting."""
        waiting = [f for f in self._waits.get(key, []) if not f.done()]
        for future in waiting:
            future.set_result(answer)
        return bool(waiting)

    async def _restore(self, xapp: XappEntry, sha: str, version: str) -> None:
        """Push the stored active model to an instance that runs another one."""
        try:
            data = await self._disk(self.store.read_blob, sha)
        except ModelStoreError as exc:
            log(_log, logging.ERROR, "model_restore_failed", xapp=xapp.xapp_id, sha256=sha[:12], detail=str(exc))
            return
        if xapp.link.open and self.registry.xapps.get(xapp.link) is xapp:
            xapp.link.send(_update(sha, version, data))
            log(_log, logging.INFO, "model_restore", xapp=xapp.xapp_id, sha256=sha[:12], version=version)

    async def _adopt(self, xapp: XappEntry, spec: dict[str, Any], status: e2ap_pb2.XappModelStatus) -> None:
        """Keep the model an xApp was started with as its first model (the store held none)."""
        data, sha = bytes(status.running_model), status.running_sha256
        if sha256_hex(data) != sha:
            log(_log, logging.WARNING, "model_adopt_skipped", xapp=xapp.xapp_id, detail="digest differs")
            return
        try:
            info = await self.checker.validate(data, spec)
        except ModelError as exc:
            log(_log, logging.WARNING, "model_adopt_skipped", xapp=xapp.xapp_id, detail=str(exc))
            return
        async with self._lock(xapp.name):
            entry = self.store.entry(xapp.name)
            if entry.stack:
                return  # a deploy came first
            try:
                await self._disk(self.store.write_blob, sha, data)
            except ModelStoreError as exc:
                log(_log, logging.ERROR, "model_adopt_failed", xapp=xapp.xapp_id, detail=str(exc))
                return
            entry.models[sha] = _stored(sha, status.running_name, len(data), info, "xapp")
            entry.stack.append(sha)
            self._save_soon()
        log(_log, logging.INFO, "model_adopted", xapp=xapp.xapp_id, sha256=sha[:12], version=_version(info, sha))

    # ------------------------------------------------------------------ operator side

    async def deploy(self, name: str, data: bytes, file_name: str = "") -> services_pb2.ModelChangeReply:
        """Validate ``data`` for xApp ``name``, store it, make it active and push it (module docstring)."""
        sha = sha256_hex(data) if data else ""
        if not name:
            return self._refused("deploy", name, "name the xApp to deploy to", sha)
        if not data:
            return self._refused("deploy", name, "the model file is empty", sha)
        instances = self._instances(name)
        if not instances:
            connected = sorted({x.name for x in self.registry.xapps.values()})
            return self._refused("deploy", name, f"no xApp named {name!r} is connected (connected: "
                                                 f"{', '.join(connected) if connected else 'none'})", sha)
        announced = [x for x in instances if x.models_announced]
        if not announced:
            return self._refused("deploy", name, f"xApp {name!r} has not announced its models yet (it does once "
                                                 "it knows its world); try again", sha)
        spec = next((x.model_spec for x in announced if x.model_spec is not None), None)
        if spec is None:
            return self._refused("deploy", name, f"xApp {name!r} runs no ONNX models (it announced no model spec)", sha)
        try:
            info = await self.checker.validate(data, spec)
        except ModelError as exc:
            return self._refused("deploy", name, str(exc), sha)
        version = _version(info, sha)
        async with self._lock(name):
            entry = self.store.entry(name)
            current = entry.active
            if current is not None and current.sha256 == sha and any(x.running_sha == sha for x in instances):
                self.metrics.model_requests.labels("deploy", "activated").inc()
                return services_pb2.ModelChangeReply(
                    accepted=True, reason="it is already the active model", sha256=sha, version=version,
                    activated_at_slot=current.activated_at_slot)
            previous_stack, previous_model = list(entry.stack), entry.models.get(sha)
            model = _stored(sha, file_name or f"{sha[:12]}.onnx", len(data), info, "deploy")
            if previous_model is not None:
                model.activated_at_slot = previous_model.activated_at_slot
            try:
                await self._disk(self.store.write_blob, sha, data)
                entry.models[sha] = model
                if not entry.stack or entry.stack[-1] != sha:
                    entry.stack.append(sha)
                await self._save()
            except ModelStoreError as exc:
                self._undo(name, entry, sha, previous_stack, previous_model)
                return self._refused("deploy", name, str(exc), sha)
            log(_log, logging.INFO, "model_deployed", xapp=name, sha256=sha[:12], version=version,
                name=model.name, size_bytes=len(data))
            return await self._switch("deploy", name, model, data, previous_stack, previous_model)

    async def rollback(self, name: str) -> services_pb2.ModelChangeReply:
        """Make the model active before the current one of xApp ``name`` active again and push it."""
        async with self._lock(name):
            entry = self.store.xapps.get(name)
            if entry is None or not entry.stack:
                return self._refused("rollback", name, f"the registry holds no model of xApp {name!r}")
            if len(entry.stack) < 2:
                only = entry.models[entry.stack[-1]]
                return self._refused("rollback", name, f"xApp {name!r} has no earlier model to roll back to (its only "
                                                 f"model is {only.version})", only.sha256)
            previous_stack = list(entry.stack)
            entry.stack.pop()
            model = entry.models[entry.stack[-1]]
            try:
                data = await self._disk(self.store.read_blob, model.sha256)
                await self._save()
            except ModelStoreError as exc:
                entry.stack = previous_stack
                return self._refused("rollback", name, str(exc), model.sha256)
            log(_log, logging.INFO, "model_rollback", xapp=name, sha256=model.sha256[:12], version=model.version)
            return await self._switch("rollback", name, model, data, previous_stack, model)

    async def _switch(self, request: Request, name: str, model: StoredModel, data: bytes,
                      previous_stack: list[str], previous_model: StoredModel | None) -> services_pb2.ModelChangeReply:
        """Push ``model`` (already active in the store) and wait for the xApp's answer."""
        sha = model.sha256
        reply = services_pb2.ModelChangeReply(accepted=True, sha256=sha, version=model.version, activated_at_slot=-1)
        # instances that have not announced a model spec yet get the active model when they do
        instances = [x for x in self._instances(name) if x.link.open and x.model_spec is not None]
        if not instances:
            self.metrics.model_requests.labels(request, "unconfirmed").inc()
            reply.reason = f"xApp {name!r} is not connected; it switches when it registers"
            return reply
        key = (name, sha)
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._waits.setdefault(key, []).append(future)
        self._unconfirmed.pop(key, None)
        pdu = _update(sha, model.version, data)
        for xapp in instances:
            xapp.link.send(pdu)
        reply.xapp_ids.extend(x.xapp_id for x in instances)
        timeout_s = self.config.model_switch_timeout_s
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            entry = self.store.entry(name)
            self._unconfirmed[key] = _Unconfirmed(previous_stack, list(entry.stack), previous_model)
            self.metrics.model_requests.labels(request, "unconfirmed").inc()
            reply.reason = f"pushed; the xApp has not confirmed the switch within {timeout_s:g} s"
            return reply
        finally:
            waits = self._waits.get(key, [])
            if future in waits:
                waits.remove(future)
            if not waits:
                self._waits.pop(key, None)
        if answer.status == "activated":
            self.metrics.model_requests.labels(request, "activated").inc()
            reply.activated_at_slot = answer.slot
            reply.prepare_ms = answer.prepare_ms
            return reply
        if answer.status == "left":
            self.metrics.model_requests.labels(request, "unconfirmed").inc()
            reply.reason = f"xApp {name!r} left before confirming; it switches when it registers again"
            return reply
        entry = self.store.entry(name)
        self._undo(name, entry, sha, previous_stack, previous_model)
        await self._save()
        return self._refused(request, name, f"xApp {answer.xapp_id} could not load it: {answer.reason}", sha,
                             version=model.version)

    def _undo(self, name: str, entry: XappModels, sha: str, previous_stack: list[str],
              previous_model: StoredModel | None) -> None:
        """Put xApp ``name``'s models back as they were before a change involving ``sha``."""
        entry.stack = list(previous_stack)
        if previous_model is not None:
            entry.models[sha] = previous_model
        else:
            entry.models.pop(sha, None)
            self.store.remove_blob(sha)
        if not entry.models:
            self.store.xapps.pop(name, None)
        log(_log, logging.INFO, "model_change_undone", xapp=name, sha256=sha[:12])

    def _refused(self, request: Request, name: str, reason: str, sha: str = "",
                 version: str = "") -> services_pb2.ModelChangeReply:
        self.metrics.model_requests.labels(request, "refused").inc()
        log(_log, logging.WARNING, f"model_{request}_refused", xapp=name or None, sha256=sha[:12] or None,
            detail=reason)
        return services_pb2.ModelChangeReply(accepted=False, reason=reason, sha256=sha, version=version,
                                             activated_at_slot=-1)

    def list(self, name: str = "") -> services_pb2.ListModelsReply:
        """Every stored model (of xApp ``name`` only, when given), oldest deployment first per xApp."""
        reply = services_pb2.ListModelsReply()
        running: dict[str, set[str]] = {}
        for xapp in self.registry.xapps.values():
            if xapp.running_sha:
                running.setdefault(xapp.name, set()).add(xapp.running_sha)
        for xapp_name, entry in sorted(self.store.xapps.items()):
            if name and xapp_name != name:
                continue
            active = entry.stack[-1] if entry.stack else ""
            for model in sorted(entry.models.values(), key=lambda m: m.deployed_at):  # stable: ties in store order
                reply.models.add(
                    xapp=xapp_name, name=model.name, version=model.version, sha256=model.sha256,
                    metadata_json=json.dumps(model.metadata, sort_keys=True), active=model.sha256 == active,
                    running=model.sha256 in running.get(xapp_name, set()), deployed_at=model.deployed_at,
                    activated_at_slot=model.activated_at_slot, size_bytes=model.size_bytes, source=model.source)
        return reply


def _version(info: ModelInfo, sha: str) -> str:
    return str(info.metadata.get("version") or sha[:12])


def _stored(sha: str, name: str, size_bytes: int, info: ModelInfo, source: str) -> StoredModel:
    return StoredModel(sha256=sha, name=name, version=_version(info, sha), size_bytes=size_bytes,
                       metadata=info.metadata, deployed_at=utc_now_iso(), source=source)


def _update(sha: str, version: str, data: bytes) -> bytes:
    return e2ap_pb2.XappPdu(slot=-1, model_update=e2ap_pb2.ModelUpdate(sha256=sha, version=version, model=data)
                            ).SerializeToString()


def _log_write_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log(_log, logging.ERROR, "model_store_write_failed", detail=str(exc))
