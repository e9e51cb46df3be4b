"""Episode KPIs from per-slot `SlotKpis`: the numbers `ntnric eval` and `ntnric run` report.

Definitions (the README's JSON schema refers to these):

- ``throughput_mbps``: system throughput, all delivered bits / (slots · slot_s) [Mbit/s],
  averaged over the batch.
- ``spectral_efficiency_bps_hz``: mean over slots of the world's system spectral efficiency.
- ``qos_violation_rate``: violated user-slots / checked user-slots (the world defines a
  violation; 0 when nothing is checked). Worlds may add further checked/violated sets as
  ``SlotKpis.extra["<what>qos_checked"]`` / ``["<what>qos_violated"]``; they count here too.
- ``<part>_throughput_mbps``: for each per-world breakdown ``SlotKpis.extra["<part>_delivered_bits"]``
  (shape ``(B, n)``), the throughput of each of the ``n`` parts (sag: ``tier_throughput_mbps`` of
  the satellite, HAP and local tiers) [Mbit/s].
- ``<flag>_violation_rate``: for each per-world flag ``SlotKpis.extra["<flag>_violated"]``
  (shape ``(B,)``), the fraction of slots it was raised (e.g. ``interference_violation_rate``),
  and ``<flag>_compliant_throughput_mbps``: the system throughput counting only the bits of the
  slots without the flag (cstn: what a policy delivers within the satellite users' interference
  cap; the paper's reward gives a violating slot no throughput).
- ``jain_fairness``: Jain's index (Σx)² / (n·Σx²) over users' mean throughput while active
  (users never active are left out; 0 when nothing was delivered).
- ``avg_packet_delay_ms``: mean delay over delivered packets and, so that a policy that starves
  users is charged for it, packets still queued at the end counted at their age then. Present
  only for worlds with packets, with ``packet_delay_ms`` percentiles over the same set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from e2_sim.world.base import SlotKpis
from ric.protocol import WorldSpec

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def percentile_summary(values: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """p50/p90/p99/p999/max/mean of ``values · scale`` (all 0 for an empty array)."""
    if values.size == 0:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "mean": 0.0, "count": 0}
    scaled = np.asarray(values, dtype=np.float64) * scale
    p50, p90, p99, p999 = np.percentile(scaled, PERCENTILES)
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "p999": float(p999),
        "max": float(scaled.max()),
        "mean": float(scaled.mean()),
        "count": int(scaled.size),
    }


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness (Σx)² / (n·Σx²) of a 1-D array; 0 when all entries are 0 or it is empty."""
    x = np.asarray(x, dtype=np.float64)
    denominator = x.size * float(np.sum(x * x))
    return float(np.sum(x) ** 2 / denominator) if denominator > 0 else 0.0


