"""The `ntnric` command line.

Every user mistake (unknown scenario, bad field, unknown policy, busy port...) ends in one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from e2_sim.scenarios import ScenarioError, load_scenario, parse_override, preset_names
from ntnric.models_cli import models_app
from ntnric.train_cli import export_command, train_app
from xapps.policies import PolicyError

app = typer.Typer(
    name="ntnric",
    help="Near-real-time RAN controller emulator for terrestrial and non-terrestrial networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that report what they measured.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
app.command("export")(export_command)

console = Console()
err_console = Console(stderr=True)

class UsageError(Exception):
    """A command-line mistake reported in one line."""


USER_ERRORS: tuple[type[Exception], ...] = (ScenarioError, PolicyError, UsageError)


def _overrides(items: list[str] | None) -> dict[str, Any]:
    return dict(parse_override(item) for item in items or [])


def _write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    console.print(f"wrote {path}")


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario field, e.g. --set bs_max_power_dbw=20 (repeatable)."),
]


@app.command()
def scenarios() -> None:
    """List the scenario presets, one line each."""
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("preset")
    table.add_column("world")
    table.add_column("load")
    table.add_column("description")
    for name in preset_names():
        scenario = load_scenario(name)
        table.add_row(name, scenario.world, f"{scenario.default_load:g} {scenario.load_unit}", scenario.description)
    console.print(table)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


@app.command("eval")
def eval_command(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario file (.toml/.json).")],
    policies: Annotated[str, typer.Option(help="Comma-separated policy names.")] = "llq,full-power",
    load: Annotated[float | None, typer.Option(help="Traffic load in the scenario's unit.")] = None,
    slots: Annotated[int | None, typer.Option(help="Slots per policy (default: the scenario's test length).")] = None,
    seed: Annotated[int, typer.Option(help="World seed, the same for every policy.")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Directory for PNG plots.")] = None,
    set_: SetOption = None,
) -> None:
    """Evaluate policies directly against the radio world (no E2), same world seed for each."""
    from ntnric.evaluate import evaluate

    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        raise UsageError("--policies is empty")
    if slots is not None and slots <= 0:
        raise UsageError(f"--slots must be > 0, got {slots}")
    scenario_obj = load_scenario(scenario, _overrides(set_))
    n_slots = slots or scenario_obj.test_slots
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=True,
    ) as progress:
        tasks = {name: progress.add_task(name, total=n_slots) for name in names}
        evaluation = evaluate(
            scenario, names, load=load, slots=n_slots, seed=seed, overrides=_overrides(set_),
            progress=lambda name, n: progress.advance(tasks[name], n),
        )
    table = Table(title=f"{evaluation.scenario.name} · load {evaluation.load:g} {evaluation.scenario.load_unit} · "
                  f"{evaluation.slots} slots · seed {seed}")
    for column in ("policy", "delay ms", "thr Mbit/s", "SE bit/s/Hz", "QoS viol", "Jain", "decide p50 µs", "p99 µs"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for r in evaluation.results:
        k = r.kpis
        table.add_row(
            f"{r.name} (genie)" if r.genie else r.name,
            _fmt(k.get("avg_packet_delay_ms")), _fmt(k["throughput_mbps"]), _fmt(k["spectral_efficiency_bps_hz"]),
            _fmt(k["qos_violation_rate"]), _fmt(k["jain_fairness"]),
            _fmt(k["decision_time_us"]["p50"]), _fmt(k["decision_time_us"]["p99"]),
        )
    console.print(table)
    _write_json(json_path, evaluation.to_json())
    if plot is not None:
        from ntnric.plots import plot_evaluation

        for path in plot_evaluation(evaluation, plot):
            console.print(f"wrote {path}")


@bench_app.command("model")
def bench_model_command(
    model: Annotated[str, typer.Argument(help="ONNX file exported by 'ntnric export'.")],
    scenario: Annotated[str | None, typer.Option(help="Scenario (default: the one in the model's metadata).")]
    = None,
    slots: Annotated[int, typer.Option(help="Slots to time.")] = 5000,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
) -> None:
    """Decision time of a learned policy: features, ONNX inference (all agents in one call), decoding."""
    from ntnric.bench_model import bench_model

    result = bench_model(model, scenario, slots)
    table = Table(title=f"{result['scenario']} · {result['agents']} agents · {slots} slots", box=None)
    for column in ("part", "p50 µs", "p90 µs", "p99 µs", "max µs"):
        table.add_column(column, justify="right" if column != "part" else "left")
    for part in ("features", "inference", "decode", "decision"):
        row = result[f"{part}_us"]
        table.add_row(part, *(f"{row[q]:.1f}" for q in ("p50", "p90", "p99", "max")))
    console.print(table)
    _write_json(json_out, result)


@bench_app.command("swap")
def bench_swap_command(
    model: Annotated[Path, typer.Argument(help="ONNX model the xApp starts with (exported by 'ntnric export').")]
    = Path("models/zoo/hex19.onnx"),
    scenario: Annotated[str | None, typer.Option(help="Scenario (default: the one in the model's metadata).")]
    = None,
    slot_ms: Annotated[float, typer.Option(help="Wall-clock slot [ms].")] = 20.0,
    slots: Annotated[int, typer.Option(help="Slots to run.")] = 2000,
    swaps: Annotated[int, typer.Option(help="Model changes: deploys of a variant and rollbacks, alternating.")] = 4,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
) -> None:
    """Hot swaps during a realtime run: the slot of each switch and the deadline misses around it."""
    from ntnric.bench_swap import bench_swap

    result = bench_swap(model, scenario, slot_ms, slots, swaps)
    table = Table(title=f"{result['scenario']} · {slot_ms:g} ms slots · {slots} slots · hot swaps", box=None)
    for column in ("request", "at slot", "switched at slot", "slots with misses around it"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for entry in result["swaps"]:
        switched = "-" if entry["switched_at_slot"] is None else str(entry["switched_at_slot"])
        table.add_row(entry["request"] + ("" if entry["ok"] else " (refused)"), str(entry["requested_at_slot"]),
                      switched, ", ".join(map(str, entry["slots_with_misses_in_window"])) or "none")
    console.print(table)
    rate = result["missed"] / result["expected"] if result["expected"] else 0.0
    latency = result["decision_latency_us"]
    console.print(f"missed node-decisions: {result['missed']} of {result['expected']} ({rate:.3%}); slots with a "
                  f"miss: {result['missed_slots'] or 'none'}; decision latency p50 {latency['p50']:.0f} µs, "
                  f"p99 {latency['p99']:.0f} µs", highlight=False, soft_wrap=True)
    for entry in result["swaps"]:
        if not entry["ok"]:
            console.print(f"{entry['request']} refused: {entry['reply']}", highlight=False, soft_wrap=True)
    _write_json(json_out, result)


@bench_app.command("world")
def bench_world_command(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario file.")] = "hex19",
    slots: Annotated[int, typer.Option(help="Slots to step at batch 1.")] = 5000,
    batch: Annotated[int, typer.Option(help="Batch size of the batched run.")] = 64,
    batched_slots: Annotated[int, typer.Option(help="Slots to step at the batch size.")] = 300,
    seed: Annotated[int, typer.Option(help="Root seed.")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
) -> None:
    """Step the world with a fixed control: slots/s at batch 1 and world-slots/s batched."""
    from e2_sim.bench import bench_world

    load_scenario(scenario)
    single = bench_world(scenario, slots=slots, batch=1, seed=seed)
    batched = bench_world(scenario, slots=batched_slots, batch=batch, seed=seed)
    document = {
        "kind": "bench-world",
        "scenario": scenario,
        "slots_per_s": single["slots_per_s"],
        "batched_world_slots_per_s": batched["world_slots_per_s"],
        "batch": batch,
        "runs": [single, batched],
    }
    console.print(
        f"{scenario}: {single['slots_per_s']:,.0f} slots/s at batch 1 · "
        f"{batched['world_slots_per_s']:,.0f} world-slots/s at batch {batch}"
    )
    _write_json(json_path, document)


def _configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)


@app.command()
def ric(
    e2_zmq: Annotated[str, typer.Option(help="ZeroMQ ROUTER for E2 nodes ('' = off).")] = "tcp://127.0.0.1:36421",
    e2_grpc: Annotated[str, typer.Option(help="gRPC address for E2 nodes ('' = off).")] = "127.0.0.1:36422",
    xapp_zmq: Annotated[str, typer.Option(help="ZeroMQ ROUTER for xApps ('' = off).")] = "tcp://127.0.0.1:4560",
    xapp_grpc: Annotated[str, typer.Option(help="gRPC address for xApps ('' = off).")] = "127.0.0.1:4561",
    admin_grpc: Annotated[str, typer.Option(help="gRPC address of the Admin service ('' = off).")] = "127.0.0.1:4562",
    metrics_port: Annotated[int, typer.Option(help="Port of /metrics and /healthz (0 = any free port).")] = 9464,
    name: Annotated[str, typer.Option(help="Name the RIC announces.")] = "ntnric-ric",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[str, typer.Option(help="text or json.")] = "text",
    ready_file: Annotated[Path | None, typer.Option(help="Write the bound endpoints here (JSON) once serving.")] = None,
    busy_poll: Annotated[bool, typer.Option(help="ZeroMQ: poll without sleeping (lower latency, one busy core).")]
    = False,
    model_dir: Annotated[str, typer.Option(help="Directory of the model registry's store ('' = in memory, lost "
                                                "when the RIC stops).")] = ".ntnric/models",
    constraint_xapps: Annotated[str | None, typer.Option(
        help="Comma-separated xApp names allowed to set constraints (default: every xApp that asks).")] = None,
    warm_model_checker: Annotated[bool, typer.Option(
        help="Load the model checks (onnx, onnxruntime) at start, not during the first slots of a run.")] = True,
) -> None:
    """Run the near-RT RIC: E2 and xApp terminations over ZeroMQ and gRPC, Admin, /metrics."""
    import asyncio

    # gRPC's C core would print its own line about a busy port before ours; the RIC reports it
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")

    from pydantic import ValidationError

    from ric.config import RicConfig
    from ric.server import Endpoints, serve

    try:
        config = RicConfig(e2_zmq=e2_zmq or None, e2_grpc=e2_grpc or None, xapp_zmq=xapp_zmq or None,
                           xapp_grpc=xapp_grpc or None, admin_grpc=admin_grpc or None, metrics_port=metrics_port,
                           name=name, log_level=log_level.upper(), log_format=log_format,  # type: ignore[arg-type]
                           busy_poll=busy_poll, model_dir=model_dir or None, warm_model_checker=warm_model_checker,
                           constraint_xapps=None if constraint_xapps is None else tuple(
                               n.strip() for n in constraint_xapps.split(",") if n.strip()))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{where + ': ' if where else ''}{err['msg']}") from None

    def ready(endpoints: Endpoints) -> None:
        if ready_file is not None:
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(endpoints.as_dict()))
            tmp.replace(ready_file)

    asyncio.run(serve(config, ready=ready))


@app.command()
def sim(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario file.")],
    ric_address: Annotated[str, typer.Option("--ric", help="RIC E2 address: tcp://HOST:PORT or HOST:PORT (gRPC).")]
    = "tcp://127.0.0.1:36421",
    mode: Annotated[str, typer.Option(help="lockstep or realtime.")] = "lockstep",
    slot_ms: Annotated[float, typer.Option(help="Wall-clock slot in realtime mode [ms].")] = 1.0,
    slots: Annotated[int | None, typer.Option(help="Slots to run (default: the scenario's test length).")] = None,
    seed: Annotated[int, typer.Option(help="World seed.")] = 0,
    load: Annotated[float | None, typer.Option(help="Traffic load in the scenario's unit.")] = None,
    genie_csi: Annotated[bool, typer.Option(help="Report the current slot's channel (for genie policies).")] = False,
    fallback: Annotated[str, typer.Option(help="Local default scheduler of the nodes.")] = "round-robin",
    await_s: Annotated[float, typer.Option(help="How long to wait for xApps to subscribe [s].")] = 15.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
    progress_jsonl: Annotated[bool, typer.Option(help="Print JSON progress lines on stdout.")] = False,
    latency_samples: Annotated[Path | None, typer.Option(help="Save every decision latency [µs] (.npy).")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    busy_poll: Annotated[bool, typer.Option(help="ZeroMQ: poll without sleeping (lower latency, one busy core).")]
    = False,
    process_per_node: Annotated[bool, typer.Option(
        help="Run every node as its own OS process with its own RIC connection (the world stays here).")] = False,
    set_: SetOption = None,
) -> None:
    """Run a world's nodes as E2 nodes against a RIC (one E2 association per node; one process, or one per node)."""
    from e2_sim.node.agent import AgentConfig, E2Agent
    from e2_sim.node.timing import LatencyRecorder
    from e2_sim.world import make_world
    from xapps.policies import make_policy

    if mode not in ("lockstep", "realtime"):
        raise UsageError(f"--mode must be lockstep or realtime, got {mode!r}")
    if slot_ms <= 0:
        raise UsageError(f"--slot-ms must be > 0, got {slot_ms}")
    _configure_logging(log_level)
    scenario_obj = load_scenario(scenario, _overrides(set_))
    load_value = scenario_obj.default_load if load is None else load
    n_slots = slots or scenario_obj.test_slots
    world = make_world(scenario_obj, load=load_value, genie_csi=genie_csi)
    default = make_policy(fallback, world.spec, seed=seed + 2)
    progress_stream = sys.stdout if progress_jsonl else None
    latency: LatencyRecorder
    if process_per_node:
        from ntnric.emulation import run_process_per_node

        result, latency = run_process_per_node(
            world, ric=ric_address, mode=mode, slot_ms=slot_ms, slots=n_slots, seed=seed,  # type: ignore[arg-type]
            fallback=fallback, await_s=await_s, log_level=log_level, progress_stream=progress_stream)
    else:
        config = AgentConfig(ric=ric_address, mode=mode, slot_wall_s=slot_ms / 1e3,  # type: ignore[arg-type]
                             await_subscriptions_s=await_s, progress_stream=progress_stream, busy_poll=busy_poll)
        agent = E2Agent(world, default.decide, config)
        result = agent.run(n_slots, seed)
        latency = agent.latency
    result.update(scenario=scenario_obj.name, world=scenario_obj.world, load=load_value,
                  load_unit=scenario_obj.load_unit, slot_s=scenario_obj.slot_s, seed=seed, mode=mode)
    if latency_samples is not None:
        import numpy as np

        np.save(latency_samples, latency.decision_latency_us())
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    if not progress_jsonl:
        lat = result["decision_latency_us"]
        console.print(f"{scenario_obj.name}: {n_slots} slots in {result['wall_s']:.1f} s, "
                      f"decision latency p50 {lat['p50']:.0f} µs p99 {lat['p99']:.0f} µs, "
                      f"deadline misses {result['deadline_miss_rate']:.3%}")


