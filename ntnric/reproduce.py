"""`ntnric reproduce PAPER`: the papers' evaluation grids over every policy available for them.

Each paper is a list of cases (scenario, load, overrides); every case runs each of its policies
with `ntnric.evaluate.run_policy` on the same world seed. The results go to ``DIR/PAPER.json``,
a markdown table ``DIR/PAPER.md`` and figures in the papers' style under ``DIR/figures/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from e2_sim.scenarios import load_scenario
from ntnric.evaluate import PolicyResult, run_policy
from xapps.policies.allocation import reduced_overrides

PAPERS = ("multicell", "conflict", "cstn", "sag", "srb")
ZOO_DIR = Path(__file__).resolve().parent.parent / "models" / "zoo"  # shipped models: ZOO_DIR/<scenario>.onnx
EXHAUSTIVE_SLOTS_MAX = 300  # exhaustive search costs 10-100 ms per slot: its cases run at most this many slots


@dataclass
class Case:
    """One point of a paper's grid."""

    group: str  # what the figure groups by (layout, instance)
    scenario: str
    x: float  # the grid's x value (load or power)
    load: float | None
    overrides: dict[str, Any]
    policies: list[str]
    slots: int
    results: list[PolicyResult] = field(default_factory=list)


@dataclass(frozen=True)
class Paper:
    """A paper's grid and how its results read."""

    title: str
    x_label: str
    metric: str  # the KPI of the main table and figure
    metric_label: str
    cases: Callable[[int], list[Case]]


def zoo_policies(scenario: str) -> list[str]:
    """``onnx:PATH`` of the shipped model ``models/zoo/<scenario>.onnx`` (path relative to the working
    directory when inside it), or nothing when there is none."""
    model = ZOO_DIR / f"{scenario}.onnx"
    if not model.is_file():
        return []
    try:
        shown = model.relative_to(Path.cwd())
    except ValueError:
        shown = model
    return [f"onnx:{shown}"]


def _loads(group: str, policies: list[str]) -> Callable[[int], list[Case]]:
    """Every load of preset ``group`` with ``policies`` plus the group's shipped model."""
    def cases(slots: int) -> list[Case]:
        scenario = load_scenario(group)
        every = [*policies, *zoo_policies(group)]
        return [Case(group, group, load, load, {}, every, slots) for load in scenario.loads]
    return cases


def _multicell(slots: int) -> list[Case]:
    policies = ["llq", "full-power", "fitlinq", "fp", "wmmse"]
    return _loads("hex19", policies)(slots) + _loads("random19", policies)(slots)


def _cstn(slots: int) -> list[Case]:
    """Fig. 7: BS power 16–28 dBW, the baselines and the shipped L = 4 model; the L = 10 model (if
    shipped) on the same sweep with 10 power levels."""
    policies = ["ara", "average-power", "random-power", *zoo_policies("cstn")]
    cases = [Case("cstn", "cstn", p, None, {"bs_max_power_dbw": p}, policies, slots) for p in range(16, 29, 2)]
    l10 = zoo_policies("cstn-l10")
    if l10:
        cases += [Case("cstn L=10", "cstn", p, None, {"bs_max_power_dbw": p, "n_power_levels": 10},
                       ["ara", *l10], slots) for p in range(16, 29, 2)]
    return cases


def _sag(slots: int) -> list[Case]:
    """The hierarchy on the shipped tier models, flat MAPPO, the heuristic tiers and the allocation
    baselines; exhaustive search on the reduced instance (where the hierarchy runs the reduced models)."""
    full = ["hierarchy", "flat-mappo", "hierarchy-heuristic", "equal-split", "random-allocation", "round-robin",
            "full-power"]
    reduced = ["exhaustive", "hierarchy", "hierarchy-heuristic", "equal-split", "random-allocation"]
    return [Case("full preset", "sag", 0, None, {}, full, slots),
            Case("reduced instance", "sag", 0, None, reduced_overrides("sag"), reduced,
                 min(slots, EXHAUSTIVE_SLOTS_MAX))]


