"""``ntnric train mappo|maddqn`` and ``ntnric export``: offline training (needs the ``train`` extra: torch).

Torch is imported only inside the commands, so the rest of the CLI starts without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

train_app = typer.Typer(help="Offline training in torch (install the 'train' extra).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


class TrainCliError(ValueError):
    """A training command that cannot start; one line."""


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise TrainCliError("training needs torch: pip install -e '.[train]' (torch==2.13.0, CPU build)") from None


def _config_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--cfg field=value`` pairs, values parsed as JSON when they parse (numbers, null, true)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise TrainCliError(f"--cfg expects FIELD=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _config_fields(config_cls: type, items: list[str] | None) -> dict[str, Any]:
    """``--cfg`` pairs checked against the fields of ``config_cls`` (a dataclass)."""
    from dataclasses import fields

    extra = _config_overrides(items)
    known = {f.name for f in fields(config_cls)}
    for key in extra:
        if key not in known:
            raise TrainCliError(f"--cfg: {config_cls.__name__} has no field {key!r}")
    return extra


def _with_progress(title: str, total: int, status: Callable[[dict[str, Any]], str],
                   run: Callable[[Callable[[dict[str, Any]], None]], dict[str, Any]]) -> dict[str, Any]:
    """``run(hook)`` under a progress bar over ``total`` slots whose status line is ``status(progress)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}"), console=err_console) as progress:
        task = progress.add_task(title, total=total, status="starting")

        def hook(p: dict[str, Any]) -> None:
            progress.update(task, completed=min(p["slots"], total), status=status(p))

        return run(hook)


