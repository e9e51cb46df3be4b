"""Every preset runs 200 slots with every simple policy, and the KPIs make sense."""

from __future__ import annotations

import math

import pytest

from e2_sim.scenarios import preset_names
from ntnric.evaluate import evaluate

SIMPLE = ["llq", "full-power", "round-robin", "random"]


@pytest.mark.parametrize("preset", preset_names())
def test_preset_runs_every_simple_policy(preset: str) -> None:
    evaluation = evaluate(preset, SIMPLE, slots=200, seed=1)
    assert [r.name for r in evaluation.results] == SIMPLE
    for result in evaluation.results:
        k = result.kpis
        assert k["slots"] == 200
        for key in ("throughput_mbps", "spectral_efficiency_bps_hz", "qos_violation_rate", "jain_fairness"):
            assert math.isfinite(k[key]) and k[key] >= 0.0, (preset, result.name, key, k[key])
        assert k["qos_violation_rate"] <= 1.0 and k["jain_fairness"] <= 1.0 + 1e-9
        assert k["delivered_bits"] <= k["arrived_bits"] + 1e-6 or k["arrived_bits"] == 0.0
    # a policy that serves users delivers something on every world
    assert evaluation.results[1].kpis["delivered_bits"] > 0


@pytest.mark.parametrize("preset", preset_names())
def test_same_seed_same_kpis(preset: str) -> None:
    first = evaluate(preset, ["round-robin"], slots=50, seed=7).results[0].kpis
    second = evaluate(preset, ["round-robin"], slots=50, seed=7).results[0].kpis
    for key in ("throughput_mbps", "spectral_efficiency_bps_hz", "qos_violation_rate", "delivered_bits"):
        assert first[key] == second[key]