#: Shipped srb models per preset: the SRB agents, then the flat MAPPO and IPPO baselines.
SRB_MODELS = {"tn-ntn-srb": "srb-80", "tn-ntn-srb-160": "srb-160", "tn-ntn-srb-320": "srb-320"}


def srb_zoo_policies(scenario: str) -> list[str]:
    """The shipped SRB model of an srb preset and its flat baselines (those that exist)."""
    name = SRB_MODELS.get(scenario)
    return [] if name is None else [p for m in (name, f"{name}-mappo", f"{name}-ippo") for p in zoo_policies(m)]


def _srb(slots: int) -> list[Case]:
    policies = ["equal-split", "random-allocation", "round-robin"]
    cases = [Case(name, name, float(f), None, {}, [*srb_zoo_policies(name), *policies], slots)
             for name, f in (("tn-ntn-srb", 80), ("tn-ntn-srb-160", 160), ("tn-ntn-srb-320", 320))]
    cases.append(Case("reduced instance", "tn-ntn-srb", 4.0, None, reduced_overrides("srb"),
                      ["exhaustive", *policies], min(slots, EXHAUSTIVE_SLOTS_MAX)))
    return cases


PAPER_GRIDS: dict[str, Paper] = {
    "multicell": Paper("Multi-cell spectrum and power allocation (hex19, random19)", "load [packets/s per device]",
                       "avg_packet_delay_ms", "average packet delay [ms]", _multicell),
    "conflict": Paper("Conflict graph (conflict8)", "load [packets/slot per device]", "avg_packet_delay_ms",
                      "average packet delay [slots = ms]", _loads("conflict8", ["gms", "llq", "qcsma"])),
    "cstn": Paper("Cognitive satellite-terrestrial power control (cstn)", "BS power [dBW]",
                  "interference_compliant_throughput_mbps",
                  "system throughput within the satellite users' interference cap [Mbit/s]", _cstn),
    "sag": Paper("Space-air-ground hierarchy (sag)", "case", "spectral_efficiency_bps_hz",
                 "spectral efficiency [bit/s/Hz]", _sag),
    "srb": Paper("TN-NTN spectrum sharing with SRB agents (tn-ntn-srb)", "subchannels F", "throughput_mbps",
                 "sum rate [Mbit/s]", _srb),
}


def run_paper(paper: str, slots: int | None, seed: int,
              progress: Callable[[str], None] | None = None) -> tuple[Paper, list[Case]]:
    """Run every case and policy of ``paper``; ``slots`` default: each scenario's test length."""
    spec = PAPER_GRIDS[paper]
    cases = spec.cases(slots or 0)
    for case in cases:
        scenario = load_scenario(case.scenario, case.overrides)
        n = case.slots or scenario.test_slots
        if "exhaustive" in case.policies:
            n = min(n, EXHAUSTIVE_SLOTS_MAX)
        case.slots = n
        load = scenario.default_load if case.load is None else case.load
        for name in case.policies:
            case.results.append(run_policy(scenario, name, load, n, seed))
            if progress is not None:
                progress(f"{case.group} x={case.x:g} {name}")
    return spec, cases


def total_runs(paper: str) -> int:
    return sum(len(c.policies) for c in PAPER_GRIDS[paper].cases(1))