@train_app.command("mappo")
def train_mappo(
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config.json, train.csv, tb/.")],
    scenario: Annotated[str, typer.Option(help="Preset name or TOML file.")] = "hex19",
    load: Annotated[float | None, typer.Option(help="Traffic load (default: the scenario's).")] = None,
    steps: Annotated[int, typer.Option(help="Training budget in world slots.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 1,
    teacher: Annotated[str | None, typer.Option(help="Policy to imitate during the warm start ('none': none).")]
    = None,
    bc_slots: Annotated[int | None, typer.Option(help="World slots of behaviour cloning before PPO.")] = None,
    sharing: Annotated[str, typer.Option(help="'shared' (one network) or 'separate' (one per agent).")] = "shared",
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario field override (repeatable).")] = None,
    cfg: Annotated[list[str] | None, typer.Option(help="Any MappoConfig field, e.g. --cfg lr=3e-4 (repeatable).")]
    = None,
) -> None:
    """Train a recurrent MAPPO scheduler; writes OUT/best.pt and OUT/last.pt."""
    _require_torch()
    from e2_sim.scenarios import load_scenario, parse_override
    from models.mappo import MappoConfig, train
    from xapps.policies.learned import OnnxPolicy

    overrides = dict(parse_override(item) for item in set_ or [])
    scenario_obj = load_scenario(scenario, overrides)
    if scenario_obj.world not in OnnxPolicy.world_kinds:
        raise TrainCliError(f"mappo trains schedulers for {', '.join(OnnxPolicy.world_kinds)} worlds; "
                            f"{scenario!r} is a {scenario_obj.world!r} world")
    defaults = {"multicell": "fp", "conflict": "gms-ordered"}
    values: dict[str, Any] = {"scenario": scenario, "load": load, "steps": steps, "seed": seed, "sharing": sharing,
                              "overrides": overrides,
                              "teacher": defaults[scenario_obj.world] if teacher is None else
                              (None if teacher.lower() == "none" else teacher)}
    if bc_slots is not None:
        values["bc_slots"] = bc_slots
    values.update(_config_fields(MappoConfig, cfg))
    if values["teacher"] is not None:
        from e2_sim.world import make_world
        from xapps.policies import make_policy

        make_policy(values["teacher"], make_world(scenario_obj, load=load).spec)  # PolicyError if unusable
    config = MappoConfig(**values)
    config.check()
    def status(p: dict[str, Any]) -> str:
        line = f"{p['phase']} · {p['slots_per_s']:,.0f} slots/s · reward {p['reward']:.2f}"
        if "eval_delay_ms" in p:
            line += f" · eval delay {p['eval_delay_ms']:.1f} ms (best {p['best_delay_ms']:.1f})"
        return line

    result = _with_progress(f"mappo · {config.scenario}", config.steps, status,
                            lambda hook: train(config, out, resume=resume, hook=hook))
    console.print(f"trained {result['slots']:,} slots in {result['wall_s']:.0f} s; best eval delay "
                  f"{result['best_delay_ms']:.2f} ms at update {result.get('best_update', '-')}; wrote {out}/best.pt")


@train_app.command("maddqn")
def train_maddqn(
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config.json, train.csv, tb/.")],
    scenario: Annotated[str, typer.Option(help="Preset name or TOML file (a cstn world).")] = "cstn",
    load: Annotated[float | None, typer.Option(help="Demand scale (default: the scenario's).")] = None,
    steps: Annotated[int, typer.Option(help="Training budget in world slots.")] = 2_000_000,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 1,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario field override (repeatable).")] = None,
    cfg: Annotated[list[str] | None, typer.Option(help="Any MaddqnConfig field, e.g. --cfg lr=1e-4 (repeatable).")]
    = None,
) -> None:
    """Train multi-agent double DQN antenna-power control (MADQN-IL); writes OUT/best.pt and OUT/last.pt."""
    _require_torch()
    from e2_sim.scenarios import load_scenario, parse_override
    from models.maddqn import MaddqnConfig, train

    overrides = dict(parse_override(item) for item in set_ or [])
    scenario_obj = load_scenario(scenario, overrides)
    if scenario_obj.world != "cstn":
        raise TrainCliError(f"maddqn trains cstn power control; {scenario!r} is a {scenario_obj.world!r} world")
    values: dict[str, Any] = {"scenario": scenario, "load": load, "steps": steps, "seed": seed,
                              "overrides": overrides}
    values.update(_config_fields(MaddqnConfig, cfg))
    config = MaddqnConfig(**values)
    config.check()
    def status(p: dict[str, Any]) -> str:
        return (f"ε {p['epsilon']:.2f} · {p['slots_per_s']:,.0f} slots/s · eval {p['eval_throughput_mbps']:.0f} "
                f"Mbit/s, violations {p['eval_violation_rate']:.4f} (best score {p['best_score_mbps']:.0f})")

    result = _with_progress(f"maddqn · {config.scenario}", config.steps, status,
                            lambda hook: train(config, out, hook=hook))
    console.print(f"trained {result['slots']:,} slots in {result['wall_s']:.0f} s; best eval "
                  f"{result.get('best_throughput_mbps', float('nan')):.1f} Mbit/s with violation rate "
                  f"{result.get('best_violation_rate', float('nan')):.4f} at {result.get('best_slots', 0):,} slots; "
                  f"wrote {out}/best.pt")


def _train_sag(flat: bool, out: Path, steps: int, seed: int, resume: bool, set_: list[str] | None,
               cfg: list[str] | None) -> None:
    from e2_sim.scenarios import parse_override
    from models.hppo import HppoConfig, train
    from models.sag_flat import FlatConfig

    config_cls = FlatConfig if flat else HppoConfig
    values: dict[str, Any] = {"steps": steps, "seed": seed,
                              "overrides": dict(parse_override(item) for item in set_ or [])}
    values.update(_config_fields(config_cls, cfg))
    if isinstance(values.get("bc_tiers"), list):
        values["bc_tiers"] = tuple(values["bc_tiers"])
    config = config_cls(**values)
    config.check()

    def status(p: dict[str, Any]) -> str:
        line = f"{p.get('phase', '')} · {p.get('slots_per_s', 0.0):,.0f} slots/s"
        if "eval" in p:
            line += f" · eval SE {p['eval']['se_bps_hz']:.1f} bit/s/Hz (best {p['best_se_bps_hz']:.1f})"
        return line

    name = "sag-flat" if flat else "hppo"
    result = _with_progress(f"{name} · {config.scenario}", config.steps, status,
                            lambda hook: train(config, out, resume=resume, hook=hook))
    console.print(f"trained {result['slots']:,} slots in {result['wall_s']:.0f} s; best eval SE "
                  f"{result.get('best_se_bps_hz', float('nan')):.2f} bit/s/Hz at update "
                  f"{result.get('best_update', '-')}; wrote {out}/best.pt")


@train_app.command("hppo")
def train_hppo(
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config.json, train.csv.")],
    steps: Annotated[int, typer.Option(help="Training budget in world slots.")] = 400_000,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario field override (repeatable).")] = None,
    cfg: Annotated[list[str] | None, typer.Option(help="Any HppoConfig field, e.g. --cfg lr=3e-4 (repeatable).")]
    = None,
) -> None:
    """Train the sag hierarchy: satellite, HAP and local policies every 50 / 10 / 1 slots (hierarchical PPO)."""
    _require_torch()
    _train_sag(False, out, steps, seed, resume, set_, cfg)


@train_app.command("sag-flat")
def train_sag_flat(
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config.json, train.csv.")],
    steps: Annotated[int, typer.Option(help="Training budget in world slots.")] = 400_000,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Scenario field override (repeatable).")] = None,
    cfg: Annotated[list[str] | None, typer.Option(help="Any FlatConfig field (repeatable).")] = None,
) -> None:
    """Train the flat multi-agent PPO baseline on sag: every node decides every slot, no tiers."""
    _require_torch()
    _train_sag(True, out, steps, seed, resume, set_, cfg)


@train_app.command("cmappo")
def train_cmappo(
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, config.json, train.csv.")],
    scenario: Annotated[str, typer.Option(help="Preset name or TOML file (an srb world).")] = "tn-ntn-srb-320",
    method: Annotated[str, typer.Option(
        help="'srb' (one agent per SRB, in sequence, Lagrangian QoS cost), or the baselines 'mappo' / 'ippo' "
             "(one agent per base station over every subchannel).")] = "srb",
    steps: Annotated[int, typer.Option(help="Training budget in world slots.")] = 40_960,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/last.pt.")] = False,
    cfg: Annotated[list[str] | None, typer.Option(help="Any CmappoConfig field, e.g. --cfg lr=5e-4 (repeatable).")]
    = None,
) -> None:
    """Train constrained MAPPO with SRB agents for TN–NTN spectrum sharing (or a flat baseline)."""
    _require_torch()
    from e2_sim.scenarios import load_scenario
    from models.cmappo import CmappoConfig, train

    if load_scenario(scenario).world != "srb":
        raise TrainCliError(f"cmappo trains srb worlds; {scenario!r} is not one")
    values: dict[str, Any] = {"scenario": scenario, "method": method, "steps": steps, "seed": seed}
    values.update(_config_fields(CmappoConfig, cfg))
    config = CmappoConfig(**values)
    config.check()

    def status(p: dict[str, Any]) -> str:
        line = f"{p.get('phase', '')} · {p.get('slots_per_s', 0.0):,.1f} slots/s · λ {p.get('lambda_mean', 0.0):.2f}"
        if "eval_throughput_mbps" in p:
            line += f" · eval {p['eval_throughput_mbps']:.0f} Mbit/s, QoS viol {p['eval_qos_violation_rate']:.3f}"
        return line

    result = _with_progress(f"cmappo {method} · {scenario}", config.steps, status,
                            lambda hook: train(config, out, resume=resume, hook=hook))
    console.print(f"trained {result['slots']:,} slots in {result['wall_s']:.0f} s; best eval "
                  f"{result.get('best_throughput_mbps', float('nan')):.1f} Mbit/s, QoS violations "
                  f"{result.get('best_violation_rate', float('nan')):.3f}; wrote {out}/best.pt")


def checkpoint_trainer(path: Path) -> str:
    """Which trainer wrote the checkpoint at ``path``: ``maddqn``, ``hppo``, ``sag-flat``, ``cmappo`` or
    ``mappo`` (also when unmarked)."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # not a checkpoint at all: let the trainer's loader say so in its words
        return "mappo"
    trainer = data.get("trainer") if isinstance(data, dict) else None
    return trainer if trainer in ("maddqn", "hppo", "sag-flat", "cmappo") else "mappo"


def export_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by 'ntnric train' (e.g. RUN/best.pt).")],
    out: Annotated[Path, typer.Option(help="ONNX file to write.")],
    tolerance: Annotated[float, typer.Option(help="Largest torch/onnxruntime difference allowed.")] = 1e-4,
    card: Annotated[bool, typer.Option(help="Also evaluate against the baselines and write FILE.md.")] = False,
    card_slots: Annotated[int | None, typer.Option(help="Slots of the card's evaluation (default: test length).")]
    = None,
) -> None:
    """Export a checkpoint's actor (mappo) or Q-network (maddqn) to ONNX, with metadata and a
    torch/onnxruntime parity check; the checkpoint's content says which."""
    _require_torch()
    from models.export import ExportError, export

    trainer = checkpoint_trainer(checkpoint)
    if trainer in ("hppo", "sag-flat"):
        _export_sag(checkpoint, out, tolerance)
        return
    if trainer == "cmappo":
        from models.export_srb import export_srb

        written = export_srb(checkpoint, out, tolerance=tolerance)
        console.print(f"wrote {out}: {written['version']}, parity max |Δ| {written['parity']['max_abs_diff']:.2g} "
                      f"over {written['parity']['rows']} rows, greedy actions agree")
        return
    if trainer == "maddqn":
        from models.export_dqn import export_dqn
        from models.maddqn import TrainingError
        from models.maddqn import load_checkpoint as load_dqn

        try:
            loaded = load_dqn(checkpoint)
        except TrainingError as exc:
            raise ExportError(str(exc)) from None
        metadata = export_dqn(loaded, out, tolerance=tolerance)
        config = loaded["config"]
    else:
        from models.mappo import load_checkpoint

        metadata = export(checkpoint, out, tolerance=tolerance)
        config = load_checkpoint(checkpoint)["config"]
    parity = metadata["parity"]
    console.print(f"wrote {out}: {metadata['version']}, {metadata['scenario']} load {metadata['load']:g}, "
                  f"{metadata['steps']:,} training slots, parity max |Δ| {parity['max_abs_diff']:.2g} over "
                  f"{parity['rows']} rows, greedy actions agree")
    if card:
        from ntnric.cards import write_card

        run_dir = f"runs/{out.stem}" if metadata["trainer"] == "maddqn" else f"runs/{metadata['scenario']}"
        path = write_card(out, metadata, config, run_dir, slots=card_slots)
        console.print(f"wrote {path}")


def _export_sag(checkpoint: Path, out: Path, tolerance: float) -> None:
    """A sag checkpoint: one ONNX file per network, ``<stem>-<tier>.onnx`` beside ``out`` (``sag.onnx``
    gives ``sag-satellite.onnx``, ``sag-hap.onnx``, ``sag-local.onnx``; a flat run ``sag-flat.onnx``)."""
    from models.export_sag import export_sag

    written = export_sag(checkpoint, out.parent, prefix=out.stem, tolerance=tolerance)
    for network, metadata in written.items():
        parity = metadata["parity"]
        console.print(f"wrote {out.parent / f'{out.stem}-{network}.onnx'}: {metadata['version']}, parity max |Δ| "
                      f"{parity['max_abs_diff']:.2g} over {parity['rows']} rows, greedy actions agree")
