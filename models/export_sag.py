"""Export of the sag trainers' checkpoints: one ONNX file per tier (``hppo``) or the flat baseline.

Each graph (`models.hppo.OnnxTierActor`) maps ``obs`` (N, dim) and ``h_in`` (N, 1) to the raw
``logits`` (N, Σ heads) and ``h_out`` = ``h_in`` (feed-forward under the contract of
`ric.protocol.models`); the xApp masks invalid actions before the argmax
(`xapps.policies.learned_sag`). Metadata keys as `models.export`, with ``xapp_kind``
``sag-satellite`` / ``sag-hap`` / ``sag-local`` / ``sag-flat`` and the tier's observation and
action spec. Parity (`models.export.onnx_with_parity`): each graph runs in torch and in
onnxruntime on the observations of a greedy rollout of the checkpoint's policy; the export fails
when the largest absolute difference exceeds ``tolerance`` or a greedy action differs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.config import TrainingError
from models.export import OPSET, PARITY_TOLERANCE, ExportError, model_version, onnx_with_parity, write_model
from models.hppo import HppoConfig, OnnxTierActor, load_checkpoint, make_env, networks_of, run_episode
from models.sag_env import TIERS, preset_weights
from ric.protocol.models import MODEL_FORMAT
from xapps.policies.learned_sag import FLAT_XAPP_KIND, TIER_XAPP_KINDS

#: Size of the pass-through state of a feed-forward model.
STATE_SIZE = 1
#: Slots and worlds of the greedy rollout whose observations the parity check replays.
PARITY_SLOTS = 100
PARITY_WORLDS = 2


def export_sag(checkpoint_path: str | Path, out_dir: str | Path, prefix: str = "sag",
               tolerance: float = PARITY_TOLERANCE) -> dict[str, dict[str, Any]]:
    """Write ``out_dir/<prefix>-<tier>.onnx`` for each network of the checkpoint; their metadata by tier.

    A hierarchical checkpoint gives ``satellite``, ``hap`` and ``local``; a flat one ``flat``.
    `ExportError` (one line) on a bad checkpoint or a parity failure.
    """
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except TrainingError as exc:
        raise ExportError(str(exc)) from None
    config = HppoConfig.from_dict(checkpoint["config"])
    if isinstance(config.bc_tiers, list):
        config.bc_tiers = tuple(config.bc_tiers)
    nets = networks_of(checkpoint)
    flat = "flat" in nets
    env = make_env(config, PARITY_WORLDS, flat)
    weights = {t: config.tier_weights(t, preset_weights(env.spec.static)) for t in TIERS}
    bufs, _ = run_episode(env, nets, [config.eval_seed + 1 + i for i in range(PARITY_WORLDS)], PARITY_SLOTS,
                          "greedy", weights, record=True)
    progress = checkpoint["progress"]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out: dict[str, dict[str, Any]] = {}
    for name, net in nets.items():
        builder = env.flat_nodes if name == "flat" else env.tiers[name]
        if net.heads != list(builder.heads) or net.actor.norm.normalized_shape[0] != builder.dim:
            raise ExportError(f"checkpoint's {name} observation/action sizes no longer match scenario "
                              f"{config.scenario!r}")
        graph = OnnxTierActor(net).eval()
        n_agents = len(builder.agents)
        example = (torch.zeros(n_agents, builder.dim), torch.zeros(n_agents, STATE_SIZE))
        buf = bufs[name]
        obs = buf.obs.reshape(-1, builder.dim)
        h = np.zeros((obs.shape[0], STATE_SIZE), dtype=np.float32)
        model, parity = onnx_with_parity(graph, example, (obs, h), list(builder.heads), tolerance)
        metadata = {
            "format": MODEL_FORMAT,
            "xapp_kind": FLAT_XAPP_KIND if name == "flat" else TIER_XAPP_KINDS[name],
            "trainer": checkpoint.get("trainer", "hppo"),
            "scenario": env.spec.scenario,
            "world_kind": env.spec.world_kind,
            "load": env.load,
            "agents": n_agents,
            "tier": name,
            "decision_interval_slots": 1 if name == "flat" else int(env.periods[TIERS.index(name)]),
            "steps": int(progress["slots"]),
            "version": model_version(f"{prefix}-{name}", created, net.actor.state_dict()),
            "observation": builder.observation_spec(),
            "action": builder.action_spec(),
            "recurrent": {"cell": "none", "hidden": STATE_SIZE},
            "sharing": "shared",
            "opset": OPSET,
            "parity": parity,
            "training": {"wall_s": float(progress["wall_s"]), "bc_slots": config.bc_slots,
                         "bc_tiers": list(config.bc_tiers), "best_update": progress.get("best_update"),
                         "best_eval": progress.get("best_eval"), "heuristic_eval": progress.get("teacher_eval"),
                         "overrides": config.overrides},
            "created_utc": created.isoformat().replace("+00:00", "Z"),
        }
        out[name] = write_model(model, metadata, Path(out_dir) / f"{prefix}-{name}.onnx")
    return out


__all__ = ["export_sag"]