@app.command("sim-node", hidden=True)
def sim_node(
    world_address: Annotated[str, typer.Argument(help="ZeroMQ address of the world server (sim --process-per-node).")],
    node: Annotated[int, typer.Option(help="World index of the node this process hosts.")],
    slots: Annotated[int, typer.Option(help="Slots the world server runs.")],
    ric_address: Annotated[str, typer.Option("--ric", help="RIC E2 address: tcp://HOST:PORT or HOST:PORT (gRPC).")]
    = "tcp://127.0.0.1:36421",
    mode: Annotated[str, typer.Option(help="lockstep or realtime.")] = "lockstep",
    seed: Annotated[int, typer.Option(help="World seed (checked against the world server's).")] = 0,
    fallback: Annotated[str, typer.Option(help="Local default scheduler of the node.")] = "round-robin",
    await_s: Annotated[float, typer.Option(help="How long to wait for xApps to subscribe [s].")] = 15.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
) -> None:
    """One node of `sim --process-per-node`: its own E2 association; the world comes from the server."""
    from e2_sim.node.agent import AgentConfig, E2Agent
    from e2_sim.node.world_server import RemoteWorld
    from xapps.policies import make_policy

    if mode not in ("lockstep", "realtime"):
        raise UsageError(f"--mode must be lockstep or realtime, got {mode!r}")
    _configure_logging(log_level)
    port = RemoteWorld(world_address, node)
    default = make_policy(fallback, port.spec, seed=seed + 2)
    config = AgentConfig(ric=ric_address, mode=mode, await_subscriptions_s=await_s,  # type: ignore[arg-type]
                         name=f"sim-node-{node}")
    agent = E2Agent(port, default.decide, config)
    port.attach(agent)
    agent.run(slots, seed)
    port.send_result(agent.stats)


