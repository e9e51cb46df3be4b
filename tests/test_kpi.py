"""KPI accounting formulas."""

from __future__ import annotations

import numpy as np
import pytest

from e2_sim.kpi import KpiAccumulator, jain_index, percentile_summary
from e2_sim.world.base import SlotKpis
from ric.protocol import NodeSpec, WorldSpec


def _spec() -> WorldSpec:
    nodes = tuple(NodeSpec(node_id=i, name=f"bs_{i}", kind="gnb", n_users=2, n_resources=1, max_power_dbm=23.0)
                  for i in range(2))
    return WorldSpec("t", "multicell", 0.01, 2, 1, 1e6, -100.0, nodes)


def test_jain_index_extremes() -> None:
    assert jain_index(np.array([3.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert jain_index(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(0.25)
    assert jain_index(np.array([1.0, 2.0])) == pytest.approx(9.0 / 10.0)
    assert jain_index(np.zeros(4)) == 0.0


def test_percentiles_of_a_ramp() -> None:
    s = percentile_summary(np.arange(1001, dtype=float))
    assert s["p50"] == pytest.approx(500.0) and s["p99"] == pytest.approx(990.0) and s["max"] == 1000.0


def test_accumulator_throughput_fairness_qos_and_censored_delays() -> None:
    spec = _spec()
    acc = KpiAccumulator(spec, batch=1)
    delivered = np.array([[[1e4, 0.0], [2e4, 1e4]]])
    active = np.array([[[True, False], [True, True]]])
    for _ in range(10):
        acc.add(SlotKpis(
            delivered_bits=delivered, arrived_bits=delivered, dropped_bits=np.zeros_like(delivered),
            active=active, qos_checked=active, qos_violated=np.array([[[True, False], [False, False]]]),
            spectral_efficiency_bps_hz=np.array([4.0]), packet_delays_s=[np.array([0.01, 0.03])],
        ))
    out = acc.summary([np.array([0.2])])
    assert out["throughput_mbps"] == pytest.approx(4e4 / 0.01 / 1e6)
    assert out["spectral_efficiency_bps_hz"] == pytest.approx(4.0)
    assert out["qos_violation_rate"] == pytest.approx(10 / 30)
    assert out["jain_fairness"] == pytest.approx(jain_index(np.array([1.0, 2.0, 1.0])))
    # 20 delivered packets (mean 20 ms) + one still queued at 200 ms
    assert out["avg_packet_delay_ms"] == pytest.approx((20 * 20.0 + 200.0) / 21)
    assert out["delivered_packets"] == 20 and out["queued_packets_at_end"] == 1


def test_per_part_throughput_from_a_delivered_bits_breakdown() -> None:
    spec = _spec()
    acc = KpiAccumulator(spec, batch=2)
    zeros = np.zeros((2, 2, 2))
    for slot in range(4):
        parts = np.array([[1e3, 2e3, 3e3], [3e3, 2e3, 1e3]]) * (slot + 1)  # (B, 3): bits per tier this slot
        acc.add(SlotKpis(
            delivered_bits=zeros, arrived_bits=zeros, dropped_bits=zeros, active=zeros > 0, qos_checked=zeros > 0,
            qos_violated=zeros > 0, spectral_efficiency_bps_hz=np.zeros(2),
            extra={"tier_delivered_bits": parts},
        ))
    # per tier: (sum over slots 1..4 = 10) x (world 0 + world 1) / 2 worlds / 0.04 s
    expected = [10 * 4e3 / 2 / 0.04 / 1e6] * 3
    assert acc.summary()["tier_throughput_mbps"] == pytest.approx(expected)


def test_a_flagged_slot_counts_in_the_violation_rate_and_not_in_the_compliant_throughput() -> None:
    spec = _spec()
    acc = KpiAccumulator(spec, batch=2)
    active = np.ones((2, 2, 2), dtype=bool)
    for slot in range(4):
        delivered = np.full((2, 2, 2), 1e3 * (slot + 1))  # 4 users: 4e3 (slot + 1) bits per world
        flag = np.array([slot == 1, slot in (1, 3)])  # world 0 flagged in slot 1; world 1 in slots 1 and 3
        acc.add(SlotKpis(
            delivered_bits=delivered, arrived_bits=delivered, dropped_bits=np.zeros_like(delivered), active=active,
            qos_checked=active, qos_violated=~active, spectral_efficiency_bps_hz=np.zeros(2),
            extra={"interference_violated": flag},
        ))
    out = acc.summary()
    assert out["interference_violation_rate"] == pytest.approx(3 / 8)
    compliant_bits = 4e3 * ((1 + 3 + 4) + (1 + 3))  # world 0 without slot 1, world 1 without slots 1 and 3
    assert out["interference_compliant_throughput_mbps"] == pytest.approx(compliant_bits / 2 / 0.04 / 1e6)
    assert out["throughput_mbps"] == pytest.approx(4e3 * 10 * 2 / 2 / 0.04 / 1e6)