def to_json(paper: str, spec: Paper, cases: list[Case], seed: int) -> dict[str, Any]:
    return {
        "kind": "reproduce",
        "paper": paper,
        "title": spec.title,
        "seed": seed,
        "metric": spec.metric,
        "cases": [
            {"group": c.group, "scenario": c.scenario, "x": c.x, "load": c.load, "overrides": c.overrides,
             "slots": c.slots, "policies": {r.name: {"genie": r.genie, **r.kpis} for r in c.results}}
            for c in cases
        ],
    }


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def to_markdown(spec: Paper, cases: list[Case]) -> str:
    """A table per group: policies × x for the main metric, then every KPI per case."""
    lines = [f"# {spec.title}", ""]
    groups = list(dict.fromkeys(c.group for c in cases))
    for group in groups:
        rows = [c for c in cases if c.group == group]
        names = list(dict.fromkeys(r.name for c in rows for r in c.results))
        lines += [f"## {group}: {spec.metric_label}", "",
                  "| policy | " + " | ".join(f"{spec.x_label} = {c.x:g}" for c in rows) + " |",
                  "| --- | " + " | ".join("---:" for _ in rows) + " |"]
        for name in names:
            genie = any(r.genie for c in rows for r in c.results if r.name == name)
            cells = []
            for c in rows:
                hit = next((r for r in c.results if r.name == name), None)
                cells.append(_cell(hit.kpis.get(spec.metric)) if hit else "-")
            lines.append(f"| {name}{' (genie)' if genie else ''} | " + " | ".join(cells) + " |")
        lines.append("")
    header = ("| case | x | slots | policy | delay ms | thr Mbit/s | SE bit/s/Hz | QoS viol | Jain | slots over cap | "
              "decide p50 µs | decide p99 µs |")
    lines += ["## every KPI", "", header, "| --- | ---: | ---: | --- |" + " ---: |" * 8]
    for c in cases:
        for r in c.results:
            k = r.kpis
            lines.append(f"| {c.group} | {c.x:g} | {c.slots} | {r.name}{' (genie)' if r.genie else ''} | "
                         f"{_cell(k.get('avg_packet_delay_ms'))} | {_cell(k['throughput_mbps'])} | "
                         f"{_cell(k['spectral_efficiency_bps_hz'])} | {_cell(k['qos_violation_rate'])} | "
                         f"{_cell(k['jain_fairness'])} | {_cell(k.get('interference_violation_rate'))} | "
                         f"{_cell(k['decision_time_us']['p50'])} | "
                         f"{_cell(k['decision_time_us']['p99'])} |")
    return "\n".join(lines) + "\n"


