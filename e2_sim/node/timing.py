"""Per-decision latency of the control loop, hop by hop, as seen from the nodes.

A decision's latency is the time from the node handing the indication of slot t to its transport
(``node_sent``) to the node receiving the control for slot t (``node_recv``). The hop times each
component stamps into the envelope (`HopTimes`) split it into the hops below; all clocks are
`time.monotonic_ns`, comparable across processes on one host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from e2_sim.kpi import percentile_summary

# hop name -> (start stamp, end stamp) of HopTimes
HOPS: dict[str, tuple[str, str]] = {
    "node_to_ric": ("node_sent", "ric_in"),
    "ric_indication": ("ric_in", "ric_out"),
    "ric_to_xapp": ("ric_out", "xapp_in"),
    "xapp_decode_reports": ("xapp_in", "features_done"),
    "policy": ("features_done", "inference_done"),
    "xapp_encode_controls": ("inference_done", "decode_done"),
    "xapp_send": ("decode_done", "xapp_sent"),
    "xapp_to_ric": ("xapp_sent", "ric_ctrl_in"),
    "ric_control": ("ric_ctrl_in", "ric_ctrl_out"),
    "ric_to_node": ("ric_ctrl_out", "node_recv"),
}
STAMPS = ("node_sent", "ric_in", "ric_out", "xapp_in", "features_done", "inference_done", "decode_done",
           "xapp_sent", "ric_ctrl_in", "ric_ctrl_out", "node_recv")


class LatencyRecorder:
    """Collects the hop stamps of every decision (preallocated; grows if needed)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._stamps = np.zeros((capacity, len(STAMPS)), dtype=np.int64)
        self.count = 0

    def add(self, hop_times: Any, node_recv_ns: int) -> None:
        """Record one decision from a received control's ``HopTimes`` and its arrival time."""
        if self.count == self._stamps.shape[0]:
            self._stamps = np.concatenate([self._stamps, np.zeros_like(self._stamps)])
        row = self._stamps[self.count]
        for i, name in enumerate(STAMPS[:-1]):
            row[i] = getattr(hop_times, name)
        row[-1] = node_recv_ns
        self.count += 1

    def stamps(self) -> np.ndarray:
        """Every recorded decision's stamps, int64 ``(n, 11)`` [ns] (columns: `STAMPS`)."""
        return self._stamps[: self.count]

    def last_latency_ns(self) -> int:
        """End-to-end latency of the newest decision [ns] (0 when none)."""
        if self.count == 0:
            return 0
        row = self._stamps[self.count - 1]
        return int(row[-1] - row[0])

    @classmethod
    def merged(cls, parts: Sequence[np.ndarray]) -> LatencyRecorder:
        """One recorder holding the decisions of several (each an int64 ``(n, 11)`` stamps array)."""
        width = len(STAMPS)
        stamps = (np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, width) for p in parts])
                  if parts else np.zeros((0, width), dtype=np.int64))
        recorder = cls(capacity=max(len(stamps), 1))
        recorder._stamps[: len(stamps)] = stamps
        recorder.count = len(stamps)
        return recorder

    def decision_latency_us(self) -> np.ndarray:
        """End-to-end latency of every recorded decision [µs]."""
        s = self._stamps[: self.count]
        return (s[:, -1] - s[:, 0]) / 1e3

    def summary(self) -> dict[str, Any]:
        """``decision_latency_us`` percentiles and ``hops_us`` (per hop percentiles, where stamped)."""
        s = self._stamps[: self.count]
        hops: dict[str, Any] = {}
        for name, (start, end) in HOPS.items():
            a, b = s[:, STAMPS.index(start)], s[:, STAMPS.index(end)]
            valid = (a > 0) & (b > 0)
            if np.any(valid):
                hops[name] = percentile_summary((b[valid] - a[valid]) / 1e3)
        return {"decision_latency_us": percentile_summary(self.decision_latency_us()), "hops_us": hops}
