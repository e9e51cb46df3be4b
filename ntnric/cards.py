"""Model cards for exported models: how to reproduce the model and how it compares.

A card (``FILE.md`` beside ``FILE.onnx``) holds the training command rebuilt from the run's
config (fields left at their defaults are omitted), the export command, what training cost
(slots, wall time, machine) and an `ntnric eval` table of the model against the baselines of its
world kind on the scenario's test length and seed 0.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ntnric.evaluate import Evaluation, evaluate

BASELINES = {"multicell": ["llq", "full-power", "fitlinq", "fp", "wmmse"], "conflict": ["gms", "llq", "qcsma"],
             "cstn": ["ara", "average-power", "random-power"]}
_TRAIN_DEFAULTS = {"teacher": None}  # fields the command line sets from the world kind


def maddqn_training_command(config: dict[str, Any], out_dir: str) -> str:
    """The ``ntnric train maddqn`` command that reruns ``config`` into ``out_dir``."""
    from models.maddqn import MaddqnConfig

    default = asdict(MaddqnConfig())
    config = asdict(MaddqnConfig.from_dict(config))
    parts = ["ntnric train maddqn", f"--scenario {config['scenario']}"]
    if config.get("load") is not None:
        parts.append(f"--load {config['load']:g}")
    parts += [f"--steps {config['steps']}", f"--seed {config['seed']}"]
    for key, value in sorted((config.get("overrides") or {}).items()):
        parts.append(f"--set {key}={value}")
    skip = {"scenario", "load", "steps", "seed", "overrides"}
    for f in fields(MaddqnConfig):
        if f.name not in skip and config.get(f.name) != default[f.name]:
            value = config[f.name]
            shown = json.dumps(value, separators=(",", ":")) if isinstance(value, (bool, list, dict)) else value
            parts.append(f"--cfg {f.name}={shown}")
    parts.append(f"--out {out_dir}")
    return " ".join(parts)


def training_command(config: dict[str, Any], out_dir: str) -> str:
    """The ``ntnric train mappo`` command that reruns ``config`` into ``out_dir``."""
    from models.mappo import MappoConfig

    default = asdict(MappoConfig())
    config = asdict(MappoConfig.from_dict(config))  # fields of older runs take their defaults
    parts = ["ntnric train mappo", f"--scenario {config['scenario']}"]
    if config.get("load") is not None:
        parts.append(f"--load {config['load']:g}")
    parts += [f"--steps {config['steps']}", f"--seed {config['seed']}"]
    parts.append(f"--teacher {config['teacher'] or 'none'}")
    parts.append(f"--bc-slots {config['bc_slots']}")
    if config.get("sharing", "shared") != "shared":
        parts.append(f"--sharing {config['sharing']}")
    for key, value in sorted((config.get("overrides") or {}).items()):
        parts.append(f"--set {key}={value}")
    skip = {"scenario", "load", "steps", "seed", "teacher", "bc_slots", "sharing", "overrides"}
    for f in fields(MappoConfig):
        if f.name not in skip and config.get(f.name) != default[f.name]:
            value = config[f.name]
            parts.append(f"--cfg {f.name}={str(value).lower() if isinstance(value, bool) else value}")
    parts.append(f"--out {out_dir}")
    return " ".join(parts)


def machine() -> str:
    """This host in a few words: CPU model, cores, OS."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def _row(name: str, kpis: dict[str, Any], genie: bool) -> str:
    delay = kpis.get("avg_packet_delay_ms", float("nan"))
    return (f"| {name}{' (genie)' if genie else ''} | {delay:.2f} | {kpis['throughput_mbps']:.1f} | "
            f"{kpis['qos_violation_rate']:.4f} | {kpis['decision_time_us']['p50']:.0f} | "
            f"{kpis['decision_time_us']['p99']:.0f} |")


