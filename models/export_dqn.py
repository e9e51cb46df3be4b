"""``ntnric export`` of a ``maddqn`` checkpoint: its Q-network to an ONNX file the xApp can run.

The graph (`models.maddqn.OnnxQNetwork`) maps ``obs`` (N, dim) and ``h_in`` (N, 1) to ``logits``
(N, (L+1)^S) = the Q-values and ``h_out`` = ``h_in`` (a feed-forward model under the recurrent
contract of `ric.protocol.models`); ``N`` is dynamic. Metadata keys as `models.export`.
Parity: the network runs in torch and in onnxruntime on a recorded batch (the observations of a
greedy rollout in its scenario); the export fails when the largest absolute difference exceeds
``tolerance`` or when a greedy action differs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.export import (
    OPSET,
    PARITY_SLOTS,
    PARITY_TOLERANCE,
    PARITY_WORLDS,
    ExportError,
    model_version,
    onnx_with_parity,
    write_model,
)
from models.maddqn import TRAINER, CstnEnv, MaddqnConfig, OnnxQNetwork, QNetwork, greedy_actions, network_of
from ric.protocol.models import (
    MODEL_FORMAT,
)
from xapps.policies.learned_cstn import CSTN_XAPP_KIND, cstn_action_spec, cstn_observation_spec

#: Size of the pass-through state of a feed-forward model.
STATE_SIZE = 1


def recorded_batch(q: QNetwork, config: MaddqnConfig, slots: int = PARITY_SLOTS, worlds: int = PARITY_WORLDS
                   ) -> np.ndarray:
    """Observations ``(slots·worlds·K, dim)`` of a greedy rollout of ``q``."""
    env = CstnEnv(config, worlds)
    obs = env.reset([config.eval_seed + 1 + i for i in range(worlds)])
    rows = []
    for _ in range(slots):
        rows.append(obs.reshape(-1, obs.shape[-1]).copy())
        obs, _, _ = env.step(greedy_actions(q, obs))
    return np.concatenate(rows)


def export_dqn(checkpoint: dict[str, Any], out: str | Path, tolerance: float = PARITY_TOLERANCE) -> dict[str, Any]:
    """Write ``out`` (ONNX) from a loaded ``maddqn`` checkpoint; return its metadata. `ExportError` on failure."""
    config = MaddqnConfig.from_dict(checkpoint["config"])
    q = network_of(checkpoint)
    env = CstnEnv(config, 1)
    spec = env.spec
    if checkpoint["spec"]["obs_dim"] != env.obs_dim or checkpoint["spec"]["n_actions"] != env.n_actions:
        raise ExportError(f"checkpoint's observation/action sizes no longer match scenario {config.scenario!r}")
    graph = OnnxQNetwork(q).eval()
    k = env.n_agents
    example = (torch.zeros(k, env.obs_dim), torch.zeros(k, STATE_SIZE))
    obs = recorded_batch(q, config)
    h = np.zeros((obs.shape[0], STATE_SIZE), dtype=np.float32)
    model, parity = onnx_with_parity(graph, example, (obs, h), [env.n_actions], tolerance)

    progress = checkpoint["progress"]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metadata = {
        "format": MODEL_FORMAT,
        "xapp_kind": CSTN_XAPP_KIND,
        "trainer": TRAINER,
        "scenario": spec.scenario,
        "world_kind": spec.world_kind,
        "load": env.load,
        "agents": k,
        "steps": int(progress["slots"]),
        "version": model_version(spec.scenario, created, q.state_dict()),
        "observation": cstn_observation_spec(spec),
        "action": cstn_action_spec(spec),
        "recurrent": {"cell": "none", "hidden": STATE_SIZE},
        "sharing": "shared",
        "opset": OPSET,
        "parity": parity,
        "training": {"wall_s": float(progress["wall_s"]), "best_eval_throughput_mbps":
                     progress.get("best_throughput_mbps"), "best_eval_violation_rate":
                     progress.get("best_violation_rate"), "best_at_slots": progress.get("best_slots")},
        "created_utc": created.isoformat().replace("+00:00", "Z"),
    }
    return write_model(model, metadata, out)