@app.command()
def xapp(
    name: Annotated[str, typer.Argument(help="xApp name at the RIC.")],
    ric_address: Annotated[str, typer.Option("--ric", help="RIC xApp address: tcp://HOST:PORT or HOST:PORT (gRPC).")]
    = "tcp://127.0.0.1:4560",
    policy: Annotated[str, typer.Option(help="Policy to run (any name `ntnric eval` accepts).")] = "llq",
    seed: Annotated[int, typer.Option(help="World seed of the run (the policy's stream derives from it).")] = 0,
    period_slots: Annotated[int, typer.Option(help="Decide every N slots.")] = 1,
    duration_s: Annotated[float | None, typer.Option(help="Stop after this long (default: until Ctrl-C).")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    busy_poll: Annotated[bool, typer.Option(help="ZeroMQ: poll without sleeping (lower latency, one busy core).")]
    = False,
) -> None:
    """Run a policy as an xApp: subscribe to every node, decide every period, send controls."""
    from ntnric.evaluate import policy_seed
    from xapps.policies import policy_names
    from xapps.policy_xapp import PolicyXApp
    from xapps.sdk import XappRunner

    if policy not in policy_names() and not policy.startswith("onnx:"):
        raise PolicyError(f"unknown policy {policy!r}; known: {', '.join(policy_names())}, onnx:PATH")
    _configure_logging(log_level)
    runner = XappRunner(PolicyXApp(policy, policy_seed(seed), name=name, period_slots=period_slots), ric_address,
                        busy_poll=busy_poll)
    try:
        summary = runner.run(duration_s)
    except KeyboardInterrupt:
        summary = runner.summary()
    fallbacks = f", {summary['fallbacks']} model fallbacks" if "fallbacks" in summary else ""
    err_console.print(f"xapp {name}: {summary['decisions']} decisions, {summary['skipped_slots']} skipped slots, "
                      f"refusals {summary['refusals'] or 'none'}, {summary['models_activated']} model switches"
                      f"{fallbacks}")


@app.command("hierarchy-xapp", hidden=True)
def hierarchy_xapp(
    tier: Annotated[str, typer.Argument(help="satellite, hap or local.")],
    ric_address: Annotated[str, typer.Option("--ric", help="RIC xApp address: tcp://HOST:PORT or HOST:PORT (gRPC).")]
    = "tcp://127.0.0.1:4560",
    constraint_wait_s: Annotated[float, typer.Option(help="Longest wait for the tier above's constraint [s].")] = 1.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary here when stopped.")] = None,
    progress_jsonl: Annotated[bool, typer.Option(help="Print JSON progress lines on stdout.")] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    busy_poll: Annotated[bool, typer.Option(help="ZeroMQ: poll without sleeping (lower latency, one busy core).")]
    = False,
    policy: Annotated[str, typer.Option(
        help="'onnx' (the shipped model of the tier), 'heuristic', or an ONNX file of the tier.")] = "onnx",
) -> None:
    """One tier xApp of the space–air–ground hierarchy (`xapps.hierarchy`), until Ctrl-C."""
    from xapps.hierarchy import TIER_XAPPS, tier_policy_factory, zoo_tier_factory
    from xapps.sdk import XappRunner

    if tier not in TIER_XAPPS:
        raise UsageError(f"tier must be one of {', '.join(TIER_XAPPS)}, got {tier!r}")
    _configure_logging(log_level)
    factory = (zoo_tier_factory(tier) if policy == "onnx" else tier_policy_factory(tier) if policy == "heuristic"
               else tier_policy_factory(tier, policy))

    def progress(line: dict[str, Any]) -> None:
        print(json.dumps({"tier_progress": line}), flush=True)

    runner = XappRunner(TIER_XAPPS[tier](factory), ric_address, busy_poll=busy_poll,
                        constraint_wait_s=constraint_wait_s, progress=progress if progress_jsonl else None)
    with contextlib.suppress(KeyboardInterrupt):
        runner.run()
    _write_json(json_path, runner.summary())


def _emulation_config(scenario: str, policy: str, transport: str, mode: str, slot_ms: float, slots: int | None,
                      seed: int, load: float | None, set_: list[str] | None, latency_samples: bool = False,
                      process_per_node: bool = False, busy_poll: bool = True, hierarchy: bool = False,
                      tiers: str = "onnx") -> Any:
    from ntnric.emulation import HIERARCHY_POLICIES, EmulationConfig
    from xapps.policies import policy_class

    if transport not in ("zmq", "grpc"):
        raise UsageError(f"--transport must be zmq or grpc, got {transport!r}")
    if mode not in ("lockstep", "realtime"):
        raise UsageError(f"--mode must be lockstep or realtime, got {mode!r}")
    scenario_obj = load_scenario(scenario, _overrides(set_))
    if hierarchy:
        if scenario_obj.world != "sag":
            raise UsageError(f"--hierarchy runs the space–air–ground world 'sag', not {scenario_obj.world!r}")
        if process_per_node:
            raise UsageError("--hierarchy runs the nodes in one simulator process; drop --process-per-node")
        if tiers not in HIERARCHY_POLICIES:
            raise UsageError(f"--tiers must be {' or '.join(HIERARCHY_POLICIES)}, got {tiers!r}")
        return EmulationConfig(scenario=scenario, policy=HIERARCHY_POLICIES[tiers],
                               transport=transport,  # type: ignore[arg-type]
                               mode=mode, slot_ms=slot_ms,  # type: ignore[arg-type]
                               slots=slots or scenario_obj.test_slots, seed=seed, load=load,
                               overrides=tuple(set_ or ()), latency_samples=latency_samples, busy_poll=busy_poll,
                               hierarchy=True)
    cls = policy_class(policy)
    if cls.world_kinds and scenario_obj.world not in cls.world_kinds:
        raise PolicyError(f"policy {policy!r} does not support {scenario_obj.world!r} worlds")
    if policy.startswith("onnx:"):  # refuse a model that does not fit before starting any process
        from e2_sim.world import make_world
        from xapps.policies import make_policy

        make_policy(policy, make_world(scenario_obj, load=load).spec)
    return EmulationConfig(scenario=scenario, policy=policy, transport=transport,  # type: ignore[arg-type]
                           mode=mode, slot_ms=slot_ms, slots=slots or scenario_obj.test_slots,  # type: ignore[arg-type]
                           seed=seed, load=load, overrides=tuple(set_ or ()), genie_csi=cls.genie,
                           latency_samples=latency_samples, process_per_node=process_per_node,
                           busy_poll=busy_poll)


def _live_emulation(config: Any) -> dict[str, Any]:
    from ntnric.emulation import run_emulation

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[status]}"), console=err_console, transient=True) as progress:
        task = progress.add_task(f"{config.scenario} · {config.policy} · {config.transport} · {config.mode}",
                                 total=config.slots, status="starting RIC, xApp and nodes")

        def ready(endpoints: dict[str, str]) -> None:
            if config.policy.startswith("onnx:") and endpoints.get("admin_grpc"):
                admin = endpoints["admin_grpc"]
                progress.console.print(f"RIC admin at {admin}: deploy a model with ntnric models deploy FILE "
                                       f"--xapp onnx --ric {admin}", highlight=False, soft_wrap=True)

        def show(p: dict[str, Any]) -> None:
            tiers = " · ".join(f"{name} {t['decisions']} dec {t['refusals'] + t['constraint_refusals']} ref "
                               f"p99 {t['latency_us']['p99']:.0f} µs" for name, t in p.get("tiers", {}).items())
            progress.update(task, completed=p["slot"], status=(
                f"{p['slots_per_s']:,.0f} slots/s · {p['throughput_mbps']:.1f} Mbit/s · "
                f"latency p50 {p['latency_p50_us']:.0f} µs p99 {p['latency_p99_us']:.0f} µs · "
                f"misses {p['misses']}/{p['expected']}" + (f" | {tiers}" if tiers else "")))

        return run_emulation(config, on_progress=show, on_ready=ready)


