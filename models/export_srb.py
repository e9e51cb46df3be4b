"""Export of a ``cmappo`` checkpoint (SRB agents, or the flat MAPPO / IPPO baselines) to one ONNX file.

The graph is `models.cmappo.SeqActor`: ``obs`` = BS rows (N, row_dim) (`xapps.policies.learned_srb`)
and ``h_in`` (N, 1) → ``logits`` (N, F·(U+1)) and ``h_out`` = ``h_in``. It holds the whole
sequence of a BS's agents: the loop over the SRBs is unrolled in the graph, each agent's
observation is assembled from the BS row and the rates its predecessors granted (computed in the
graph from their greedy actions and the SRB gains), so one ``session.run`` decides every SRB of
every BS of every world. Parity: torch and onnxruntime run on the BS rows of a greedy rollout in
the checkpoint's scenario; the export fails when the largest |Δ| of the scores exceeds
``tolerance`` or when a greedy action differs (`models.export.onnx_with_parity`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.cmappo import TRAINER, CmappoConfig, SeqActor, greedy_actions, load_checkpoint, network_of
from models.config import TrainingError
from models.export import OPSET, PARITY_TOLERANCE, ExportError, model_version, onnx_with_parity, write_model
from models.srb_env import SrbEnv
from ric.protocol.models import MODEL_FORMAT
from xapps.policies.learned_srb import SRB_XAPP_KIND, srb_action_spec, srb_observation_spec

PARITY_SLOTS = 16
PARITY_WORLDS = 2
STATE_SIZE = 1


def recorded_rows(actor: SeqActor, config: CmappoConfig, slots: int = PARITY_SLOTS, worlds: int = PARITY_WORLDS
                  ) -> np.ndarray:
    """BS rows ``(slots·worlds·K, row_dim)`` of a greedy rollout of ``actor`` in the config's scenario."""
    env = SrbEnv(config.scenario, load=config.load, batch=worlds, overrides=config.overrides)
    rows = env.reset(config.eval_seed + 1)
    out = []
    for _ in range(slots):
        out.append(rows.reshape(-1, rows.shape[-1]).copy())
        rows, _, _ = env.step(greedy_actions(actor, rows))
    return np.concatenate(out)


def export_actor(actor: SeqActor, env: SrbEnv, rows: np.ndarray, tolerance: float = PARITY_TOLERANCE
                 ) -> tuple[Any, dict[str, Any]]:
    """``actor`` as an ONNX model and its parity report on the BS ``rows`` (N, row_dim)."""
    actor = actor.eval()
    k = env.layout.n_nodes
    example = (torch.zeros(k, env.row_dim), torch.zeros(k, STATE_SIZE))
    h = np.zeros((rows.shape[0], STATE_SIZE), dtype=np.float32)
    heads = list(env.decoder.heads)
    return onnx_with_parity(actor, example, (rows.astype(np.float32), h), heads, tolerance)


def export_srb(checkpoint_path: str | Path, out: str | Path, tolerance: float = PARITY_TOLERANCE) -> dict[str, Any]:
    """Write ``out`` (ONNX) from a ``cmappo`` checkpoint; return its metadata. `ExportError` on failure."""
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except TrainingError as exc:
        raise ExportError(str(exc)) from None
    config = CmappoConfig.from_dict(checkpoint["config"])
    env = SrbEnv(config.scenario, load=config.load, batch=1, overrides=config.overrides)
    try:
        net = network_of(checkpoint, env.layout)
    except TrainingError as exc:
        raise ExportError(str(exc)) from None
    actor = net.actor
    model, parity = export_actor(actor, env, recorded_rows(actor, config), tolerance)
    spec = env.spec
    progress = checkpoint["progress"]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metadata = {
        "format": MODEL_FORMAT,
        "xapp_kind": SRB_XAPP_KIND,
        "trainer": TRAINER,
        "method": config.method,
        "scenario": spec.scenario,
        "world_kind": spec.world_kind,
        "load": env.load,
        "agents": env.layout.n_nodes,
        "steps": int(progress["slots"]),
        "version": model_version(spec.scenario, created, actor.state_dict()),
        "observation": srb_observation_spec(spec),
        "action": srb_action_spec(spec),
        "recurrent": {"cell": "none", "hidden": STATE_SIZE},
        "decomposition": {"agents_per_node": actor.n_blocks, "block_size": actor.block,
                          "sequential": actor.n_blocks > 1, "critic": "local" if config.method == "ippo" else
                          "centralised"},
        "sharing": "shared",
        "opset": OPSET,
        "parity": parity,
        "training": {"wall_s": float(progress["wall_s"]), "best_objective": progress.get("best_objective"),
                     "best_eval_throughput_mbps": progress.get("best_throughput_mbps"),
                     "best_eval_violation_rate": progress.get("best_violation_rate"),
                     "best_at_slots": progress.get("best_slots"), "lambda_mean": float(np.mean(checkpoint["lambda"]))},
        "created_utc": created.isoformat().replace("+00:00", "Z"),
    }
    return write_model(model, metadata, out)


__all__ = ["PARITY_SLOTS", "PARITY_WORLDS", "export_actor", "export_srb", "recorded_rows"]
