"""`XappRunner`: connects an `XApp` to a RIC and drives it slot by slot.

It registers the xApp, learns the world from the registration (or from a later node update),
starts the xApp on it (`XApp.on_start`), then subscribes to every node with the xApp's decision
period, assembles each slot's reports (from one or several indications), calls
`XApp.on_reports`, and sends the controls back stamped with the hop times. Subscribing only
after `XApp.on_start` keeps the nodes' slots from starting while the xApp still loads its policy.
When it falls behind it skips to the newest slot (a control for an old slot would be stale
anyway). It re-registers and re-subscribes when the RIC restarts or the link drops.

Models: after each registration, once the world is known, the runner announces the xApp's model
spec and running model (``XappModelStatus``). A model the RIC pushes (``ModelUpdate``) is
prepared by `XApp.prepare_model` in a loader thread while the slots go on with the running model;
at the next slot boundary (right before a slot's decision, or after `LOADING_PROBE_S` without any
message when no slot is in progress) `XApp.activate_model` swaps it in and the RIC learns the
slot (``ModelActivated``: the first slot the new model decides), or the reason it could not be
prepared (``ModelLoadFailed``; the running model stays).

Tiers (`xapps.sdk.app`, "Tiers and constraints"): the runner subscribes to `XApp.nodes`, sends the
constraints an xApp sets with `XApp.constrain` ahead of the slot's controls, keeps `XApp.allowed`
from the RIC's ``constraint_notice`` messages, and at the slots where the tier above re-decides
holds the decision until the notices of that slot are in (at most ``constraint_wait_s``).
Per decision it records the latency from the node's report to the control leaving the xApp
(``node_sent`` -> ``xapp_sent``, both this host's monotonic clock) and the time spent waiting
for constraints; `XappRunner.summary` gives their percentiles.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from ric.protocol import Controls, Reports, WorldSpec, codec
from ric.protocol.gen import e2ap_pb2 as ap
from ric.protocol.models import ModelError
from ric.protocol.sm import REPORT_ARRAYS
from ric.transport.base import TransportError
from ric.transport.client import Client, connect
from xapps.sdk.app import Stamps, XApp

_log = logging.getLogger("ntnric.xapp")
_REREGISTER_CAUSES = {ap.CAUSE_NOT_REGISTERED}
REQUESTOR_ID = 1
IDLE_PROBE_S = 0.5  # with no message for this long, send the RIC a keepalive [s]
LOADING_PROBE_S = 0.05  # while a model loads, no message for this long means no slot in progress [s]
LATENCY_WINDOW = 200_000  # decision latencies kept for the summary's percentiles


@dataclass
class _Pending:
    """Reports of one slot gathered so far."""

    slot: int
    parts: list[tuple[list[int], Reports]] = field(default_factory=list)
    covered: set[int] = field(default_factory=set)
    hop_times: Any = None
    xapp_in_ns: int = 0


@dataclass
class _Load:
    """A pushed model being prepared in the loader thread."""

    sha256: str
    version: str
    future: Future[tuple[Any, float]]


class XappRunner:
    """Runs ``app`` against the RIC at ``ric`` (``tcp://...`` ZeroMQ or ``host:port`` gRPC).

    ``busy_poll`` (ZeroMQ) waits for indications without sleeping: lower latency where idle
    wake-ups are slow, at the price of a busy core. ``constraint_wait_s`` bounds how long a slot's
    decision waits for the tier above's constraint notices [s] (module docstring).
    """

    def __init__(self, app: XApp, ric: str, busy_poll: bool = False, constraint_wait_s: float = 1.0,
                 progress: Callable[[dict[str, Any]], None] | None = None, progress_interval_s: float = 0.5) -> None:
        self.app = app
        self.progress = progress
        self.progress_interval_s = progress_interval_s
        self.constraint_wait_s = constraint_wait_s
        self.constraints_accepted = 0
        self.constraint_refusals: Counter[str] = Counter()
        self.constraint_wait_timeouts = 0
        self._latency_us: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._wait_us: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._waiting: _Pending | None = None
        self._wait_since_ns = 0
        self.ric = ric
        self.busy_poll = busy_poll
        self.link: Client[ap.XappPdu] | None = None
        self.spec: WorldSpec | None = None
        self.subscribed: set[int] = set()  # node ids admitted to our subscription
        self.names: list[str] = []
        self.decisions = 0
        self.skipped_slots = 0
        self.refusals: Counter[str] = Counter()
        self._txn = 0
        self._pending: _Pending | None = None
        self._last_slot = -1
        self._registered = False
        self.models_activated = 0
        self.model_load_failures = 0
        self._loader: ThreadPoolExecutor | None = None
        self._loads: deque[_Load] = deque()
        self._switched: list[tuple[str, float]] = []  # activated, not yet reported: (sha256, prepare_ms)
        self._stopping = False

    # ------------------------------------------------------------------ connection

    def _next_txn(self) -> int:
        self._txn += 1
        return self._txn

    def _send(self, pdu: ap.XappPdu) -> None:
        assert self.link is not None
        try:
            self.link.send(pdu)
        except TransportError as exc:
            _log.warning("send_failed error=%s", exc)
            self._connect()

    def _connect(self) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
        self._registered = False
        self.subscribed.clear()
        while self.link is None:
            try:
                self.link = connect(self.ric, "xapp", busy_poll=self.busy_poll)
            except TransportError as exc:
                _log.info("ric_unreachable error=%s", exc)
                time.sleep(0.2)
        self._register()

    def _register(self) -> None:
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1, register_request=ap.XappRegisterRequest(
            name=self.app.name, tier=self.app.tier, may_constrain=self.app.may_constrain)))

    def _subscribe(self) -> None:
        assert self.spec is not None
        request = ap.RicSubscriptionRequest(requestor_id=REQUESTOR_ID, ran_function_id=codec.SLOT_RAN_FUNCTION_ID,
                                            trigger=ap.EventTrigger(period_slots=self.app.period_slots))
        chosen = self.app.nodes(self.spec)
        if chosen is None:
            request.all_nodes = True
        else:
            request.nodes.extend(self.names[k] for k in chosen)
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1, subscription_request=request))

    def _ready(self) -> None:
        """Registered and started on its world: subscribe and announce the models."""
        self._subscribe()
        self._announce_models()

    def _learn_world(self, specs: Any) -> bool:
        """Start the xApp on the first world spec seen; whether it started now."""
        if self.spec is not None or not specs:
            return False
        spec = WorldSpec.from_json(next(iter(specs.values())))
        self.spec = spec
        self.names = [n.name for n in spec.nodes]
        self.app.allowed = np.ones((spec.n_nodes, spec.n_resources), dtype=bool)
        self.app.constraint_slot = np.full(spec.n_nodes, -1, dtype=np.int64)
        self.app.on_start(spec)
        _log.info("world scenario=%s nodes=%d", spec.scenario, spec.n_nodes)
        return True

    # ------------------------------------------------------------------ models

    def _announce_models(self) -> None:
        """Tell the RIC what models this xApp runs and which one runs now."""
        status = ap.XappModelStatus()
        spec = self.app.model_spec()
        if spec is not None:
            status.model_spec_json = json.dumps(spec, sort_keys=True)
            running = self.app.running_model()
            if running is not None:
                status.running_sha256 = running.sha256
                status.running_version = running.version
                status.running_name = running.name
                status.running_model = running.data
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1, model_status=status))

    def _on_model_update(self, update: ap.ModelUpdate) -> None:
        data = bytes(update.model)
        if hashlib.sha256(data).hexdigest() != update.sha256:
            self._load_failed(update.sha256, "the model's bytes do not match its sha256")
            return
        if self._loader is None:
            self._loader = ThreadPoolExecutor(1, thread_name_prefix="model-loader")
        self._loads.append(_Load(update.sha256, update.version, self._loader.submit(self._prepare, data)))
        _log.info("model_loading sha256=%s version=%s", update.sha256[:12], update.version)

    def _prepare(self, data: bytes) -> tuple[Any, float]:
        """In the loader thread: the prepared model and the time it took [ms]."""
        start = time.perf_counter()
        prepared = self.app.prepare_model(data)
        return prepared, (time.perf_counter() - start) * 1e3

    def _activate_ready(self) -> None:
        """Swap in every prepared model, in the order they came (a slot boundary)."""
        while self._loads and self._loads[0].future.done():
            load = self._loads.popleft()
            try:
                prepared, prepare_ms = load.future.result()
                self.app.activate_model(prepared)
            except ModelError as exc:
                self._load_failed(load.sha256, str(exc))
                continue
            except Exception as exc:  # a loader bug must not stop the slots; the RIC learns it
                _log.exception("model_prepare_crashed sha256=%s", load.sha256[:12])
                self._load_failed(load.sha256, f"{type(exc).__name__}: {exc}")
                continue
            self._switched.append((load.sha256, prepare_ms))

    def _report_switched(self, slot: int) -> None:
        for sha, prepare_ms in self._switched:
            self.models_activated += 1
            _log.info("model_activated sha256=%s slot=%d prepare_ms=%.1f", sha[:12], slot, prepare_ms)
            self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=slot, model_activated=ap.ModelActivated(
                sha256=sha, slot=slot, prepare_ms=prepare_ms)))
        self._switched.clear()

    def _load_failed(self, sha: str, reason: str) -> None:
        self.model_load_failures += 1
        _log.warning("model_load_failed sha256=%s detail=%s", sha[:12], reason)
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1, model_load_failed=ap.ModelLoadFailed(
            sha256=sha, cause=ap.Cause(code=ap.CAUSE_INVALID_VALUE, detail=reason))))

    # ------------------------------------------------------------------ messages

    def _handle(self, pdu: ap.XappPdu, recv_ns: int) -> None:
        which = pdu.WhichOneof("procedure")
        if which == "indication":
            self._on_indication(pdu, recv_ns)
        elif which == "register_response":
            self._registered = True
            self._learn_world(pdu.register_response.world_specs)
            if self.spec is not None:
                self._ready()
        elif which == "node_update":
            if self._learn_world(pdu.node_update.world_specs) and self._registered:
                self._ready()
            elif pdu.node_update.event != ap.NodeUpdate.EVENT_ADDED:
                self._forget_constraints([n.name for n in pdu.node_update.nodes])  # the RIC cleared them
        elif which == "constraint_notice":
            self._on_constraint_notice(pdu.slot, pdu.constraint_notice)
        elif which == "constraint_ack":
            self.constraints_accepted += len(pdu.constraint_ack.nodes)
        elif which == "constraint_failure":
            for refusal in pdu.constraint_failure.refused:
                cause = ap.CauseCode.Name(refusal.cause.code).removeprefix("CAUSE_").lower()
                self.constraint_refusals[cause] += 1
                _log.warning("constraint_refused slot=%d node=%s cause=%s detail=%s", pdu.slot, refusal.node, cause,
                             refusal.cause.detail)
        elif which == "model_update":
            self._on_model_update(pdu.model_update)
        elif which == "subscription_response":
            index = {name: i for i, name in enumerate(self.names)}
            for item in pdu.subscription_response.admitted:
                if item.node in index:
                    self.subscribed.add(index[item.node])
        elif which == "subscription_failure":
            failure = pdu.subscription_failure
            if failure.cause.code != ap.CAUSE_DUPLICATE:  # a duplicate means we are subscribed already
                _log.warning("subscription_failed detail=%s", failure.cause.detail)
        elif which == "control_failure":
            for refusal in pdu.control_failure.refused:
                cause = ap.CauseCode.Name(refusal.cause.code).removeprefix("CAUSE_").lower()
                self.refusals[cause] += 1
                self.app.on_refused(pdu.slot, refusal.node, cause, refusal.cause.detail)
        elif which == "error_indication":
            err = pdu.error_indication
            _log.warning("error_indication cause=%s detail=%s", err.cause.code, err.cause.detail)
            if err.cause.code in _REREGISTER_CAUSES and self._registered:
                # the RIC no longer knows us (it restarted behind a reconnecting transport)
                self._registered = False
                self.subscribed.clear()
                self._register()
        elif which == "register_failure":
            raise SystemExit(f"the RIC refused xApp {self.app.name!r}: {pdu.register_failure.cause.detail}")

    def _on_indication(self, pdu: ap.XappPdu, recv_ns: int) -> None:
        slot = pdu.slot
        if self.spec is None or (slot <= self._last_slot and (self._pending is None or slot != self._pending.slot)):
            return
        try:
            node_ids, reports = codec.decode_reports(pdu.indication.report)
        except codec.CodecError as exc:
            _log.warning("bad_indication slot=%d error=%s", slot, exc)
            return
        if self._pending is None or self._pending.slot != slot:
            if self._pending is not None:
                self.skipped_slots += 1
            self._pending = _Pending(slot)
        pending = self._pending
        pending.parts.append((node_ids, reports))
        pending.covered.update(node_ids)
        pending.hop_times = pdu.t
        pending.xapp_in_ns = recv_ns
        if self.subscribed <= pending.covered:
            self._pending = None
            self._last_slot = slot
            if self._waiting is not None:  # a newer slot is complete: the held one cannot wait longer
                self.constraint_wait_timeouts += 1
                self._decide(self._waiting)
                self._waiting = None
            if self._constraints_ready(slot):
                self._decide(pending)
            else:
                self._waiting = pending
                self._wait_since_ns = time.monotonic_ns()

    # ------------------------------------------------------------------ constraints

    def _on_constraint_notice(self, slot: int, notice: ap.ConstraintNotice) -> None:
        if self.spec is None:
            return
        index = {name: i for i, name in enumerate(self.names)}
        for state in notice.nodes:
            k = index.get(state.node)
            if k is None:
                continue
            if len(state.allowed) == self.spec.n_resources:
                self.app.allowed[k] = np.asarray(state.allowed, dtype=bool)
            else:
                self.app.allowed[k] = True
            self.app.constraint_slot[k] = max(int(self.app.constraint_slot[k]), slot)

    def _forget_constraints(self, names: list[str]) -> None:
        index = {name: i for i, name in enumerate(self.names)}
        for name in names:
            if name in index and self.app.allowed.shape[0] > index[name]:
                self.app.allowed[index[name]] = True
                self.app.constraint_slot[index[name]] = -1

    def _constraints_ready(self, slot: int) -> bool:
        """Whether the decision of ``slot`` may go: no constraint change due, or every notice in."""
        period = self.app.constraint_period_slots
        if period <= 0 or slot % period or not self.subscribed:
            return True
        rows = np.fromiter(self.subscribed, dtype=np.intp)
        return bool((self.app.constraint_slot[rows] >= slot).all())

    def _release_waiting(self, now_ns: int) -> None:
        """Decide the held slot once its constraint notices are in or ``constraint_wait_s`` passed."""
        waiting = self._waiting
        if waiting is None:
            return
        if self._constraints_ready(waiting.slot):
            self._waiting = None
            self._decide(waiting)
        elif now_ns - self._wait_since_ns >= self.constraint_wait_s * 1e9:
            self._waiting = None
            self.constraint_wait_timeouts += 1
            _log.warning("constraint_wait_timeout slot=%d waited_s=%.3f", waiting.slot, self.constraint_wait_s)
            self._decide(waiting)

    def _send_constraints(self, slot: int) -> None:
        items = self.app.take_constraints()
        if not items:
            return
        update = ap.ConstraintUpdate()
        for node, allowed in items:
            if allowed is None:
                update.items.append(ap.ConstraintItem(node=self.names[node], clear=True))
            else:
                update.items.append(ap.ConstraintItem(node=self.names[node], allowed=allowed.tolist()))
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=slot, constraint_update=update))

    def _assemble(self, pending: _Pending) -> tuple[Reports, list[int]]:
        assert self.spec is not None
        k = self.spec.n_nodes
        if len(pending.parts) == 1 and pending.parts[0][0] == list(range(k)):
            return pending.parts[0][1], list(range(k))
        first = pending.parts[0][1]
        full = {name: np.zeros((1, k, *getattr(first, name).shape[2:]), getattr(first, name).dtype)
                for name in REPORT_ARRAYS}
        extra = {name: np.zeros((1, k, *a.shape[2:]), a.dtype) for name, a in first.extra.items()}
        rows: list[int] = []
        for ids, part in pending.parts:
            for name in REPORT_ARRAYS:
                full[name][0, ids] = getattr(part, name)[0]
            for name in extra:
                extra[name][0, ids] = part.extra[name][0]
            rows.extend(ids)
        return Reports(slot=pending.slot, extra=extra, **full), sorted(set(rows))

    def _decide(self, pending: _Pending) -> None:
        if self._loads:
            self._activate_ready()
        reports, rows = self._assemble(pending)
        stamps = Stamps()
        start = time.monotonic_ns()
        controls = self.app.on_reports(reports, stamps)
        end = time.monotonic_ns()
        # what the xApp did not mark itself: features end where it was called, inference where it returned
        stamps.features_done = stamps.features_done or start
        stamps.inference_done = stamps.inference_done or end
        self._send_constraints(pending.slot)
        if pending.xapp_in_ns and start > pending.xapp_in_ns:
            self._wait_us.append((start - pending.xapp_in_ns) / 1e3)
        if controls is not None:
            self._send_controls(pending, controls, rows, stamps)
        if self._switched:
            self._report_switched(pending.slot)

    def _send_controls(self, pending: _Pending, controls: Controls, rows: list[int], stamps: Stamps) -> None:
        out = ap.XappPdu(transaction_id=self._next_txn(), slot=pending.slot)
        out.t.CopyFrom(pending.hop_times)
        out.t.xapp_in = pending.xapp_in_ns
        out.t.features_done = stamps.features_done
        out.t.inference_done = stamps.inference_done
        req = out.control_request
        req.ran_function_id = codec.SLOT_RAN_FUNCTION_ID
        req.nodes.extend(self.names[r] for r in rows)
        codec.encode_controls(controls, pending.slot, rows, out=req.control)
        out.t.decode_done = time.monotonic_ns()
        out.t.xapp_sent = out.t.decode_done
        self._send(out)
        self.decisions += 1
        if pending.hop_times is not None and pending.hop_times.node_sent:
            self._latency_us.append((out.t.xapp_sent - pending.hop_times.node_sent) / 1e3)

    # ------------------------------------------------------------------ loop

    def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Serve until ``duration_s`` passes (forever when None), `stop` is called or the process is interrupted."""
        self._stopping = False
        self._connect()
        end = None if duration_s is None else time.monotonic() + duration_s
        next_progress = time.monotonic() + self.progress_interval_s
        try:
            while not self._stopping and (end is None or time.monotonic() < end):
                if self.progress is not None and time.monotonic() >= next_progress:
                    next_progress = time.monotonic() + self.progress_interval_s
                    self.progress(self.progress_line())
                assert self.link is not None
                timeout_s = LOADING_PROBE_S if self._loads else IDLE_PROBE_S
                if self._waiting is not None:
                    left_s = self.constraint_wait_s - (time.monotonic_ns() - self._wait_since_ns) / 1e9
                    timeout_s = max(0.0, min(timeout_s, left_s))
                try:
                    data = self.link.recv_bytes(timeout_s)
                except TransportError as exc:
                    _log.warning("link_lost error=%s", exc)
                    self._connect()
                    continue
                if data is None:
                    if self._waiting is not None:
                        self._release_waiting(time.monotonic_ns())
                        continue
                    if self._loads:  # no slot in progress: this is a slot boundary too
                        self._activate_ready()
                        self._report_switched(self._pending.slot if self._pending else self._last_slot + 1)
                        continue
                    if not self._registered:
                        self._register()  # unanswered (the RIC was not up yet): ask again
                    else:
                        # idle: probe the RIC; one that restarted answers NOT_REGISTERED and we register again
                        self._send(ap.XappPdu(slot=-1, keepalive=ap.Keepalive()))
                    continue
                self._on_bytes(data)
        finally:
            self.close()
        return self.summary()

    def _on_bytes(self, data: bytes) -> None:
        """Handle one envelope, first draining what else is queued so stale slots are skipped."""
        assert self.link is not None
        batch: list[tuple[ap.XappPdu, int]] = []
        raw: bytes | None = data
        while raw is not None:
            try:
                batch.append((ap.XappPdu.FromString(raw), time.monotonic_ns()))
            except DecodeError:
                _log.warning("unreadable_frame bytes=%d", len(raw))
            raw = self.link.recv_bytes(0.0)
        newest = max((p.slot for p, _ in batch if p.WhichOneof("procedure") == "indication"), default=-1)
        for pdu, recv_ns in batch:
            if pdu.WhichOneof("procedure") == "indication" and pdu.slot < newest:
                self.skipped_slots += 1
                continue
            self._handle(pdu, recv_ns)
        if self._waiting is not None:
            self._release_waiting(time.monotonic_ns())

    def stop(self) -> None:
        """Ask `run` (in another thread) to return; it does within `IDLE_PROBE_S`."""
        self._stopping = True

    def progress_line(self) -> dict[str, Any]:
        """What a live view shows of this xApp: decisions, refusals, last slot, recent latency [µs]."""
        recent = deque(itertools.islice(reversed(self._latency_us), 2000))
        return {"name": self.app.name, "tier": self.app.tier, "slot": self._last_slot, "decisions": self.decisions,
                "refusals": sum(self.refusals.values()), "constraint_refusals": sum(self.constraint_refusals.values()),
                "constraint_wait_timeouts": self.constraint_wait_timeouts, "latency_us": _percentiles(recent)}

    def summary(self) -> dict[str, Any]:
        """Decisions, skipped slots, refusals by cause, constraints, latencies, model switches and
        the xApp's own `XApp.stats`.

        ``latency_us``: node report sent -> control sent by this xApp [µs] (``count``, ``p50``,
        ``p90``, ``p99``, ``max``); ``constraint_wait_us``: indication in -> decision start [µs],
        the time a slot waited for its constraints (and for the rest of its reports).
        """
        return {"name": self.app.name, "tier": self.app.tier, "period_slots": self.app.period_slots,
                "decisions": self.decisions, "skipped_slots": self.skipped_slots, "refusals": dict(self.refusals),
                "constraints_accepted": self.constraints_accepted,
                "constraint_refusals": dict(self.constraint_refusals),
                "constraint_wait_timeouts": self.constraint_wait_timeouts,
                "latency_us": _percentiles(self._latency_us), "constraint_wait_us": _percentiles(self._wait_us),
                "models_activated": self.models_activated, "model_load_failures": self.model_load_failures,
                **self.app.stats()}

    def close(self) -> None:
        if self._loader is not None:
            self._loader.shutdown(wait=False, cancel_futures=True)
            self._loader = None
        if self.link is not None:
            with contextlib.suppress(TransportError):
                self.link.send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1,
                                          deregister_request=ap.XappDeregisterRequest()))
            self.link.close()
            self.link = None



def _percentiles(samples: deque[float]) -> dict[str, float]:
    """``count``, ``p50``, ``p90``, ``p99``, ``max`` of ``samples`` (zeros when empty)."""
    if not samples:
        return {"count": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    values = np.fromiter(samples, dtype=np.float64)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"count": int(values.size), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(values.max())}
