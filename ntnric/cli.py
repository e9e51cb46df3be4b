"""The `ntnric` command line.

Every user mistake (unknown scenario, bad field, unknown policy, busy port...) ends in one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from e2_sim.scenarios import ScenarioError, load_scenario, parse_override, preset_names
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


def main() -> None:
    """Console-script entry point: run the app, turn user errors into one line and exit 2."""
    try:
        app()
    except USER_ERRORS as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
