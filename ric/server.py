"""Running a RIC: `serve` (what ``ntnric ric`` calls), the `Ric` object and `RicThread`.

One asyncio event loop carries everything: the ZeroMQ ROUTERs (driven by their file
descriptors), the gRPC servers (``grpc.aio``), the Admin service and the periodic housekeeping.
The HTTP /metrics and /healthz server runs in its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import zmq

from ric.admin import ADMIN_SERVICE_NAME, AdminService, HttpEndpoint, add_admin
from ric.config import RicConfig
from ric.core import RicCore
from ric.logs import LOGGER_NAME, configure, log
from ric.metrics import RicMetrics
from ric.model_store import ModelStoreError
from ric.transport.base import TransportError
from ric.transport.grpc_server import GrpcServer
from ric.transport.zmq_server import ZmqRouterEndpoint

_log = logging.getLogger(LOGGER_NAME)
TICK_S = 0.25


class RicError(RuntimeError):
    """The RIC cannot start (port in use, bad address); the message is one line for the user."""


@dataclass(frozen=True)
class Endpoints:
    """Bound addresses of a running RIC (None where disabled); ports are the real ones."""

    e2_zmq: str | None = None
    e2_grpc: str | None = None
    xapp_zmq: str | None = None
    xapp_grpc: str | None = None
    admin_grpc: str | None = None
    metrics: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


class Ric:
    """One RIC instance: core, transports, Admin and HTTP endpoints.

    Parameters
    ----------
    config : RicConfig
        Addresses, limits and policies.
    """

    def __init__(self, config: RicConfig) -> None:
        self.config = config
        self.metrics = RicMetrics()
        self.core = RicCore(config, self.metrics)
        self.endpoints = Endpoints()
        self._zmq: list[ZmqRouterEndpoint] = []
        self._grpc: list[GrpcServer] = []
        self._http: HttpEndpoint | None = None
        self._context: zmq.Context | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._poll_task: asyncio.Task[None] | None = None

    async def start(self) -> Endpoints:
        """Bind every endpoint and start serving; raises `RicError` (one line) when one cannot bind."""
        try:
            self.core.models.open()
            endpoints = await self._start()
            if self.config.warm_model_checker:
                self.core.models.checker.warm_up()
            return endpoints
        except (TransportError, ModelStoreError) as exc:
            await self.stop(0)
            raise RicError(str(exc)) from None

    async def _start(self) -> Endpoints:
        cfg, core = self.config, self.core
        loop = asyncio.get_running_loop()
        self._context = zmq.Context()
        bound: dict[str, str | None] = {}
        for field, kind in (("e2_zmq", "e2"), ("xapp_zmq", "xapp")):
            address = getattr(cfg, field)
            if address is None:
                continue
            endpoint = ZmqRouterEndpoint(
                address, kind, core, context=self._context, hwm_msgs=cfg.zmq_hwm_msgs,  # type: ignore[arg-type]
                probe_interval_s=cfg.probe_interval_s, on_drop=core.on_drop,
            )
            self._zmq.append(endpoint)
            bound[field] = endpoint.bind()
        for field, kind, label in (("e2_grpc", "e2", "E2"), ("xapp_grpc", "xapp", "xApp")):
            address = getattr(cfg, field)
            if address is None:
                continue
            server = GrpcServer(address, label)
            server.add_stream(kind, core, queue_msgs=cfg.grpc_queue_msgs, on_drop=core.on_drop)  # type: ignore[arg-type]
            self._grpc.append(server)
            bound[field] = await server.start()
        if cfg.admin_grpc is not None:
            admin = GrpcServer(cfg.admin_grpc, "admin")
            admin.add_servicer(add_admin, AdminService(core, lambda: self.endpoints.as_dict()), ADMIN_SERVICE_NAME)
            self._grpc.append(admin)
            bound["admin_grpc"] = await admin.start()
        if cfg.metrics_port is not None:
            self._http = HttpEndpoint(cfg.metrics_host, cfg.metrics_port, self.metrics.registry, self._health)
            self._http.start()
            bound["metrics"] = self._http.address
        for endpoint in self._zmq:
            endpoint.start(loop)
        self._tick_task = loop.create_task(self._tick_forever(), name="ric-tick")
        if cfg.busy_poll and self._zmq:
            self._poll_task = loop.create_task(self._busy_poll_forever(), name="ric-busy-poll")
        self.endpoints = Endpoints(**bound)
        return self.endpoints

    def _health(self) -> dict[str, object]:
        health = self.core.health()
        health["endpoints"] = self.endpoints.as_dict()
        return health

    async def _busy_poll_forever(self) -> None:
        """Drain the ZeroMQ endpoints in a loop that never sleeps (``RicConfig.busy_poll``).

        Each round yields the core to other processes (``sched_yield``) and to the event loop's
        other tasks (gRPC, probes), whose poll then runs with a zero timeout.
        """
        endpoints = list(self._zmq)
        while True:
            for endpoint in endpoints:
                endpoint.drain()
            os.sched_yield()
            await asyncio.sleep(0)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.core.tick()
            except Exception:
                self.metrics.internal_errors.inc()
                _log.exception("tick_failed")

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop serving: gRPC servers get ``grace_s`` to finish calls, then everything closes."""
        self.core.closing = True
        if self._tick_task is not None:
            self._tick_task.cancel()
            self._tick_task = None
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None
        grace = self.config.grpc_grace_s if grace_s is None else grace_s
        await asyncio.gather(*(server.stop(grace) for server in self._grpc), return_exceptions=True)
        self._grpc.clear()
        for endpoint in self._zmq:
            await endpoint.close()
        self._zmq.clear()
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._context is not None:
            self._context.term()
            self._context = None
        await self.core.models.close()


