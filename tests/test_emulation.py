"""The control loop as separate processes: parity with direct evaluation, clean shutdown, faults."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from ntnric.emulation import EmulationConfig, Transport, run_document, run_emulation
from ntnric.evaluate import evaluate
from ntnric.launcher import ProcessGroup
from tests.processes import ntnric_processes

KPIS = ("avg_packet_delay_ms", "throughput_mbps", "spectral_efficiency_bps_hz", "qos_violation_rate",
        "jain_fairness", "delivered_bits")




@pytest.mark.parametrize("transport", ["zmq", "grpc"])
def test_lockstep_run_reproduces_direct_evaluation_and_leaves_no_process(transport: Transport) -> None:
    before = ntnric_processes()
    config = EmulationConfig(scenario="hex19", policy="llq", transport=transport, mode="lockstep", slots=200, seed=5)
    document = run_document(config, run_emulation(config))
    direct = evaluate("hex19", ["llq"], slots=200, seed=5).results[0].kpis
    emulated = document["policies"]["llq"]
    for key in KPIS:
        assert emulated[key] == direct[key], key
    assert document["deadline_miss_rate"] == 0.0
    assert document["misses"]["applied"] == 200 * 19
    assert document["decision_latency_us"]["count"] == 200
    assert set(document["hops_us"]) >= {"node_to_ric", "ric_to_xapp", "policy", "xapp_to_ric", "ric_to_node"}
    time.sleep(0.2)
    assert ntnric_processes() <= before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _progress(log: Path) -> list[dict[str, float]]:
    lines = []
    for raw in log.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw)["progress"])
    return lines


def _applied_between(progress: list[dict[str, float]], t0: float, t1: float) -> float:
    """Controls applied between monotonic times t0 and t1 (progress lines carry the sim's clock)."""
    inside = [p for p in progress if t0 <= p["monotonic_s"] <= t1]
    return inside[-1]["applied"] - inside[0]["applied"] if len(inside) >= 2 else 0.0


def _ric_args(e2: int, xapp: int) -> list[str]:
    return ["ric", "--e2-zmq", f"tcp://127.0.0.1:{e2}", "--e2-grpc", "", "--xapp-zmq", f"tcp://127.0.0.1:{xapp}",
            "--xapp-grpc", "", "--admin-grpc", "", "--metrics-port", "0", "--log-level", "WARNING"]


@pytest.mark.slow
def test_realtime_faults_xapp_killed_and_restarted_ric_restarted(tmp_path: Path) -> None:
    e2, xapp = _free_port(), _free_port()
    xapp_args = ["xapp", "llq", "--ric", f"tcp://127.0.0.1:{xapp}", "--policy", "llq"]
    with ProcessGroup(tmp_path) as group:
        ric = group.start_python("ric", _ric_args(e2, xapp))
        group.start_python("xapp", xapp_args)
        sim = group.start_python("sim", ["sim", "tn-ntn-srb", "--ric", f"tcp://127.0.0.1:{e2}", "--mode", "realtime",
                                         "--slot-ms", "5", "--slots", "2400", "--json", str(tmp_path / "sim.json"),
                                         "--progress-jsonl"])
        time.sleep(4.0)  # running with the xApp
        first = group.components[1]
        first.expected_exit = True
        os.killpg(first.process.pid, signal.SIGKILL)
        t_killed = time.monotonic()
        time.sleep(2.5)  # nodes alone: fallback, misses counted
        group.start_python("xapp2", xapp_args)
        t_restarted = time.monotonic()
        time.sleep(2.5)
        ric.expected_exit = True
        os.killpg(ric.process.pid, signal.SIGKILL)
        ric.process.wait()
        t_ric_down = time.monotonic()
        time.sleep(0.5)
        group.start_python("ric2", _ric_args(e2, xapp))
        group.wait(sim, timeout_s=60)
        t_end = time.monotonic()
    result = json.loads((tmp_path / "sim.json").read_text())
    progress = _progress(sim.log_path)
    assert progress and progress[-1]["slot"] == 2400
    # the nodes never stopped, and they counted misses while no xApp answered
    assert result["missed"] > 0 and result["fallback_last_valid"] > 0
    assert _applied_between(progress, t_killed - 2.0, t_killed) > 0
    assert _applied_between(progress, t_killed + 0.5, t_restarted) == 0
    # the restarted xApp re-subscribed and control resumed
    assert _applied_between(progress, t_restarted + 1.5, t_ric_down) > 0
    # after the RIC restart the nodes set up again, the xApp re-registered, control resumed
    assert result["resetups"] >= 1
    assert _applied_between(progress, t_ric_down + 2.0, t_end) > 0


def _node_processes(marker: str) -> set[int]:
    """PIDs of live node processes (`ntnric sim-node`) whose command line holds ``marker``."""
    return {pid for pid in ntnric_processes()
            if b"sim-node" in (cmdline := _cmdline(pid)) and marker.encode() in cmdline}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_process_per_node_lockstep_run_reproduces_direct_evaluation() -> None:
    before = ntnric_processes()
    config = EmulationConfig(scenario="hex19", policy="llq", mode="lockstep", slots=200, seed=5, process_per_node=True)
    result = run_emulation(config)
    document = run_document(config, result)
    direct = evaluate("hex19", ["llq"], slots=200, seed=5).results[0].kpis
    for key in KPIS:
        assert document["policies"]["llq"][key] == direct[key], key
    assert result["node_processes"] == 19 and document["process_per_node"]
    # every node has its own association: one control message, one latency sample per node-slot
    assert document["deadline_miss_rate"] == 0.0
    assert document["misses"]["applied"] == 200 * 19
    assert document["decision_latency_us"]["count"] == 200 * 19
    time.sleep(0.2)
    assert ntnric_processes() <= before


def test_process_per_node_nodes_exit_when_the_simulator_is_killed(tmp_path: Path) -> None:
    ric = f"tcp://127.0.0.1:{_free_port()}"  # nobody listens: the nodes run on their local scheduler
    with ProcessGroup(tmp_path) as group:
        sim = group.start_python("sim", ["sim", "conflict8", "--ric", ric, "--process-per-node", "--mode", "realtime",
                                         "--slot-ms", "5", "--slots", "100000", "--await-s", "0.2",
                                         "--progress-jsonl"])
        deadline = time.monotonic() + 60.0
        while not (tmp_path / "sim.log").exists() or not _progress(tmp_path / "sim.log"):
            group.check()
            assert time.monotonic() < deadline, "the nodes never started"
            time.sleep(0.1)
        assert len(_node_processes(ric)) == 4  # conflict8: 4 nodes
        sim.expected_exit = True
        os.killpg(sim.process.pid, signal.SIGKILL)  # no chance to clean up: the nodes must notice alone
        sim.process.wait()
        deadline = time.monotonic() + 5.0
        while _node_processes(ric) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _node_processes(ric)


def test_process_per_node_nodes_without_xapp_run_their_local_scheduler(tmp_path: Path) -> None:
    # each node computes the default scheduler from its own report alone; for round-robin that
    # is the same control as from the whole world, so the run equals a direct round-robin run
    ric = f"tcp://127.0.0.1:{_free_port()}"  # nobody listens
    with ProcessGroup(tmp_path) as group:
        sim = group.start_python("sim", ["sim", "conflict8", "--ric", ric, "--process-per-node", "--mode", "lockstep",
                                         "--slots", "100", "--seed", "4", "--await-s", "0.2", "--fallback",
                                         "round-robin", "--json", str(tmp_path / "sim.json")])
        assert group.wait(sim, timeout_s=60) == 0
    result = json.loads((tmp_path / "sim.json").read_text())
    direct = evaluate("conflict8", ["round-robin"], slots=100, seed=4).results[0].kpis
    for key in KPIS:
        assert result["kpis"].get(key) == direct.get(key), key
    assert result["uncontrolled"] == 100 * result["node_processes"] and result["expected"] == 0
