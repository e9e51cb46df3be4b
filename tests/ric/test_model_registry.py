"""The RIC's model registry with a running RIC, E2 node and ONNX xApp: deploy, list, rollback,
refusals that leave the running model untouched, and a store that outlives the RIC."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from ntnric.models_cli import list_models, models_app
from ric.config import RicConfig
from ric.protocol import codec
from ric.protocol.gen import e2ap_pb2
from ric.protocol.spec import WorldSpec
from ric.server import RicError, RicThread
from ric.transport.client import connect
from tests.modelkit import build_model, corrupt
from tests.ric.ricpeers import E2Agent, XappPeer, make_reports, make_spec
from xapps.policies.simple import LongestQueueFirst
from xapps.policy_xapp import PolicyXApp
from xapps.sdk import Stamps, XappRunner

XAPP = "sched"
WAIT_S = 10.0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@dataclass
class Stack:
    """A RIC, an E2 agent hosting a 4-node world and an xApp started with model ``a``."""

    ric: RicThread
    agent: E2Agent
    sub: e2ap_pb2.RicSubscriptionRequest
    app: PolicyXApp
    runner: XappRunner
    thread: threading.Thread
    admin: str
    spec: WorldSpec
    slot: int = 0

    def decide(self) -> np.ndarray:
        """One slot through RIC and xApp: the users (K, S) the xApp's control sets (-1 = off)."""
        self.agent.indicate(self.sub, self.slot)
        pdu = self.agent.expect("control_request")
        assert pdu.slot == self.slot
        _, controls = codec.decode_controls(pdu.control_request.control)
        self.slot += 1
        return np.where(controls.mask[0], controls.user[0], -1)

    def models(self) -> dict[str, dict[str, Any]]:
        return {m["sha256"]: m for m in list_models(self.admin, XAPP)}

    def close(self) -> None:
        self.runner.stop()
        self.thread.join(timeout=5.0)
        self.agent.client.close()
        self.ric.stop()


def _start(tmp_path: Path, model_dir: Path, start_model: bytes) -> Stack:
    ric = RicThread(RicConfig.ephemeral(log_level="WARNING", model_dir=str(model_dir), model_switch_timeout_s=5.0,
                                        probe_interval_s=0.2)).start()
    assert ric.endpoints.e2_zmq and ric.endpoints.xapp_zmq and ric.endpoints.admin_grpc
    spec = make_spec(n_nodes=4, n_users=2, n_resources=3)
    agent = E2Agent(connect(ric.endpoints.e2_zmq, "e2"), spec)
    agent.setup()
    path = tmp_path / "start.onnx"
    path.write_bytes(start_model)
    app = PolicyXApp(f"onnx:{path}", seed=0, name=XAPP)
    runner = XappRunner(app, ric.endpoints.xapp_zmq)
    thread = threading.Thread(target=runner.run, kwargs={"duration_s": 120.0}, daemon=True)
    thread.start()
    sub = agent.admit_next_subscription()
    stack = Stack(ric, agent, sub, app, runner, thread, ric.endpoints.admin_grpc, spec)
    _wait_for(lambda: bool(runner.subscribed), "the xApp's subscription")
    return stack