def _print_run(document: dict[str, Any]) -> None:
    k = document["policies"][document["policy"]]
    lat = document["decision_latency_us"]
    title = (f"{document['scenario']} · {document['policy']} · {document['transport']} · {document['mode']} · "
             f"{document['slots']} slots · seed {document['seed']}")
    kpis = Table(title=title)
    for column in ("delay ms", "thr Mbit/s", "SE bit/s/Hz", "QoS viol", "Jain", "slots/s"):
        kpis.add_column(column, justify="right")
    kpis.add_row(_fmt(k.get("avg_packet_delay_ms")), _fmt(k["throughput_mbps"]), _fmt(k["spectral_efficiency_bps_hz"]),
                 _fmt(k["qos_violation_rate"]), _fmt(k["jain_fairness"]), _fmt(document["slots_per_s"]))
    console.print(kpis)
    latency = Table(title="decision latency [µs] and deadline misses")
    for column in ("p50", "p90", "p99", "p99.9", "max", "decisions", "misses"):
        latency.add_column(column, justify="right")
    latency.add_row(_fmt(lat["p50"]), _fmt(lat["p90"]), _fmt(lat["p99"]), _fmt(lat["p999"]), _fmt(lat["max"]),
                    str(lat["count"]), f"{document['deadline_miss_rate']:.3%}")
    console.print(latency)
    hops = Table(title="per hop [µs]", box=None)
    for column in ("hop", "p50", "p99", "max"):
        hops.add_column(column, justify="left" if column == "hop" else "right")
    for hop, v in document["hops_us"].items():
        hops.add_row(hop, _fmt(v["p50"]), _fmt(v["p99"]), _fmt(v["max"]))
    console.print(hops)
    if document.get("tiers"):
        tiers = Table(title="tiers: decisions, latency node report -> control sent [µs], refusals")
        for column in ("tier", "period", "decisions", "expected", "p50", "p99", "max", "refused", "constraints",
                       "constraint refused", "wait timeouts"):
            tiers.add_column(column, justify="left" if column == "tier" else "right")
        for name, t in document["tiers"].items():
            lat_t = t["latency_us"]
            tiers.add_row(name, str(t["period_slots"]), str(t["decisions"]), str(t["expected_decisions"]),
                          _fmt(lat_t["p50"]), _fmt(lat_t["p99"]), _fmt(lat_t["max"]),
                          str(sum(t["refusals"].values())), str(t["constraints_accepted"]),
                          str(sum(t["constraint_refusals"].values())), str(t["constraint_wait_timeouts"]))
        console.print(tiers)
        console.print(f"refusals by cause: {document['refusals_by_cause'] or 'none'}", highlight=False)


