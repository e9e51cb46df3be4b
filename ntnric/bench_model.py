"""``ntnric bench model FILE``: where a learned policy's decision time goes, slot by slot.

The model runs as `xapps.policies.learned.OnnxPolicy` on its scenario's world (one world, the
19 agents of hex19 batched into one onnxruntime call): feature building, inference and action
decoding are timed separately for every slot, on reports the world produced under the model's
own controls.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from e2_sim.kpi import percentile_summary
from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from xapps.policies import PolicyError, make_policy
from xapps.policies.learned import OnnxPolicy


def bench_model(path: str, scenario_name: str | None, slots: int, seed: int = 0) -> dict[str, Any]:
    """Per-slot feature, inference, decode and total times [µs] of model ``path`` (percentiles)."""
    import onnx

    from ric.protocol.models import read_metadata

    if scenario_name is None:
        try:
            scenario_name = str(read_metadata(onnx.load(path, load_external_data=False))["scenario"])
        except Exception as exc:  # a missing or corrupt file: let the policy loader say why
            raise PolicyError(f"model {path}: cannot read its scenario ({type(exc).__name__})") from None
    scenario = load_scenario(scenario_name)
    world = make_world(scenario)
    policy = make_policy(f"onnx:{path}", world.spec, seed=seed)
    assert isinstance(policy, OnnxPolicy)
    reports = world.reset([seed])
    timings = np.zeros((slots, 4), dtype=np.int64)
    for t in range(slots):
        start = time.monotonic_ns()
        controls = policy.decide(reports)
        end = time.monotonic_ns()
        timings[t] = (policy.features_done_ns - start, policy.inference_done_ns - policy.features_done_ns,
                      end - policy.inference_done_ns, end - start)
        reports, _ = world.step(controls)
    names = ("features_us", "inference_us", "decode_us", "decision_us")
    return {
        "kind": "bench-model",
        "model": path,
        "scenario": scenario.name,
        "agents": world.spec.n_nodes,
        "slots": slots,
        "version": policy.metadata.get("version"),
        **{name: percentile_summary(timings[:, i], 1e-3) for i, name in enumerate(names)},
        "fallbacks": policy.fallbacks,
    }
