"""`ntnric run` and `ntnric bench latency`: RIC, simulator and xApp as separate OS processes.

The RIC binds free ports and writes its bound addresses to a ready file; the xApp and the
simulator are then started against the chosen transport. The simulator streams JSON progress
lines on its stdout (shown live) and writes its result to a JSON file when done. Every process is
stopped on completion, on Ctrl-C and as soon as one of them dies (`ntnric.launcher`).

With ``process_per_node`` the simulator itself starts one process per node
(`run_process_per_node`) and serves them the world (`e2_sim.node.world_server`).

Models can be deployed to the xApp while a run goes on (``ntnric models deploy FILE --xapp
POLICY --ric ADMIN``, ADMIN from ``on_ready``); the RIC's model store lives in the run's work
directory unless ``EmulationConfig.model_dir`` names one, and the result lists the models the RIC
holds for the xApp with the slot each was switched to (``models``).

Hierarchy (``EmulationConfig.hierarchy``, `ntnric run` with no scenario): instead of one policy
xApp, the three tier xApps of `xapps.hierarchy` run as three processes (``ntnric
hierarchy-xapp satellite|hap|local``); the RIC authorises only the satellite and HAP xApps to set
constraints (``--constraint-xapps``). Each tier xApp streams progress lines (decisions, refusals,
latency) that the live view shows beside the simulator's, and writes its summary when stopped;
the result adds ``tiers`` (per tier: period, decisions and the number expected, latency from the
node's report to the control sent, refusals by cause, constraints set and refused, waits for the
tier above that timed out) and ``refusals_by_cause`` over the tiers. A tier's constraint wait is
2 s in lockstep (the higher tier always answers; the bound only guards against a dead one) and
one wall-clock slot in realtime. Tier xApps never busy-poll: three spinning processes would
starve the others on a small host.
"""

from __future__ import annotations

import json
import math
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from e2_sim.node.timing import LatencyRecorder
from e2_sim.node.world_server import ServerConfig, WorldServer, ipc_address
from e2_sim.world.base import World
from ntnric.evaluate import policy_seed
from ntnric.launcher import Component, ComponentDied, ProcessGroup
from xapps.hierarchy import TIER_NAMES, TIER_XAPPS

#: ``EmulationConfig.policy`` of a hierarchy run (and its key in the JSON's ``policies``) per ``--tiers``:
#: the tier xApps on the shipped ONNX models, or on the heuristics.
HIERARCHY_POLICIES = {"onnx": "hierarchy", "heuristic": "hierarchy-heuristic"}
#: Longest wait of a tier for the tier above's constraint in lockstep [s].
LOCKSTEP_CONSTRAINT_WAIT_S = 2.0

Transport = Literal["zmq", "grpc"]
Mode = Literal["lockstep", "realtime"]


class EmulationError(RuntimeError):
    """A component could not start or died; the message is one line."""


@dataclass
class EmulationConfig:
    """One emulation run."""

    scenario: str
    policy: str
    transport: Transport = "zmq"
    mode: Mode = "lockstep"
    slot_ms: float = 1.0
    slots: int = 1000
    seed: int = 0
    load: float | None = None
    overrides: tuple[str, ...] = ()
    genie_csi: bool = False
    latency_samples: bool = False
    # the RIC and the xApp poll their ZeroMQ sockets without sleeping; the simulator does not: on a
    # two-core host a third spinning process starves the other two (measured: 77 % vs 22 % misses)
    busy_poll: bool = True
    process_per_node: bool = False  # every node its own OS process (`run_process_per_node`)
    model_dir: str | None = None  # the RIC's model store; None: a fresh one in the run's work directory
    hierarchy: bool = False  # the three tier xApps of `xapps.hierarchy` instead of one policy xApp


