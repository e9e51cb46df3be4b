"""``ntnric export``: a training checkpoint's actor to an ONNX file the xApp can run.

The graph (`models.mappo.OnnxActor`) maps ``obs`` (N, obs_dim) and ``h_in`` (N, hidden) to
``logits`` (N, Σ heads) and ``h_out``; ``N`` is dynamic. The metadata follows
`ric.protocol.models`. Parity: the actor runs in torch and in onnxruntime on a recorded batch
(observations and recurrent states of a greedy rollout of the policy in its scenario); the export
fails when the largest absolute difference of the logits or states exceeds ``tolerance`` or when a
greedy action differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from models.envs import VectorEnv
from models.mappo import MappoConfig, OnnxActor, load_checkpoint, network_of
from ric.protocol.models import (
    INPUT_OBS,
    INPUT_STATE,
    METADATA_KEY,
    MODEL_FORMAT,
    OUTPUT_LOGITS,
    OUTPUT_STATE,
    session_options,
    validate_model,
)
from xapps.policies.learned import XAPP_KIND, action_spec, observation_spec, split_argmax

OPSET = 17
PARITY_TOLERANCE = 1e-4
PARITY_SLOTS = 32
PARITY_WORLDS = 2


class ExportError(ValueError):
    """An export that must not produce a file (bad checkpoint, parity failure); one line."""


def recorded_batch(checkpoint: dict[str, Any], slots: int = PARITY_SLOTS, worlds: int = PARITY_WORLDS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Observations and entering states ``(slots·worlds·K, ·)`` of a greedy rollout of the checkpoint's actor."""
    config = MappoConfig.from_dict(checkpoint["config"])
    net = network_of(checkpoint)
    env = VectorEnv(config.scenario, load=config.load, batch=worlds, episode_slots=slots + 1,
                    overrides=config.overrides)
    obs = env.reset(config.eval_seed + 1)
    h = torch.zeros(worlds, env.n_agents, config.hidden)
    all_obs, all_h = [], []
    with torch.no_grad():
        for _ in range(slots):
            all_obs.append(obs.reshape(-1, obs.shape[-1]).copy())
            all_h.append(h.reshape(-1, config.hidden).numpy().copy())
            logits, h = net.actor(torch.from_numpy(obs), h)
            actions = torch.stack([d.probs.argmax(-1) for d in net.dists(logits)], dim=-1).numpy()
            obs, _, _, _ = env.step(actions)
    return np.concatenate(all_obs), np.concatenate(all_h)


def export(checkpoint_path: str | Path, out: str | Path, tolerance: float = PARITY_TOLERANCE) -> dict[str, Any]:
    """Write ``out`` (ONNX) from ``checkpoint_path``; return its metadata. `ExportError` on failure."""
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    config = MappoConfig.from_dict(checkpoint["config"])
    net = network_of(checkpoint)
    env = VectorEnv(config.scenario, load=config.load, batch=1, overrides=config.overrides)
    spec = env.spec
    heads = list(checkpoint["spec"]["heads"])
    if heads != env.heads or checkpoint["spec"]["obs_dim"] != env.obs_dim:
        raise ExportError(f"checkpoint's observation/action sizes no longer match scenario {config.scenario!r}")
    graph = OnnxActor(net).eval()
    k = env.n_agents
    example = (torch.zeros(k, env.obs_dim), torch.zeros(k, config.hidden))
    obs, h = recorded_batch(checkpoint)
    model, parity = onnx_with_parity(graph, example, (obs, h), heads, tolerance)

    progress = checkpoint["progress"]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metadata = {
        "format": MODEL_FORMAT,
        "xapp_kind": XAPP_KIND,
        "trainer": "mappo",
        "scenario": spec.scenario,
        "world_kind": spec.world_kind,
        "load": env.load,
        "agents": k,
        "steps": int(progress["slots"]),
        "version": model_version(spec.scenario, created, net.actor.state_dict()),
        "observation": observation_spec(spec),
        "action": action_spec(spec),
        "recurrent": {"cell": "gru", "hidden": config.hidden},
        "sharing": config.sharing,
        "opset": OPSET,
        "parity": parity,
        "training": {"wall_s": float(progress["wall_s"]), "teacher": config.teacher, "bc_slots": config.bc_slots,
                     "best_eval_delay_ms": progress.get("best_delay_ms"),
                     "resumed_at_slots": progress.get("resumed_at_slots", [])},
        "created_utc": created.isoformat().replace("+00:00", "Z"),
    }
    return write_model(model, metadata, out)


def onnx_with_parity(graph: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor],
                     recorded: tuple[np.ndarray, np.ndarray], heads: list[int], tolerance: float
                     ) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """``graph`` (``obs``, ``h_in`` → ``logits``, ``h_out``) exported at `OPSET` with a dynamic row axis,
    and its `parity_report` against torch on the ``recorded`` observations and states."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, example, buffer,  # type: ignore[arg-type]  # the TorchScript exporter accepts a BytesIO
            dynamo=False, opset_version=OPSET,
            input_names=[INPUT_OBS, INPUT_STATE], output_names=[OUTPUT_LOGITS, OUTPUT_STATE],
            dynamic_axes={name: {0: "rows"} for name in (INPUT_OBS, INPUT_STATE, OUTPUT_LOGITS, OUTPUT_STATE)},
        )
    model = onnx.load_from_string(buffer.getvalue())
    obs, h = recorded
    with torch.no_grad():
        reference = tuple(t.numpy() for t in graph(torch.from_numpy(obs), torch.from_numpy(h)))
    session = ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: obs, INPUT_STATE: h})
    return model, parity_report((reference[0], reference[1]), (got[0], got[1]), heads, tolerance)


def model_version(scenario: str, created: dt.datetime, weights: dict[str, torch.Tensor]) -> str:
    """``<scenario>-<UTC minute>-<first 8 hex of the weights' sha256>``."""
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in weights.values())).hexdigest()
    return f"{scenario}-{created:%Y%m%dT%H%MZ}-{digest[:8]}"


def parity_report(reference: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray],
                  heads: list[int], tolerance: float) -> dict[str, Any]:
    """Largest |torch − onnxruntime| over logits and states and whether greedy actions agree;
    `ExportError` when either check fails."""
    max_diff = float(max(np.abs(r - g).max() for r, g in zip(reference, got, strict=True)))
    agree = bool(np.array_equal(split_argmax(reference[0], heads), split_argmax(got[0], heads)))
    if not (max_diff <= tolerance and agree):
        raise ExportError(f"torch and onnxruntime disagree on the recorded batch: max |Δ| = {max_diff:.3g} "
                          f"(tolerance {tolerance:g}), greedy actions {'agree' if agree else 'differ'}")
    return {"max_abs_diff": max_diff, "tolerance": tolerance, "argmax_agree": agree,
            "rows": int(reference[0].shape[0])}


def write_model(model: onnx.ModelProto, metadata: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """Attach ``metadata``, run the checks the RIC runs on deploy, write ``out``; return ``metadata``."""
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)
    model.producer_name = "ntnric"
    data = model.SerializeToString()
    validate_model(data)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return metadata