SILENT = np.full((4, 3), -1)
SERVING = np.zeros((4, 3), dtype=int)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    spec = make_spec(n_nodes=4, n_users=2, n_resources=3)
    running = _start(tmp_path, tmp_path / "models", build_model(spec, "silent", version="silent-1"))
    try:
        yield running
    finally:
        running.close()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(models_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_deploy_list_rollback_switch_the_running_xapp_at_the_reported_slot(stack: Stack, tmp_path: Path) -> None:
    silent = stack.app.running_model()
    assert silent is not None
    _wait_for(lambda: silent.sha256 in stack.models(), "the start model in the registry")
    first = stack.models()[silent.sha256]
    assert first["active"] and first["running"] and first["source"] == "xapp" and first["version"] == "silent-1"
    assert np.array_equal(stack.decide(), SILENT)
    assert np.array_equal(stack.decide(), SILENT)

    serve = build_model(stack.spec, "serve", version="serve-2")
    (tmp_path / "serve.onnx").write_bytes(serve)
    code, out, err = _cli("deploy", str(tmp_path / "serve.onnx"), "--xapp", XAPP, "--ric", stack.admin)
    assert code == 0, err
    assert "version serve-2" in out and _sha(serve)[:12] in out
    listed = stack.models()
    slot = listed[_sha(serve)]["activated_at_slot"]
    assert f"active from slot {slot}" in out
    # no slot ran since the last decision: the switch is at the next slot, and that slot serves
    assert slot == stack.slot
    assert np.array_equal(stack.decide(), SERVING)
    assert listed[_sha(serve)]["active"] and listed[_sha(serve)]["running"]
    assert listed[_sha(serve)]["name"] == "serve.onnx" and listed[_sha(serve)]["metadata"]["version"] == "serve-2"
    assert not listed[silent.sha256]["active"] and not listed[silent.sha256]["running"]
    assert stack.runner.summary()["models_activated"] == 1

    code, out, err = _cli("rollback", "--xapp", XAPP, "--ric", stack.admin)
    assert code == 0, err
    assert "rolled back to version silent-1" in out
    back = stack.models()[silent.sha256]
    assert back["active"] and back["running"] and back["activated_at_slot"] == stack.slot
    assert np.array_equal(stack.decide(), SILENT)

    code, out, err = _cli("rollback", "--xapp", XAPP, "--ric", stack.admin)
    assert code == 2
    assert err.strip().count("\n") == 0 and "no earlier model to roll back to" in err

    code, out, _ = _cli("list", "--ric", stack.admin)
    assert code == 0 and _sha(serve)[:12] in out and silent.sha256[:12] in out
    code, out, _ = _cli("list", "--ric", stack.admin, "--json")
    assert code == 0 and [m["version"] for m in json.loads(out)] == ["silent-1", "serve-2"]


def test_refused_models_leave_the_running_model_untouched(stack: Stack, tmp_path: Path) -> None:
    running = stack.app.running_model()
    assert running is not None
    _wait_for(lambda: running.sha256 in stack.models(), "the start model in the registry")
    spec = stack.spec
    good = build_model(spec, "serve", version="serve-2")
    cases = {
        "corrupt.onnx": (corrupt(good), "not a valid ONNX model"),
        "shape.onnx": (build_model(spec, obs_features=10), "input 'obs' has 10 features"),
        "kind.onnx": (build_model(spec, metadata={"xapp_kind": "hap-allocator"}),
                      "xapp_kind='hap-allocator' (xApp expects 'bs-scheduler')"),
        "nan.onnx": (build_model(spec, nan_bias=True), "non-finite outputs"),
        # fits the xApp's spec, so the RIC accepts it; the xApp itself refuses it at load time
        "scenario.onnx": (build_model(spec, metadata={"scenario": "hex19"}), "could not load it: model was trained "
                          "for scenario 'hex19'"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        code, _, err = _cli("deploy", str(tmp_path / name), "--xapp", XAPP, "--ric", stack.admin)
        assert code == 2, name
        assert err.startswith(f"error: model {name} refused: ") and reason in err, err
        assert err.strip().count("\n") == 0, err
        listed = stack.models()
        assert list(listed) == [running.sha256], name
        assert listed[running.sha256]["active"] and listed[running.sha256]["running"]
        assert stack.app.running_model() == running
        assert np.array_equal(stack.decide(), SILENT), name
    assert sorted(p.name for p in (tmp_path / "models").glob("*.onnx")) == [f"{running.sha256}.onnx"]
    assert stack.runner.summary()["model_load_failures"] == 1

    (tmp_path / "good.onnx").write_bytes(good)
    code, _, err = _cli("deploy", str(tmp_path / "good.onnx"), "--xapp", "no-such-xapp", "--ric", stack.admin)
    assert code == 2 and "no xApp named 'no-such-xapp' is connected (connected: sched)" in err
    code, _, err = _cli("deploy", str(tmp_path / "missing.onnx"), "--xapp", XAPP, "--ric", stack.admin)
    assert code == 2 and "not found" in err
    assert stack.ric.endpoints.xapp_zmq is not None
    with connect(stack.ric.endpoints.xapp_zmq, "xapp") as client:  # an xApp without models (e.g. llq)
        peer = XappPeer(client)
        peer.register(name="llq")
        peer.send(e2ap_pb2.XappPdu(slot=-1, model_status=e2ap_pb2.XappModelStatus()))
        _wait_for(lambda: bool(stack.ric.call(lambda: [x for x in stack.ric.core.registry.xapps.values()
                                                       if x.name == "llq" and x.models_announced])), "llq status")
        code, _, err = _cli("deploy", str(tmp_path / "good.onnx"), "--xapp", "llq", "--ric", stack.admin)
    assert code == 2 and "xApp 'llq' runs no ONNX models" in err
    assert np.array_equal(stack.decide(), SILENT)


def test_the_store_outlives_the_ric_and_restores_the_active_model(tmp_path: Path) -> None:
    spec = make_spec(n_nodes=4, n_users=2, n_resources=3)
    silent, serve = build_model(spec, "silent", version="silent-1"), build_model(spec, "serve", version="serve-2")
    model_dir = tmp_path / "models"
    first = _start(tmp_path, model_dir, silent)
    try:
        (tmp_path / "serve.onnx").write_bytes(serve)
        code, _, err = _cli("deploy", str(tmp_path / "serve.onnx"), "--xapp", XAPP, "--ric", first.admin)
        assert code == 0, err
        deployed_at = first.models()[_sha(serve)]["deployed_at"]
    finally:
        first.close()
    # a new RIC on the same directory, and an xApp started again with the old model
    second = _start(tmp_path, model_dir, silent)
    try:
        _wait_for(lambda: second.app.running_model() is not None
                  and second.app.running_model().sha256 == _sha(serve),  # type: ignore[union-attr]
                  "the RIC to push the stored active model")
        listed = second.models()
        assert listed[_sha(serve)]["active"] and listed[_sha(serve)]["running"]
        # the new xApp switched before its first slot
        assert listed[_sha(serve)]["deployed_at"] == deployed_at and listed[_sha(serve)]["activated_at_slot"] == 0
        assert not listed[_sha(silent)]["active"]
        assert np.array_equal(second.decide(), SERVING)
        code, out, err = _cli("rollback", "--xapp", XAPP, "--ric", second.admin)
        assert code == 0 and "silent-1" in out, err
        assert np.array_equal(second.decide(), SILENT)
    finally:
        second.close()


def test_an_unreadable_index_stops_the_ric_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(RicError, match=r"^model index .*index.json' is not readable: "):
        RicThread(RicConfig.ephemeral(model_dir=str(tmp_path))).start()


def test_non_finite_model_outputs_fall_back_to_llq_for_that_slot_and_are_counted(tmp_path: Path) -> None:
    spec = make_spec(n_nodes=4, n_users=2, n_resources=3)
    path = tmp_path / "queue-nan.onnx"
    path.write_bytes(build_model(spec, "serve", nan_on_empty_queue=True))
    app = PolicyXApp(f"onnx:{path}", seed=0, name=XAPP)
    app.on_start(spec)
    busy = make_reports(spec, 0)
    busy.queue_packets[...] = 3.0
    assert np.array_equal(app.on_reports(busy, Stamps()).user[0], SERVING)  # type: ignore[union-attr]
    idle = make_reports(spec, 1)
    idle.queue_packets[0, 2, 0] = 0.0  # node 2's first device is empty: its logits are -inf
    controls = app.on_reports(idle, Stamps())
    llq = LongestQueueFirst(spec, 0).decide(idle)
    assert controls is not None and np.array_equal(controls.user, llq.user)
    assert app.stats()["fallbacks"] == 1
    assert PolicyXApp("llq", seed=0).model_spec() is None


def test_a_warm_model_checker_starts_with_the_ric_and_not_before_the_first_xapp_otherwise() -> None:
    def worker_started(ric: RicThread) -> bool:
        return ric.call(lambda: ric.core.models.checker.worker_running) is True

    with RicThread(RicConfig.ephemeral(log_level="WARNING", warm_model_checker=True)) as ric:
        deadline = time.monotonic() + 10.0
        while not worker_started(ric):
            assert time.monotonic() < deadline, "the model-check worker did not start with the RIC"
            time.sleep(0.05)
    with RicThread(RicConfig.ephemeral(log_level="WARNING")) as ric:
        time.sleep(0.3)
        assert not worker_started(ric)
