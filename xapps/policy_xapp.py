"""An xApp that runs any registered policy: the same object `ntnric eval` runs directly.

With an ``onnx:PATH`` policy it takes part in the RIC's model registry (`xapps.sdk.app`): it
announces the model spec of its world and the file it was started with, loads pushed models
beside the running one (`OnnxPolicy.load`) and swaps them in between two decisions
(`OnnxPolicy.swap`, which keeps the recurrent state when the sizes agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from ric.protocol.models import INPUT_OBS, INPUT_STATE, OUTPUT_LOGITS, OUTPUT_STATE, ModelError, ModelInfo
from xapps.policies import PolicyError, make_policy
from xapps.policies.base import Policy
from xapps.policies.learned import OnnxPolicy, model_path_of, model_spec
from xapps.sdk import ModelFile, Stamps, XApp


@dataclass(frozen=True)
class _Prepared:
    """A model loaded beside the running one: its session and its file."""

    loaded: tuple[ModelInfo, Any]
    file: ModelFile


class PolicyXApp(XApp):
    """Decides every ``period_slots`` slots with policy ``policy_name`` over every node.

    Parameters
    ----------
    policy_name : str
        Any name `xapps.policies.make_policy` accepts.
    seed : int
        Seed of the policy's own random stream.
    name : str, optional
        xApp name at the RIC (default: the policy name).
    """

    def __init__(self, policy_name: str, seed: int, name: str | None = None, period_slots: int = 1) -> None:
        self.policy_name = policy_name
        self.seed = seed
        self.name = name or policy_name
        self.period_slots = period_slots
        self.policy: Policy | None = None
        self._model: ModelFile | None = None

    def on_start(self, spec: WorldSpec) -> None:
        path = model_path_of(self.policy_name)
        data = _read(path) if path is not None else None
        if path is not None and data is not None:
            if spec.world_kind not in OnnxPolicy.world_kinds:
                raise PolicyError(f"onnx policies run on {', '.join(OnnxPolicy.world_kinds)} worlds, "
                                  f"not {spec.world_kind!r}")
            try:
                onnx = OnnxPolicy(spec, self.seed, data, source=path)
            except ModelError as exc:
                raise PolicyError(f"model {path}: {exc}") from None
            self._model = _file_of(data, Path(path).name, onnx.metadata)
            policy: Policy = onnx
        else:
            policy = make_policy(self.policy_name, spec, seed=self.seed)
        self.policy = policy
        self.policy.reset(1)

    def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
        assert self.policy is not None
        controls = self.policy.decide(reports)
        if isinstance(self.policy, OnnxPolicy):
            # the latency breakdown's features / inference hops: feature building, then the ONNX call
            stamps.features_done = self.policy.features_done_ns
            stamps.inference_done = self.policy.inference_done_ns
        return controls

    def stats(self) -> dict[str, Any]:
        """``fallbacks`` (slots an ONNX model's output was not finite) and the running model's version."""
        if not isinstance(self.policy, OnnxPolicy):
            return {}
        return {"fallbacks": self.policy.fallbacks, "model_version": self._model.version if self._model else ""}

    # ------------------------------------------------------------------ models

    def model_spec(self) -> dict[str, Any] | None:
        return model_spec(self.policy.spec) if isinstance(self.policy, OnnxPolicy) else None

    def running_model(self) -> ModelFile | None:
        return self._model

    def prepare_model(self, data: bytes) -> _Prepared:
        """`OnnxPolicy.load`, then one run of the new session at the live batch size, so the first
        slot it decides does not pay for its buffers."""
        if not isinstance(self.policy, OnnxPolicy):
            raise ModelError(f"xApp {self.name!r} runs policy {self.policy_name!r}, which loads no models")
        info, session = self.policy.load(data)
        rows = self.policy.spec.n_nodes
        session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: np.zeros((rows, info.obs_dim), np.float32),
                                                    INPUT_STATE: np.zeros((rows, info.hidden), np.float32)})
        return _Prepared((info, session), _file_of(data, "", info.metadata))

    def activate_model(self, prepared: Any) -> None:
        assert isinstance(self.policy, OnnxPolicy) and isinstance(prepared, _Prepared)
        self.policy.swap(prepared.loaded)
        self._model = prepared.file


def _read(path: str) -> bytes | None:
    file = Path(path).expanduser()
    return file.read_bytes() if file.is_file() else None


def _file_of(data: bytes, name: str, metadata: dict[str, Any]) -> ModelFile:
    return ModelFile(data=data, name=name, version=str(metadata.get("version", "")))
