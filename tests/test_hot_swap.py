"""Hot swap in realtime mode: a model deployed while the slots run costs no deadline miss, and the
nodes' controls change exactly at the slot the RIC reports.

The RIC, the xApp and ``ntnric models deploy`` run as their own processes (as under ``ntnric
run``); the E2 agent runs here on a world that records the controls it applies each slot.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from e2_sim.node.agent import AgentConfig, E2Agent, LocalWorld
from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.base import SlotKpis
from ntnric.launcher import ProcessGroup
from ntnric.models_cli import list_models
from ric.protocol import Controls, Reports
from tests.modelkit import build_model
from xapps.policies import make_policy

SCENARIO = "conflict8"
SLOT_MS = 40.0  # wall-clock slot: room for a 2-core host shared with other work
SLOTS = 150
DEPLOY_AT_SLOT = 60
XAPP = "sched"


class RecordingWorld(LocalWorld):
    """The world in this process; remembers the users of every slot's applied controls."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.users: list[np.ndarray] = []

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis | None]:
        self.users.append(np.where(controls.mask[0] & (controls.power_w[0] > 0), controls.user[0], -1))
        return super().step(controls)


def _wait_for_file(path: Path, group: ProcessGroup, timeout_s: float = 30.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.stat().st_size):
        group.check()
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)
    endpoints: dict[str, str] = json.loads(path.read_text())
    return endpoints


_RIC = """
import asyncio, json, sys
from pathlib import Path
from ric.config import RicConfig
from ric.server import serve
config = RicConfig.ephemeral(model_dir=sys.argv[1], log_level="WARNING")
ready = Path(sys.argv[2])
def done(endpoints):
    ready.with_suffix(".tmp").write_text(json.dumps(endpoints.as_dict()))
    ready.with_suffix(".tmp").replace(ready)
asyncio.run(serve(config, ready=done))
"""

_XAPP = """
import json, sys
from xapps.policy_xapp import PolicyXApp
from xapps.sdk import XappRunner
runner = XappRunner(PolicyXApp("onnx:" + sys.argv[1], seed=0, name=sys.argv[3]), sys.argv[2])
try:
    print(json.dumps(runner.run(float(sys.argv[4]))), flush=True)
except KeyboardInterrupt:  # the process group stops it
    print(json.dumps(runner.summary()), flush=True)
"""


def test_deploy_during_a_realtime_run_switches_at_the_reported_slot_without_a_miss(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    world = make_world(scenario, load=scenario.default_load, genie_csi=False)
    silent, serve = build_model(world.spec, "silent", version="silent-1"), build_model(world.spec, "serve",
                                                                                         version="serve-2")
    (tmp_path / "silent.onnx").write_bytes(silent)
    (tmp_path / "serve.onnx").write_bytes(serve)
    recording = RecordingWorld(world)
    replies: list[subprocess.CompletedProcess[str]] = []
    with ProcessGroup(tmp_path) as group:
        group.start("ric", [sys.executable, "-c", textwrap.dedent(_RIC), str(tmp_path / "models"),
                            str(tmp_path / "ric.json")])
        endpoints = _wait_for_file(tmp_path / "ric.json", group)
        group.start("xapp", [sys.executable, "-c", textwrap.dedent(_XAPP), str(tmp_path / "silent.onnx"),
                             endpoints["xapp_zmq"], XAPP, "60"])

        def deploy() -> None:
            while len(recording.users) < DEPLOY_AT_SLOT:
                time.sleep(0.005)
            replies.append(subprocess.run(
                [sys.executable, "-c", "from ntnric.models_cli import models_app; models_app()", "deploy",
                 str(tmp_path / "serve.onnx"), "--xapp", XAPP, "--ric", endpoints["admin_grpc"]],
                capture_output=True, text=True, timeout=60.0))

        deployer = threading.Thread(target=deploy, daemon=True)
        deployer.start()
        fallback = make_policy("round-robin", world.spec, seed=2)
        agent = E2Agent(recording, fallback.decide, AgentConfig(
            ric=endpoints["e2_zmq"], mode="realtime", slot_wall_s=SLOT_MS / 1e3, await_subscriptions_s=30.0))
        result = agent.run(SLOTS, seed=0)
        deployer.join(timeout=30.0)
        models = {m["sha256"]: m for m in list_models(endpoints["admin_grpc"], XAPP)}
        group.check()
    assert len(replies) == 1 and replies[0].returncode == 0, replies
    reported = re.search(r"active from slot (\d+)", replies[0].stdout)
    assert reported is not None, replies[0].stdout
    switch = int(reported.group(1))
    assert DEPLOY_AT_SLOT <= switch < SLOTS
    # the RIC's registry says the same
    served = models[hashlib.sha256(serve).hexdigest()]
    assert served["active"] and served["running"] and served["activated_at_slot"] == switch
    # not one deadline miss: every node applied the xApp's control in every slot
    assert result["missed"] == 0 and result["applied"] == result["expected"] == SLOTS * world.spec.n_nodes
    # the nodes applied the old model's controls up to the switch and the new one's from it on
    users = np.stack(recording.users)  # (slots, K, S)
    assert (users[:switch] == -1).all()
    assert (users[switch:] == 0).all()