@app.command()
def run(
    scenario: Annotated[str | None, typer.Argument(
        help="Preset name or scenario file (none: the sag hierarchy, as with 'sag --hierarchy').")] = None,
    policy: Annotated[str, typer.Option(help="Policy the xApp runs.")] = "equal-split",
    hierarchy: Annotated[bool, typer.Option(
        help="Run the three tier xApps of the space–air–ground hierarchy instead of one policy xApp.")] = False,
    tiers: Annotated[str, typer.Option(
        help="With the hierarchy: 'onnx' (the shipped tier models) or 'heuristic' (proportional splits).")] = "onnx",
    transport: Annotated[str, typer.Option(help="zmq or grpc (both E2 and xApp links).")] = "zmq",
    mode: Annotated[str, typer.Option(help="lockstep or realtime.")] = "realtime",
    slot_ms: Annotated[float, typer.Option(help="Wall-clock slot in realtime mode [ms].")] = 1.0,
    slots: Annotated[int | None, typer.Option(help="Slots (default: the scenario's test length).")] = None,
    seed: Annotated[int, typer.Option(help="World seed.")] = 0,
    load: Annotated[float | None, typer.Option(help="Traffic load in the scenario's unit.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    process_per_node: Annotated[bool, typer.Option(help="Every node its own OS process and RIC connection.")]
    = False,
    busy_poll: Annotated[bool, typer.Option(
        help="RIC, simulator and xApp poll ZeroMQ without sleeping (lower latency; two busy cores).")] = True,
    set_: SetOption = None,
) -> None:
    """Full emulation: RIC, nodes and the xApp(s) as separate processes; live progress and a summary.

    With no scenario: the space–air–ground hierarchy on ``sag`` (satellite, HAP and local tier xApps).
    """
    from ntnric.emulation import run_document

    if scenario is None:
        scenario, hierarchy = "sag", True
    config = _emulation_config(scenario, policy, transport, mode, slot_ms, slots, seed, load, set_,
                               process_per_node=process_per_node, busy_poll=busy_poll, hierarchy=hierarchy,
                               tiers=tiers)
    result = _live_emulation(config)
    document = run_document(config, result)
    _print_run(document)
    _write_json(json_path, document)


@bench_app.command("latency")
def bench_latency(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario file.")] = "hex19",
    policy: Annotated[str, typer.Option(help="Policy the xApp runs.")] = "llq",
    transport: Annotated[str, typer.Option(help="zmq or grpc.")] = "zmq",
    slot_ms: Annotated[float, typer.Option(help="Wall-clock slot [ms].")] = 1.0,
    slots: Annotated[int, typer.Option(help="Slots to run.")] = 20000,
    seed: Annotated[int, typer.Option(help="World seed.")] = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Latency histogram PNG.")] = None,
    busy_poll: Annotated[bool, typer.Option(
        help="RIC, simulator and xApp poll ZeroMQ without sleeping (lower latency; two busy cores).")] = True,
) -> None:
    """Per-decision latency in realtime mode, hop by hop, with percentiles and the miss rate."""
    import numpy as np

    from ntnric.emulation import run_document

    config = _emulation_config(scenario, policy, transport, "realtime", slot_ms, slots, seed, None, None,
                               latency_samples=True, busy_poll=busy_poll)
    result = _live_emulation(config)
    document = run_document(config, result, kind="bench-latency")
    if transport == "zmq":
        from ntnric.netprobe import zmq_round_trip_us

        document["transport_baseline_rtt_us"] = zmq_round_trip_us(busy_poll=busy_poll)
    _print_run(document)
    if "transport_baseline_rtt_us" in document:
        rtt = document["transport_baseline_rtt_us"]
        console.print(f"this host, bare ZeroMQ round trip between two processes: p50 {rtt['p50']:.0f} µs, "
                      f"p99 {rtt['p99']:.0f} µs (a decision takes two round trips: node-RIC-xApp and back)")
    _write_json(json_path, document)
    if plot is not None:
        from ntnric.plots import plot_latency_histogram

        samples = np.load(result["latency_samples_path"])
        plot_latency_histogram(samples, slot_ms * 1e3, document, plot)
        console.print(f"wrote {plot}")


@app.command()
def reproduce(
    paper: Annotated[str, typer.Argument(help="multicell, conflict, cstn, sag or srb.")],
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/reproduce"),
    slots: Annotated[int | None, typer.Option(help="Slots per run (default: each scenario's test length).")] = None,
    seed: Annotated[int, typer.Option(help="World seed, the same for every policy.")] = 0,
) -> None:
    """Run a paper's evaluation grid over every policy available for it: tables and figures."""
    from ntnric.reproduce import PAPERS, run_paper, total_runs, write_outputs

    if paper not in PAPERS:
        raise UsageError(f"unknown paper {paper!r}; one of {', '.join(PAPERS)}")
    if slots is not None and slots <= 0:
        raise UsageError(f"--slots must be > 0, got {slots}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[last]}"), console=err_console, transient=True) as progress:
        task = progress.add_task(paper, total=total_runs(paper), last="")
        spec, cases = run_paper(paper, slots, seed, progress=lambda what: progress.update(task, advance=1, last=what))
    for path in write_outputs(paper, spec, cases, seed, out):
        console.print(f"wrote {path}")


# user-facing errors of modules imported on demand: (module, class name)
_LAZY_USER_ERRORS = (
    ("ric.server", "RicError"),
    ("ric.transport.base", "TransportError"),
    ("ntnric.emulation", "EmulationError"),
    ("ntnric.bench_swap", "SwapBenchError"),
    ("e2_sim.node.world_server", "WorldServerError"),
    ("ntnric.train_cli", "TrainCliError"),
    ("models.config", "TrainingError"),
    ("models.export", "ExportError"),
    ("ric.protocol.models", "ModelError"),
)


def _user_errors() -> tuple[type[BaseException], ...]:
    """`USER_ERRORS` plus those of the lazily imported modules that are loaded (only they can raise)."""
    lazy = [getattr(sys.modules[m], name) for m, name in _LAZY_USER_ERRORS if m in sys.modules]
    return (*USER_ERRORS, *lazy)


def main() -> None:
    """Console-script entry point: run the app, turn user errors into one line and exit 2."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