async def serve(
    config: RicConfig,
    *,
    ready: Callable[[Endpoints], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a RIC until ``stop`` is set, the task is cancelled, or SIGINT/SIGTERM arrives.

    The model registry's store (``config.model_dir``) is read before any endpoint binds.

    Parameters
    ----------
    config : RicConfig
        What to serve where.
    ready : callable, optional
        Called with the bound `Endpoints` once every endpoint is up.
    stop : asyncio.Event, optional
        Set it to stop the RIC gracefully.

    Raises
    ------
    RicError
        An endpoint cannot bind (e.g. ``cannot bind E2 gRPC endpoint 127.0.0.1:36422: address
        already in use or not available``), or the model store cannot be read.
    """
    configure(config.log_level, config.log_format)
    ric = Ric(config)
    endpoints = await ric.start()
    log(_log, logging.INFO, "ric_started", name=config.name, **endpoints.as_dict(),
        model_dir=config.model_dir or "(memory)", models=ric.core.models.n_models)
    stop_event = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop_event.set)
                handled.append(sig)
    if ready is not None:
        ready(endpoints)
    try:
        await stop_event.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await ric.stop()
        log(_log, logging.INFO, "ric_stopped", name=config.name)


class RicThread:
    """A RIC on its own event loop in a background thread (tests and in-process runs).

    ``with RicThread(config) as ric:`` starts it and waits until it is up (`RicError` when it
    cannot bind); ``ric.endpoints`` holds the bound addresses and ``ric.core`` the state.
    """

    def __init__(self, config: RicConfig, start_timeout_s: float = 10.0) -> None:
        self.config = config
        self.endpoints = Endpoints()
        self.ric: Ric | None = None
        self._timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ric", daemon=True)

    @property
    def core(self) -> RicCore:
        assert self.ric is not None
        return self.ric.core

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.ric = Ric(self.config)
            try:
                self.endpoints = await self.ric.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.ric.stop(0.2)

        asyncio.run(main())

    def start(self) -> RicThread:
        self._thread.start()
        if not self._ready.wait(self._timeout_s):
            raise RicError(f"the RIC did not start within {self._timeout_s:g} s")
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[[], object], timeout_s: float = 5.0) -> object:
        """Run ``fn`` on the RIC's loop and return its result (to inspect state safely)."""
        assert self._loop is not None
        result: dict[str, object] = {}
        done = threading.Event()

        def run() -> None:
            try:
                result["value"] = fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        if not done.wait(timeout_s):
            raise TimeoutError("the RIC loop did not answer")
        return result.get("value")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10.0)

    def __enter__(self) -> RicThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
