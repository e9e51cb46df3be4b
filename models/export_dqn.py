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

from models.export import OPSET, PARITY_SLOTS, PARITY_TOLERANCE, PARITY_WORLDS, ExportError
from models.maddqn import TRAINER, CstnEnv, MaddqnConfig, OnnxQNetwork, QNetwork, greedy_actions, network_of
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

    obs = recorded_batch(q, config)
    h = np.zeros((obs.shape[0], STATE_SIZE), dtype=np.float32)
    with torch.no_grad():
        ref_q, ref_h = (t.numpy() for t in graph(torch.from_numpy(obs), torch.from_numpy(h)))
    session = ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    got_q, got_h = session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: obs, INPUT_STATE: h})
    max_diff = float(max(np.abs(ref_q - got_q).max(), np.abs(ref_h - got_h).max()))
    agree = bool(np.array_equal(ref_q.argmax(axis=1), got_q.argmax(axis=1)))
    if not (max_diff <= tolerance and agree):
        raise ExportError(f"torch and onnxruntime disagree on the recorded batch: max |Δ| = {max_diff:.3g} "
                          f"(tolerance {tolerance:g}), greedy actions {'agree' if agree else 'differ'}")

    progress = checkpoint["progress"]
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    weights = hashlib.sha256(b"".join(t.numpy().tobytes() for t in q.state_dict().values())).hexdigest()
    metadata = {
        "format": MODEL_FORMAT,
        "xapp_kind": CSTN_XAPP_KIND,
        "trainer": TRAINER,
        "scenario": spec.scenario,
        "world_kind": spec.world_kind,
        "load": env.load,
        "agents": k,
        "steps": int(progress["slots"]),
        "version": f"{spec.scenario}-{created:%Y%m%dT%H%MZ}-{weights[:8]}",
        "observation": cstn_observation_spec(spec),
        "action": cstn_action_spec(spec),
        "recurrent": {"cell": "none", "hidden": STATE_SIZE},
        "sharing": "shared",
        "opset": OPSET,
        "parity": {"max_abs_diff": max_diff, "tolerance": tolerance, "argmax_agree": agree, "rows": int(obs.shape[0])},
        "training": {"wall_s": float(progress["wall_s"]), "best_eval_throughput_mbps":
                     progress.get("best_throughput_mbps"), "best_eval_violation_rate":
                     progress.get("best_violation_rate"), "best_at_slots": progress.get("best_slots")},
        "created_utc": created.isoformat().replace("+00:00", "Z"),
    }
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)
    model.producer_name = "ntnric"
    data = model.SerializeToString()
    validate_model(data)  # the same checks the RIC runs on deploy
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return metadata