def plot_paper(paper: str, spec: Paper, cases: list[Case], out_dir: Path) -> list[Path]:
    """Figures in the papers' style: grouped bars per x (and delay CDFs), or lines over x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for group in dict.fromkeys(c.group for c in cases):
        rows = [c for c in cases if c.group == group]
        names = list(dict.fromkeys(r.name for c in rows for r in c.results))
        fig, ax = plt.subplots(figsize=(7, 4))
        if paper == "cstn":
            for name in names:
                ys = [next((r.kpis[spec.metric] for r in c.results if r.name == name), np.nan) for c in rows]
                ax.plot([c.x for c in rows], ys, marker="o", label=name)
            ax.set_xlabel(spec.x_label)
        else:
            width = 0.8 / max(len(names), 1)
            for i, name in enumerate(names):
                ys = [next((r.kpis.get(spec.metric, np.nan) for r in c.results if r.name == name), np.nan)
                      for c in rows]
                ax.bar(np.arange(len(rows)) + (i - (len(names) - 1) / 2) * width, ys, width, label=name)
            ax.set_xticks(np.arange(len(rows)), [f"{c.x:g}" for c in rows])
            ax.set_xlabel(spec.x_label)
        ax.set_ylabel(spec.metric_label)
        ax.set_title(f"{spec.title}: {group}", fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{paper}_{group.replace(' ', '_')}_{spec.metric}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
        if any(r.packet_delays_s.size for c in rows for r in c.results):
            fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 3.5), squeeze=False)
            for ax, c in zip(axes[0], rows, strict=True):
                for r in c.results:
                    if r.packet_delays_s.size:
                        d = np.sort(r.packet_delays_s) * 1e3
                        ax.plot(d, np.arange(1, d.size + 1) / d.size, label=r.name)
                ax.set_xscale("log")
                ax.set_title(f"{group}, load {c.x:g}", fontsize=9)
                ax.set_xlabel("packet delay [ms]")
                ax.grid(True, which="both", alpha=0.3)
            axes[0][0].set_ylabel("CDF")
            axes[0][-1].legend(fontsize=8)
            fig.tight_layout()
            path = out_dir / f"{paper}_{group}_delay_cdf.png"
            fig.savefig(path, dpi=120)
            plt.close(fig)
            written.append(path)
    # decision time per method (all papers): the wall time each policy needs per slot
    names = list(dict.fromkeys(r.name for c in cases for r in c.results))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    p50 = [float(np.median([r.kpis["decision_time_us"]["p50"] for c in cases for r in c.results if r.name == n]))
           for n in names]
    ax.bar(names, p50, color="tab:gray")
    ax.set_yscale("log")
    ax.set_ylabel("decision time p50 [µs]")
    ax.set_title(f"{spec.title}: decision wall time per slot", fontsize=9)
    fig.tight_layout()
    path = out_dir / f"{paper}_decision_time.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)
    return written


def write_outputs(paper: str, spec: Paper, cases: list[Case], seed: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{paper}.json"
    json_path.write_text(json.dumps(to_json(paper, spec, cases, seed), indent=2) + "\n")
    md_path = out / f"{paper}.md"
    md_path.write_text(to_markdown(spec, cases))
    written = [json_path, md_path, *plot_paper(paper, spec, cases, out / "figures")]
    if paper == "sag":
        written += plot_learning_curves(out / "figures")
    if paper == "srb":
        written += flexibility_test(out, seed)
    return written


def flexibility_test(out: Path, seed: int) -> list[Path]:
    """The srb flexibility test (`ntnric.srb_flex`, the paper's Fig. 4): users arriving at 1 / 3 / 5 per
    minute per BS for 30 test minutes, compressed, with the shipped F = 320 models and two baselines."""
    from ntnric.srb_flex import COMPRESSION, flex_json, plot_flex, run_flex

    scenario = "tn-ntn-srb-320"
    series = run_flex([*srb_zoo_policies(scenario), "equal-split", "random-allocation"], scenario, seed=seed)
    title = f"{scenario}: flexibility test, time compressed x{COMPRESSION:g}"
    return [flex_json(series, out / "srb_flexibility.json", scenario=scenario, compression=COMPRESSION, seed=seed),
            plot_flex(series, out / "figures" / "srb_flexibility.png", title=title)]


#: Training logs of the shipped sag models (`models.hppo` ``train.csv``), name -> file.
SAG_TRAINING_LOGS = {"hierarchy": ZOO_DIR / "sag-hierarchy-train.csv", "flat MAPPO": ZOO_DIR / "sag-flat-train.csv"}


def plot_learning_curves(out_dir: Path) -> list[Path]:
    """Learning curves of the shipped sag models: mean reward per tier (and of the flat agents) and
    the periodic greedy evaluation's spectral efficiency, over training slots."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {name: list(csv.DictReader(path.open())) for name, path in SAG_TRAINING_LOGS.items() if path.is_file()}
    if not logs:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, (ax_r, ax_se) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows in logs.items():
        slots = np.array([float(r["slots"]) for r in rows])
        if "reward_satellite_hap_local" in rows[0]:
            per_tier = np.array([[float(v) for v in r["reward_satellite_hap_local"].split("/")] for r in rows])
            for i, tier in enumerate(("satellite", "HAP", "local")):
                ax_r.plot(slots, per_tier[:, i], label=f"{name}: {tier} tier")
        else:
            ax_r.plot(slots, [float(r["reward_flat"]) for r in rows], label=f"{name}: every node", linestyle="--")
        evaluated = [(float(r["slots"]), float(r["eval_se_bps_hz"])) for r in rows if r["eval_se_bps_hz"]]
        if evaluated:
            ax_se.plot(*zip(*evaluated, strict=True), marker="o", label=name)
    ax_r.set_xlabel("training slots")
    ax_r.set_ylabel("mean reward per decision")
    ax_r.legend(fontsize=7)
    ax_se.set_xlabel("training slots")
    ax_se.set_ylabel("greedy evaluation SE [bit/s/Hz]")
    ax_se.legend(fontsize=8)
    for ax in (ax_r, ax_se):
        ax.grid(True, alpha=0.3)
    fig.suptitle("sag: learning curves of the shipped models (models/zoo/sag-*-train.csv)", fontsize=9)
    fig.tight_layout()
    path = out_dir / "sag_learning_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]