class KpiAccumulator:
    """Sums `SlotKpis` over an episode of ``batch`` worlds and summarises them.

    Parameters
    ----------
    spec : WorldSpec
        The world's description (slot duration, user axis).
    batch : int
        Number of worlds ``B`` in every `SlotKpis`.
    """

    def __init__(self, spec: WorldSpec, batch: int) -> None:
        shape = (batch, spec.n_nodes, spec.n_users_max)
        self.spec = spec
        self.batch = batch
        self.slots = 0
        self.delivered_bits = np.zeros(shape)
        self.arrived_bits = np.zeros(shape)
        self.dropped_bits = np.zeros(shape)
        self.active_slots = np.zeros(shape)
        self.qos_checked = 0
        self.qos_violated = 0
        self.spectral_efficiency_sum = 0.0
        self.has_packets = False
        self.flag_counts: dict[str, int] = {}
        self.flag_compliant_bits: dict[str, float] = {}
        self.part_bits: dict[str, np.ndarray] = {}
        self._delays: list[np.ndarray] = []

    def add(self, kpis: SlotKpis) -> None:
        """Account one slot."""
        self.slots += 1
        self.delivered_bits += kpis.delivered_bits
        self.arrived_bits += kpis.arrived_bits
        self.dropped_bits += kpis.dropped_bits
        self.active_slots += kpis.active
        self.qos_checked += int(np.count_nonzero(kpis.qos_checked))
        self.qos_violated += int(np.count_nonzero(kpis.qos_violated))
        self.spectral_efficiency_sum += float(np.mean(kpis.spectral_efficiency_bps_hz))
        for name, value in kpis.extra.items():
            if name.endswith("qos_checked"):
                self.qos_checked += int(np.count_nonzero(value))
            elif name.endswith("qos_violated"):
                self.qos_violated += int(np.count_nonzero(value))
            elif name.endswith("_delivered_bits") and np.ndim(value) == 2:
                # a per-world breakdown (B, n), e.g. by tier: reported as throughput per part
                total = self.part_bits.get(name)
                self.part_bits[name] = value.astype(np.float64) if total is None else total + value
            elif name.endswith("_violated") and np.ndim(value) == 1:
                # a per-world flag (B,): reported as the fraction of slots it was raised
                self.flag_counts[name] = self.flag_counts.get(name, 0) + int(np.count_nonzero(value))
                compliant = float(kpis.delivered_bits.sum(axis=(1, 2))[~np.asarray(value, dtype=bool)].sum())
                self.flag_compliant_bits[name] = self.flag_compliant_bits.get(name, 0.0) + compliant
        if kpis.packet_delays_s is not None:
            self.has_packets = True
            self._delays.extend(d for d in kpis.packet_delays_s if d.size)

    def delivered_packet_delays_s(self) -> np.ndarray:
        """Delays of every delivered packet so far, all worlds [s]."""
        return np.concatenate(self._delays) if self._delays else np.zeros(0)

    def summary(self, queued_ages_s: list[np.ndarray] | None = None) -> dict[str, Any]:
        """The episode's KPIs (see the module docstring); ``queued_ages_s`` from the world."""
        slots = max(self.slots, 1)
        duration_s = slots * self.spec.slot_s
        mean_user_bps = np.divide(
            self.delivered_bits,
            self.active_slots * self.spec.slot_s,
            out=np.zeros_like(self.delivered_bits),
            where=self.active_slots > 0,
        )
        fairness = [jain_index(mean_user_bps[b][self.active_slots[b] > 0]) for b in range(self.batch)]
        out: dict[str, Any] = {
            "slots": self.slots,
            "throughput_mbps": float(self.delivered_bits.sum() / self.batch / duration_s / 1e6),
            "spectral_efficiency_bps_hz": self.spectral_efficiency_sum / slots,
            "qos_violation_rate": self.qos_violated / self.qos_checked if self.qos_checked else 0.0,
            "jain_fairness": float(np.mean(fairness)),
            "delivered_bits": float(self.delivered_bits.sum() / self.batch),
            "arrived_bits": float(self.arrived_bits.sum() / self.batch),
            "dropped_bits": float(self.dropped_bits.sum() / self.batch),
        }
        for name, bits in sorted(self.part_bits.items()):
            out[f"{name.removesuffix('_delivered_bits')}_throughput_mbps"] = (
                bits.sum(axis=0) / self.batch / duration_s / 1e6).tolist()
        for name, count in sorted(self.flag_counts.items()):
            flag = name.removesuffix("_violated")
            out[f"{flag}_violation_rate"] = count / (slots * self.batch)
            out[f"{flag}_compliant_throughput_mbps"] = self.flag_compliant_bits[name] / self.batch / duration_s / 1e6
        if self.has_packets:
            delivered = self.delivered_packet_delays_s()
            queued = np.concatenate(queued_ages_s) if queued_ages_s else np.zeros(0)
            charged = np.concatenate([delivered, queued])
            out["avg_packet_delay_ms"] = float(charged.mean() * 1e3) if charged.size else 0.0
            out["packet_delay_ms"] = percentile_summary(charged, 1e3)
            out["delivered_packets"] = int(delivered.size)
            out["queued_packets_at_end"] = int(queued.size)
        return out

    def packet_delays_for_cdf_s(self, queued_ages_s: list[np.ndarray] | None = None) -> np.ndarray:
        """The delays ``avg_packet_delay_ms`` is taken over (delivered + queued at the end) [s]."""
        queued = np.concatenate(queued_ages_s) if queued_ages_s else np.zeros(0)
        return np.concatenate([self.delivered_packet_delays_s(), queued])
