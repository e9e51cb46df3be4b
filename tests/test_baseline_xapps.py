"""Every baseline runs as an xApp through E2 and, in lockstep, matches its direct evaluation."""

from __future__ import annotations

import pytest

from e2_sim.scenarios import load_scenario
from ntnric.emulation import EmulationConfig, run_document, run_emulation
from ntnric.evaluate import run_policy
from xapps.policies import policy_class
from xapps.policies.allocation import reduced_overrides

SLOTS = 150
KPIS = ("throughput_mbps", "spectral_efficiency_bps_hz", "qos_violation_rate", "jain_fairness", "delivered_bits")

CASES = [
    ("hex19", "fp", {}),
    ("hex19", "wmmse", {}),
    ("random19", "fitlinq", {}),
    ("conflict8", "gms", {}),
    ("conflict8", "qcsma", {}),
    ("cstn", "ara", {}),
    ("cstn", "average-power", {}),
    ("cstn", "random-power", {}),
    ("tn-ntn-srb", "equal-split", {}),
    ("sag", "random-allocation", {}),
    ("tn-ntn-srb", "exhaustive", reduced_overrides("srb")),
]


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "policy", "overrides"), CASES, ids=[f"{s}-{p}" for s, p, _ in CASES])
def test_baseline_as_xapp_matches_direct_evaluation(scenario: str, policy: str, overrides: dict[str, object]) -> None:
    config = EmulationConfig(scenario=scenario, policy=policy, mode="lockstep", slots=SLOTS, seed=11,
                             overrides=tuple(f"{k}={v}" for k, v in overrides.items()),
                             genie_csi=policy_class(policy).genie)
    document = run_document(config, run_emulation(config))
    scenario_obj = load_scenario(scenario, overrides)
    direct = run_policy(scenario_obj, policy, scenario_obj.default_load, SLOTS, seed=11).kpis
    emulated = document["policies"][policy]
    assert document["misses"]["missed"] == 0
    for key in KPIS:
        assert emulated[key] == direct[key], (key, emulated[key], direct[key])
    if "avg_packet_delay_ms" in direct:
        assert emulated["avg_packet_delay_ms"] == direct["avg_packet_delay_ms"]
