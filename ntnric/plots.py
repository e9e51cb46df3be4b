"""PNG figures for evaluation results (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ntnric.evaluate import Evaluation

BAR_KPIS = (
    ("avg_packet_delay_ms", "average packet delay [ms]"),
    ("throughput_mbps", "throughput [Mbit/s]"),
    ("spectral_efficiency_bps_hz", "spectral efficiency [bit/s/Hz]"),
    ("qos_violation_rate", "QoS violation rate"),
    ("jain_fairness", "Jain fairness"),
)


def _label(name: str, genie: bool) -> str:
    return f"{name} (genie)" if genie else name


def plot_evaluation(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """Write the delay CDF (packet worlds) and one bar chart per KPI; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    title = f"{evaluation.scenario.name}, load {evaluation.load:g} {evaluation.scenario.load_unit}"
    if any(r.packet_delays_s.size for r in evaluation.results):
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in evaluation.results:
            if r.packet_delays_s.size:
                delays_ms = np.sort(r.packet_delays_s) * 1e3
                ax.plot(delays_ms, np.arange(1, delays_ms.size + 1) / delays_ms.size, label=_label(r.name, r.genie))
        ax.set_xscale("log")
        ax.set_xlabel("packet delay [ms]")
        ax.set_ylabel("CDF")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = out_dir / f"{evaluation.scenario.name}_delay_cdf.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    names = [_label(r.name, r.genie) for r in evaluation.results]
    for key, label in BAR_KPIS:
        values = [r.kpis.get(key) for r in evaluation.results]
        if any(v is None for v in values):
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(names, [float(v) for v in values if v is not None], color="tab:blue")
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{evaluation.scenario.name}_{key}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def plot_latency_histogram(latency_us: np.ndarray, deadline_us: float, document: dict[str, object], path: Path) -> Path:
    """Histogram of per-decision latency with the p50/p99 marks and the slot deadline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    if latency_us.size:
        upper = max(float(np.percentile(latency_us, 99.9)) * 1.2, deadline_us * 1.05)
        ax.hist(np.clip(latency_us, 0, upper), bins=200, range=(0, upper), color="tab:blue")
        for q, style in ((50, "--"), (99, ":")):
            value = float(np.percentile(latency_us, q))
            ax.axvline(value, color="black", linestyle=style, label=f"p{q} {value:.0f} µs")
    ax.axvline(deadline_us, color="tab:red", label=f"slot deadline {deadline_us:.0f} µs")
    ax.set_yscale("log")
    ax.set_xlabel("decision latency [µs] (indication sent → control received)")
    ax.set_ylabel("decisions")
    ax.set_title(f"{document['scenario']} · {document['policy']} · {document['transport']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