def _wait_for_file(path: Path, group: ProcessGroup, component: Component, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        group.check()
        time.sleep(0.02)
    raise EmulationError(f"{component.name} did not become ready within {timeout_s:.0f} s: {component.log_tail(3)}")


def _follow(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """New complete JSON lines of ``path`` after byte ``offset``."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read()
    except OSError:
        return [], offset
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], offset
    lines = []
    for raw in chunk[: end + 1].splitlines():
        if raw.startswith(b"{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines, offset + end + 1


def xapp_name(policy: str) -> str:
    """Name of the xApp `run` starts for ``policy``: ``onnx`` for ``onnx:PATH`` (what ``models deploy --xapp``
    names), the policy name otherwise."""
    return "onnx" if policy.startswith("onnx:") else policy


def _stored_models(admin: str | None, xapp: str) -> list[dict[str, Any]]:
    """The models the RIC holds for ``xapp`` (``ntnric models list --json``), [] when it has none."""
    if not admin:
        return []
    from ntnric.models_cli import ModelsError, list_models

    try:
        return [{k: m[k] for k in ("name", "version", "sha256", "active", "source", "deployed_at",
                                   "activated_at_slot")} for m in list_models(admin, xapp)]
    except ModelsError:
        return []


def run_emulation(
    config: EmulationConfig,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    log_dir: Path | None = None,
    on_ready: Callable[[dict[str, str]], None] | None = None,
) -> dict[str, Any]:
    """Start RIC, xApp and simulator, run ``config.slots`` slots, stop everything; the result.

    ``on_ready`` gets the RIC's bound endpoints (``admin_grpc`` is where ``ntnric models``
    reaches it) once the RIC serves. Returns the simulator's result (KPIs,
    ``decision_latency_us``, ``hops_us``, misses) with the run's settings added, and ``models``:
    the RIC's models of the xApp (an ``onnx:`` policy) with ``activated_at_slot``.
    """
    work = Path(tempfile.mkdtemp(prefix="ntnric-run-"))
    ready_file = work / "ric.json"
    sim_json = work / "sim.json"
    with ProcessGroup(log_dir or work) as group:
        try:
            poll = ["--busy-poll"] if config.busy_poll else []
            authorised = ["--constraint-xapps", ",".join(TIER_XAPPS[t]().name for t in TIER_NAMES[:2])] \
                if config.hierarchy else []
            ric = group.start_python("ric", ["ric", "--ready-file", str(ready_file), "--e2-zmq", "tcp://127.0.0.1:0",
                                             "--e2-grpc", "127.0.0.1:0", "--xapp-zmq", "tcp://127.0.0.1:0",
                                             "--xapp-grpc", "127.0.0.1:0", "--admin-grpc", "127.0.0.1:0",
                                             "--metrics-port", "0", "--log-level", "WARNING",
                                             "--model-dir", config.model_dir or str(work / "models"), *poll,
                                             *authorised])
            endpoints = _wait_for_file(ready_file, group, ric, timeout_s=30.0)
            if on_ready is not None:
                on_ready(endpoints)
            key = "zmq" if config.transport == "zmq" else "grpc"
            e2_address, xapp_address = endpoints[f"e2_{key}"], endpoints[f"xapp_{key}"]
            tier_xapps: dict[str, Component] = {}
            if config.hierarchy:
                wait_s = LOCKSTEP_CONSTRAINT_WAIT_S if config.mode == "lockstep" else config.slot_ms / 1e3
                for tier in TIER_NAMES:
                    tier_xapps[tier] = group.start_python(f"xapp-{tier}", [
                        "hierarchy-xapp", tier, "--ric", xapp_address, "--constraint-wait-s", str(wait_s),
                        "--policy", "heuristic" if config.policy == HIERARCHY_POLICIES["heuristic"] else "onnx",
                        "--json", str(work / f"tier-{tier}.json"), "--progress-jsonl"])
            else:
                group.start_python("xapp", ["xapp", xapp_name(config.policy), "--ric", xapp_address,
                                            "--policy", config.policy, "--seed", str(config.seed), *poll])
            sim_args = ["sim", config.scenario, "--ric", e2_address, "--mode", config.mode,
                        "--slot-ms", str(config.slot_ms), "--slots", str(config.slots), "--seed", str(config.seed),
                        "--json", str(sim_json), "--progress-jsonl"]
            if config.load is not None:
                sim_args += ["--load", str(config.load)]
            for item in config.overrides:
                sim_args += ["--set", item]
            if config.genie_csi:
                sim_args.append("--genie-csi")
            if config.latency_samples:
                sim_args += ["--latency-samples", str(work / "latency_us.npy")]
            if config.process_per_node:
                sim_args.append("--process-per-node")
            sim = group.start_python("sim", sim_args)
            offset = 0
            tier_offsets = dict.fromkeys(tier_xapps, 0)
            tier_progress: dict[str, dict[str, Any]] = {}
            while sim.process.poll() is None:
                group.check()
                for tier, component in tier_xapps.items():
                    lines, tier_offsets[tier] = _follow(component.log_path, tier_offsets[tier])
                    for line in lines:
                        if "tier_progress" in line:
                            tier_progress[tier] = line["tier_progress"]
                lines, offset = _follow(sim.log_path, offset)
                for line in lines:
                    if "progress" in line and on_progress is not None:
                        on_progress({**line["progress"], "tiers": dict(tier_progress)} if tier_xapps
                                    else line["progress"])
                time.sleep(0.1)
            sim.expected_exit = True
            if sim.process.returncode != 0:
                raise EmulationError(f"the simulator failed (exit {sim.process.returncode}): {sim.log_tail(1)}")
            tiers = _stop_tier_xapps(group, tier_xapps, work)
            models = _stored_models(endpoints.get("admin_grpc"), xapp_name(config.policy)) if config.policy.startswith(
                "onnx:") else []
        except ComponentDied as exc:
            raise EmulationError(str(exc)) from None
    result: dict[str, Any] = json.loads(sim_json.read_text())
    result["models"] = models
    if config.hierarchy:
        for summary in tiers.values():
            summary["expected_decisions"] = math.ceil(result["slots"] / max(int(summary["period_slots"]), 1))
        result["tiers"] = tiers
    result["latency_samples_path"] = str(work / "latency_us.npy") if config.latency_samples else None
    return result


def _stop_tier_xapps(group: ProcessGroup, xapps: dict[str, Component], work: Path) -> dict[str, dict[str, Any]]:
    """SIGINT the tier xApps, wait for them to write their summaries; the summaries by tier."""
    for component in xapps.values():
        component.expected_exit = True
        if component.process.poll() is None:
            component.process.send_signal(signal.SIGINT)
    summaries: dict[str, dict[str, Any]] = {}
    for tier, component in xapps.items():
        try:
            group.wait(component, timeout_s=15.0)
        except TimeoutError:
            raise EmulationError(f"{component.name} did not stop within 15 s: {component.log_tail(1)}") from None
        path = work / f"tier-{tier}.json"
        if not path.exists():
            raise EmulationError(f"{component.name} wrote no summary: {component.log_tail(1)}")
        summaries[tier] = json.loads(path.read_text())
    return summaries


def run_document(config: EmulationConfig, result: dict[str, Any], kind: str = "run") -> dict[str, Any]:
    """The stable JSON of `ntnric run` (README): settings, KPIs, latency, misses; for a hierarchy run
    also ``tiers`` and ``refusals_by_cause`` (control refusals of every tier xApp, by cause)."""
    kpis = result["kpis"]
    tiers = result.get("tiers")
    extra: dict[str, Any] = {}
    if tiers is not None:
        causes: dict[str, int] = {}
        for summary in tiers.values():
            for cause, count in summary["refusals"].items():
                causes[cause] = causes.get(cause, 0) + int(count)
        extra = {"hierarchy": True, "tiers": tiers, "refusals_by_cause": causes}
    return {
        "kind": kind,
        "scenario": result["scenario"],
        "world": result["world"],
        "seed": config.seed,
        "policy_seed": policy_seed(config.seed),
        "load": result["load"],
        "load_unit": result["load_unit"],
        "slots": result["slots"],
        "slot_s": result["slot_s"],
        "mode": config.mode,
        "transport": config.transport,
        "process_per_node": config.process_per_node,
        "slot_ms": config.slot_ms if config.mode == "realtime" else None,
        "policy": config.policy,
        "genie_csi": config.genie_csi,
        "decision_latency_us": result["decision_latency_us"],
        "hops_us": result["hops_us"],
        "deadline_miss_rate": result["deadline_miss_rate"],
        "misses": {k: result[k] for k in ("expected", "applied", "missed", "late", "refused_by_node", "refused_by_ric",
                                          "fallback_last_valid", "fallback_default", "uncontrolled", "resetups",
                                          "missed_slots")},
        "slots_per_s": result["slots_per_s"],
        "wall_s": result["wall_s"],
        "policies": {config.policy: {"genie": config.genie_csi, **kpis}},
        "models": result.get("models", []),
        **extra,
    }


def run_process_per_node(
    world: World,
    *,
    ric: str,
    mode: Mode,
    slot_ms: float,
    slots: int,
    seed: int,
    fallback: str,
    await_s: float,
    log_level: str = "WARNING",
    progress_stream: Any = None,
) -> tuple[dict[str, Any], LatencyRecorder]:
    """`ntnric sim --process-per-node`: serve ``world`` to one OS process per node.

    The world, its slot clock and the KPIs stay in this process (`WorldServer`); node ``k`` runs
    ``ntnric sim-node`` with its own RIC connection at ``ric``. Node processes never busy-poll:
    ``K`` of them share the host's cores with the RIC and the xApps.

    Returns
    -------
    result : dict
        The simulator's result, as `E2Agent.run` gives it: KPIs, latency and miss counters
        summed over the nodes.
    latency : LatencyRecorder
        Every node's decisions (``decision_latency_us`` for latency samples).
    """
    with tempfile.TemporaryDirectory(prefix="ntnric-nodes-") as work:
        server = WorldServer(world, ServerConfig(mode=mode, slot_wall_s=slot_ms / 1e3, ready_timeout_s=await_s + 120.0,
                                                 progress_stream=progress_stream), ipc_address(work))
        try:
            with ProcessGroup(Path(work)) as group:
                for k in range(world.spec.n_nodes):
                    group.start_python(f"node-{k}", ["sim-node", server.address, "--node", str(k), "--ric", ric,
                                                     "--mode", mode, "--slots", str(slots), "--seed", str(seed),
                                                     "--fallback", fallback, "--await-s", str(await_s),
                                                     "--log-level", log_level])

                def check() -> None:
                    for c in group.components:  # a node that sent its result exits 0
                        if c.process.poll() == 0:
                            c.expected_exit = True
                    group.check()

                try:
                    result = server.run(slots, seed, check=check)
                    for c in group.components:
                        c.expected_exit = True
                    for c in group.components:
                        code = group.wait(c, timeout_s=30.0)
                        if code != 0:
                            raise EmulationError(f"{c.name} failed (exit {code}): {c.log_tail(1)}")
                except ComponentDied as exc:
                    raise EmulationError(str(exc)) from None
        finally:
            server.close()
    return result, server.latency
