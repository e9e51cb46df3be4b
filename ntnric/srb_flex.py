"""Flexibility test of the SRB policies (Le et al., §IV "Flexibility", Fig. 4).

Users arrive at every base station as a Poisson process (1, 3 or 5 per minute), stay for an
exponential holding time (mean 3 min) and walk at random (1 m/s) for 30 minutes; the policies
allocate every slot and the test records, over time, the number of active users, the QoS misses
(users below the minimum rate) and the system throughput. The world is the srb preset with
``users.mode = "dynamic"`` (`e2_sim.geometry.users`: M/M/∞ arrivals and departures, random walk).

Time compression. Thirty minutes are 180 000 frames of 10 ms; the test runs ``compression``
times fewer. Every rate of the user process is multiplied by ``compression`` (arrivals per
minute × c, mean holding time / c, walking speed × c, random-walk leg time / c), so the
sequence of populations (how many users, how long they stay relative to each other, how far they
walk between arrivals) is that of 30 minutes, while each population is seen for ``c`` times fewer
frames; the radio (fading per frame, the power rule, the rates per frame) is unchanged, and the
KPIs are per frame. With the default c = 60 a minute of the test is 100 frames (1 s of
simulated time) and the run is 3000 frames. The number of users present at once (arrival rate ×
holding time) does not depend on c.

Every policy sees the same user process (the world's user generator does not depend on the
decisions) and the same fading. The series are averaged per bin of ``bin_min`` test minutes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.srb import SrbScenario
from e2_sim.world import make_world
from xapps.policies import make_policy

#: Arrival rates of the test, users per minute per base station (the paper's Fig. 4).
ARRIVALS_PER_MIN = (1.0, 3.0, 5.0)
#: Test duration [min].
DURATION_MIN = 30.0
#: Mean holding time of a user [s] (3 min).
MEAN_HOLDING_S = 180.0
#: Random-walk speed [m/s].
SPEED_MPS = 1.0
#: Default time compression factor (module docstring).
COMPRESSION = 60.0


@dataclass(frozen=True)
class FlexSeries:
    """One policy at one arrival rate, binned over test time.

    Attributes
    ----------
    policy : str
    arrivals_per_min : float
        Arrivals per minute per BS in test (uncompressed) time.
    time_min : list of float
        Bin centres in test minutes.
    active_users : list of float
        Mean number of active users over all BSs per frame.
    qos_misses : list of float
        Mean number of active users below the minimum rate per frame.
    throughput_mbps : list of float
        Mean system throughput [Mbit/s].
    qos_violation_rate : float
        Missed user-frames / active user-frames over the whole run.
    mean_throughput_mbps : float
    """

    policy: str
    arrivals_per_min: float
    time_min: list[float]
    active_users: list[float]
    qos_misses: list[float]
    throughput_mbps: list[float]
    qos_violation_rate: float
    mean_throughput_mbps: float


def flex_overrides(scenario: str, compression: float = COMPRESSION, initial: str = "empty") -> dict[str, Any]:
    """Scenario overrides of the compressed flexibility test (module docstring)."""
    if compression <= 0:
        raise ValueError(f"compression must be > 0, got {compression}")
    base = load_scenario(scenario)
    if not isinstance(base, SrbScenario):
        raise ValueError(f"the flexibility test runs on srb worlds, {scenario!r} is {base.world!r}")
    users = base.users
    return {
        "users.mode": "dynamic",
        "users.initial": initial,
        "users.mean_holding_s": MEAN_HOLDING_S / compression,
        "users.speed_mps": SPEED_MPS * compression,
        "users.turn_interval_s": users.turn_interval_s / compression,
    }


def run_flex(policies: list[str], scenario: str = "tn-ntn-srb-320",
             arrivals_per_min: tuple[float, ...] = ARRIVALS_PER_MIN, duration_min: float = DURATION_MIN,
             compression: float = COMPRESSION, bin_min: float = 1.0, seed: int = 0, initial: str = "empty"
             ) -> list[FlexSeries]:
    """Run the flexibility test for every policy and arrival rate (module docstring).

    Parameters
    ----------
    policies : list of str
        Policy names (``onnx:PATH``, ``equal-split``, ...).
    scenario : str
        An srb preset.
    arrivals_per_min : tuple of float
        Arrival rates per BS in test time [users/min].
    duration_min : float
        Test duration [min].
    compression : float
        Time compression factor ``c``.
    bin_min : float
        Width of the time bins of the series [test min].
    seed : int
        World seed (the same for every policy and rate).
    initial : {"empty", "stationary"}
        Start with no users or in the stationary state.

    Returns
    -------
    list of FlexSeries
        Rate-major: every policy at the first rate, then at the second, ...
    """
    sc = load_scenario(scenario, flex_overrides(scenario, compression, initial))
    slots_per_min = 60.0 / (sc.slot_s * compression)
    n_slots = round(duration_min * slots_per_min)
    bin_slots = max(1, round(bin_min * slots_per_min))
    n_bins = n_slots // bin_slots
    out: list[FlexSeries] = []
    for rate in arrivals_per_min:
        world = make_world(sc, load=rate * compression)
        for name in policies:
            policy = make_policy(name, world.spec, seed)
            policy.reset(1)
            reports = world.reset([seed])
            active = np.zeros(n_slots)
            misses = np.zeros(n_slots)
            bits = np.zeros(n_slots)
            for t in range(n_slots):
                reports, kpis = world.step(policy.decide(reports))
                active[t] = kpis.active.sum()
                misses[t] = kpis.qos_violated.sum()
                bits[t] = kpis.delivered_bits.sum()
            used = n_bins * bin_slots

            def binned(x: np.ndarray, used: int = used) -> list[float]:
                return [float(v) for v in x[:used].reshape(n_bins, bin_slots).mean(axis=1)]

            out.append(FlexSeries(
                policy=name,
                arrivals_per_min=rate,
                time_min=[float((i + 0.5) * bin_slots / slots_per_min) for i in range(n_bins)],
                active_users=binned(active),
                qos_misses=binned(misses),
                throughput_mbps=binned(bits / sc.slot_s / 1e6),
                qos_violation_rate=float(misses.sum() / max(active.sum(), 1.0)),
                mean_throughput_mbps=float(bits.sum() / (n_slots * sc.slot_s) / 1e6),
            ))
    return out


def plot_flex(series: list[FlexSeries], path: str | Path, title: str = "") -> Path:
    """Fig. 4-style PNG: columns = arrival rates; rows = active users, QoS misses, throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = sorted({s.arrivals_per_min for s in series})
    policies = list(dict.fromkeys(s.policy for s in series))
    fig, axes = plt.subplots(3, len(rates), figsize=(4.2 * len(rates), 8.5), squeeze=False, sharex=True)
    rows = (("active_users", "active users"), ("qos_misses", "QoS misses per frame"),
            ("throughput_mbps", "throughput [Mbit/s]"))
    for col, rate in enumerate(rates):
        for s in (s for s in series if s.arrivals_per_min == rate):
            label = Path(s.policy[5:]).stem if s.policy.startswith("onnx:") else s.policy
            for row, (field, _) in enumerate(rows):
                if row == 0 and s.policy != policies[0]:
                    continue  # the user process is the same for every policy
                axes[row][col].plot(s.time_min, getattr(s, field), label=label if row else "users")
        axes[0][col].set_title(f"{rate:g} arrivals / min / BS")
        axes[-1][col].set_xlabel("time [min]")
    for row, (_, ylabel) in enumerate(rows):
        axes[row][0].set_ylabel(ylabel)
    axes[1][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def flex_json(series: list[FlexSeries], path: str | Path, **context: Any) -> Path:
    """Write the series (and ``context``: scenario, compression, ...) as JSON."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**context, "series": [asdict(s) for s in series]}, indent=1) + "\n")
    return out


__all__ = ["ARRIVALS_PER_MIN", "COMPRESSION", "DURATION_MIN", "FlexSeries", "flex_json", "flex_overrides",
           "plot_flex", "run_flex"]