def _write_maddqn_card(model: Path, metadata: dict[str, Any], config: dict[str, Any], run_dir: str,
                       slots: int | None) -> Path:
    """The card of a ``maddqn`` (cstn antenna power) model: throughput and interference-cap violations."""
    scenario, load = metadata["scenario"], metadata["load"]
    overrides = config.get("overrides") or {}
    policies = [*BASELINES["cstn"], f"onnx:{model}"]
    result: Evaluation = evaluate(scenario, policies, load=load, slots=slots, seed=0, overrides=overrides or None)
    training = metadata.get("training", {})
    action = metadata["action"]
    set_args = "".join(f" --set {key}={value}" for key, value in sorted(overrides.items()))
    train_powers = [float(p) for p in config.get("train_powers_dbw") or []]
    powers = f" over base-station powers {', '.join(f'{p:g}' for p in train_powers)} dBW" if train_powers else ""
    lines = [
        f"# {model.stem}: multi-agent double DQN antenna power for `{scenario}` (MADQN-IL)",
        "",
        f"- **version** `{metadata['version']}`, xApp kind `{metadata['xapp_kind']}`, "
        f"{metadata['agents']} agents (one shared Q-network, agent id in the observation), "
        f"{action['heads'][0]} joint actions ({action['levels_per_antenna']} levels per antenna), "
        f"opset {metadata['opset']}",
        f"- **trained** on `{scenario}`{set_args.replace(' --set ', ' with ', 1) if set_args else ''}"
        f"{powers} for {metadata['steps']:,} world slots (the best periodic greedy evaluation of a "
        f"{int(config.get('steps', metadata['steps'])):,}-slot run) in {training.get('wall_s', float('nan')) / 60:.1f} "
        f"min on {machine()}; that evaluation: {training.get('best_eval_throughput_mbps') or float('nan'):.1f} "
        f"Mbit/s with interference violation rate {training.get('best_eval_violation_rate') or 0.0:.4f}",
        *_parity_and_reproduce(metadata, maddqn_training_command(config, run_dir), run_dir, model),
        "",
        f"## Evaluation (`ntnric eval {scenario}{set_args} --slots {result.slots} --seed 0`)",
        "",
        "Interference violations: fraction of slots in which the base stations put more than I_th on a "
        "satellite user (the paper's penalty condition).",
        "",
        "| policy | throughput Mbit/s | interference violations | QoS violations (drops + cap) | decide p50 µs "
        "| decide p99 µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.results:
        name = "**this model**" if r.name.startswith("onnx:") else r.name
        kpis = r.kpis
        lines.append(f"| {name}{' (genie)' if r.genie else ''} | {kpis['throughput_mbps']:.1f} | "
                     f"{kpis.get('interference_violation_rate', 0.0):.4f} | {kpis['qos_violation_rate']:.4f} | "
                     f"{kpis['decision_time_us']['p50']:.0f} | {kpis['decision_time_us']['p99']:.0f} |")
    lines.append("")
    path = model.with_suffix(".md")
    path.write_text("\n".join(lines))
    return path


def _parity_and_reproduce(metadata: dict[str, Any], train_command: str, run_dir: str, model: Path) -> list[str]:
    """The card's parity line and its "Reproduce" section (training, then export)."""
    parity = metadata["parity"]
    return [
        f"- **parity** torch ↔ onnxruntime: max |Δ| {parity['max_abs_diff']:.2g} over {parity['rows']} rows, "
        "greedy actions agree",
        "",
        "## Reproduce",
        "",
        "```sh",
        train_command,
        f"ntnric export {run_dir}/best.pt --out {model.name} --card",
        "```",
    ]


def write_card(model: Path, metadata: dict[str, Any], config: dict[str, Any], run_dir: str,
               slots: int | None = None) -> Path:
    """Evaluate ``model`` against its world's baselines and write ``model.with_suffix('.md')``."""
    if metadata.get("trainer") == "maddqn":
        return _write_maddqn_card(model, metadata, config, run_dir, slots)
    scenario, load = metadata["scenario"], metadata["load"]
    policies = [*BASELINES.get(metadata["world_kind"], ["llq"]), f"onnx:{model}"]
    result: Evaluation = evaluate(scenario, policies, load=load, slots=slots, seed=0,
                                  overrides=config.get("overrides") or None)
    training = metadata.get("training", {})
    lines = [
        f"# {model.stem}: recurrent MAPPO scheduler for `{scenario}`",
        "",
        f"- **version** `{metadata['version']}`, xApp kind `{metadata['xapp_kind']}`, "
        f"{metadata['agents']} agents ({metadata.get('sharing', 'shared')} policy), "
        f"GRU {metadata['recurrent']['hidden']}, opset {metadata['opset']}",
        f"- **trained** on `{scenario}` at load {load:g} for {metadata['steps']:,} world slots in "
        f"{training.get('wall_s', float('nan')) / 60:.1f} min on {machine()}; teacher "
        f"`{training.get('teacher')}` for the first {training.get('bc_slots', 0):,} slots, PPO after",
        *([f"- **resumed** (`--resume`) at {', '.join(f'{n:,}' for n in training['resumed_at_slots'])} slots; "
           "the command below runs the same configuration in one go"] if training.get("resumed_at_slots") else []),
        *_parity_and_reproduce(metadata, training_command(config, run_dir), run_dir, model),
        "",
        f"## Evaluation (`ntnric eval {scenario} --load {load:g} --slots {result.slots} --seed 0`)",
        "",
        "| policy | avg delay ms | throughput Mbit/s | QoS violations | decide p50 µs | decide p99 µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.results:
        name = "**this model**" if r.name.startswith("onnx:") else r.name
        lines.append(_row(name, r.kpis, r.genie))
    lines.append("")
    path = model.with_suffix(".md")
    path.write_text("\n".join(lines))
    return path
