"""`XappRunner`: connects an `XApp` to a RIC and drives it slot by slot.

It registers the xApp, learns the world from the registration (or from a later node update),
subscribes to every node with the xApp's decision period, assembles each slot's reports (from
one or several indications), calls `XApp.on_reports`, and sends the controls back stamped with
the hop times. When it falls behind it skips to the newest slot (a control for an old slot would
be stale anyway). It re-registers and re-subscribes when the RIC restarts or the link drops.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from ric.protocol import Controls, Reports, WorldSpec, codec
from ric.protocol.gen import e2ap_pb2 as ap
from ric.protocol.sm import REPORT_ARRAYS
from ric.transport.base import TransportError
from ric.transport.client import Client, connect
from xapps.sdk.app import Stamps, XApp

_log = logging.getLogger("ntnric.xapp")
_REREGISTER_CAUSES = {ap.CAUSE_NOT_REGISTERED}
REQUESTOR_ID = 1
IDLE_PROBE_S = 0.5  # with no message for this long, send the RIC a keepalive [s]


@dataclass
class _Pending:
    """Reports of one slot gathered so far."""

    slot: int
    parts: list[tuple[list[int], Reports]] = field(default_factory=list)
    covered: set[int] = field(default_factory=set)
    hop_times: Any = None
    xapp_in_ns: int = 0


class XappRunner:
    """Runs ``app`` against the RIC at ``ric`` (``tcp://...`` ZeroMQ or ``host:port`` gRPC).

    ``busy_poll`` (ZeroMQ) waits for indications without sleeping: lower latency where idle
    wake-ups are slow, at the price of a busy core.
    """

    def __init__(self, app: XApp, ric: str, busy_poll: bool = False) -> None:
        self.app = app
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
        self._send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1,
                              subscription_request=ap.RicSubscriptionRequest(
                                  requestor_id=REQUESTOR_ID, ran_function_id=codec.SLOT_RAN_FUNCTION_ID,
                                  trigger=ap.EventTrigger(period_slots=self.app.period_slots), all_nodes=True)))

    def _learn_world(self, specs: Any) -> None:
        if self.spec is not None or not specs:
            return
        spec = WorldSpec.from_json(next(iter(specs.values())))
        self.spec = spec
        self.names = [n.name for n in spec.nodes]
        self.app.on_start(spec)
        _log.info("world scenario=%s nodes=%d", spec.scenario, spec.n_nodes)

    # ------------------------------------------------------------------ messages

    def _handle(self, pdu: ap.XappPdu, recv_ns: int) -> None:
        which = pdu.WhichOneof("procedure")
        if which == "indication":
            self._on_indication(pdu, recv_ns)
        elif which == "register_response":
            self._registered = True
            self._learn_world(pdu.register_response.world_specs)
            self._subscribe()
        elif which == "node_update":
            self._learn_world(pdu.node_update.world_specs)
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
            self._decide(pending)
            self._pending = None
            self._last_slot = slot

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
        reports, rows = self._assemble(pending)
        stamps = Stamps()
        stamps.features_done = time.monotonic_ns()
        controls = self.app.on_reports(reports, stamps)
        stamps.inference_done = time.monotonic_ns()
        if controls is None:
            return
        self._send_controls(pending, controls, rows, stamps)

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

    # ------------------------------------------------------------------ loop

    def run(self, duration_s: float | None = None) -> dict[str, Any]:
        """Serve until ``duration_s`` passes (forever when None) or the process is interrupted."""
        self._connect()
        end = None if duration_s is None else time.monotonic() + duration_s
        try:
            while end is None or time.monotonic() < end:
                assert self.link is not None
                try:
                    data = self.link.recv_bytes(IDLE_PROBE_S)
                except TransportError as exc:
                    _log.warning("link_lost error=%s", exc)
                    self._connect()
                    continue
                if data is None:
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

    def summary(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "skipped_slots": self.skipped_slots, "refusals": dict(self.refusals)}

    def close(self) -> None:
        if self.link is not None:
            with contextlib.suppress(TransportError):
                self.link.send(ap.XappPdu(transaction_id=self._next_txn(), slot=-1,
                                          deregister_request=ap.XappDeregisterRequest()))
            self.link.close()
            self.link = None

