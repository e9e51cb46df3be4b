"""Training environment of the SRB agents: ``B`` worlds of an ``srb`` preset stepped together.

`SrbEnv` speaks the language of `xapps.policies.learned_srb` (the very code the xApp runs): BS
rows from `SrbFeatures`, greedy or sampled actions ``(B, K, F)`` decoded by `SrbDecoder`. The
world runs in its own user mode (``episode``: a new Poisson population at random positions every
``users.episode_slots`` slots, the paper's training environment), so the environment never ends;
a trainer treats it as a continuing task.

Per slot it returns what the constrained MAPPO needs (Le et al., §III-C, eqs. 10–11):

- `group_rewards`: ``r̄_m = (1/K_act) Σ_n Σ_{f ∈ block m} R_{n,f} / η``, the sum rate on block ``m``
  (an SRB, or the whole band for a flat agent) of every BS, per active user and in units of the
  minimum rate ``η``;
- `user_costs`: ``c_k = max(η − R_k, 0) / η`` for every active user, 0 for empty slots.

The per-subchannel rates ``R_{n,f}`` come from the next report's spectral efficiency (the world
reports last slot's ``log2(1 + SINR)`` where it served) times the subchannel bandwidth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from e2_sim.kpi import KpiAccumulator
from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.world import SlotKpis, make_world
from ric.protocol import Reports
from xapps.policies.learned_srb import SrbDecoder, SrbFeatures, SrbLayout


def group_rewards(sub_rate_bps: np.ndarray, active: np.ndarray, layout: SrbLayout, block_size: int) -> np.ndarray:
    """Shared reward of every block (agent group), ``(B, F / block_size)`` [η per user].

    Parameters
    ----------
    sub_rate_bps : ndarray, (B, K, F)
        Rate delivered on every subchannel of every BS [bit/s].
    active : ndarray, bool, (B, K, U)
        Users present during the slot.
    """
    b, k, f = sub_rate_bps.shape
    per_block = sub_rate_bps.reshape(b, k, f // block_size, block_size).sum(axis=(1, 3))  # (B, G)
    n_active = np.maximum(active.sum(axis=(1, 2)), 1)[:, None]
    return (per_block / (n_active * layout.qos_min_rate_bps)).astype(np.float32)


def user_costs(rate_bps: np.ndarray, active: np.ndarray, qos_min_rate_bps: float) -> np.ndarray:
    """Per-user cost ``max(η − R_k, 0) / η`` of active users, 0 for empty slots, ``(B, K, U)`` (eq. 11)."""
    shortfall = np.maximum(qos_min_rate_bps - rate_bps, 0.0) / qos_min_rate_bps
    return np.where(active, shortfall, 0.0).astype(np.float32)


def reuse_qos_teacher(reports: Reports, layout: SrbLayout, margin: float = 0.3) -> np.ndarray:
    """Actions ``(B, K, F)`` of a coordinated heuristic that warm-starts training (behaviour cloning).

    Reuse partition: BS ``n`` transmits only on the SRBs ``m`` with ``m mod K = n`` (with fewer
    SRBs than BSs, on the ``n``-th of ``K`` equal parts of every SRB), so no subchannel carries
    inter-BS interference. On them it gives every present user, fewest first, the
    subchannels it needs for ``(1 + margin)·η`` at its path-loss SNR with every subchannel of the
    SRB active (``p_max / (M · srb_size)`` each; the reports' ``extra["pathloss_db"]``), and the
    remaining subchannels to its user with the best path loss. Users that no longer fit get nothing.
    """
    b, k, _ = reports.active.shape
    f, s, m = layout.n_subchannels, layout.srb_size, layout.agents_per_node
    noise_dbm = 10.0 * np.log10(layout.noise_w) + 30.0
    srb_power_dbm = 10.0 * np.log10(layout.srb_power_w) + 30.0
    pathloss_db = reports.extra["pathloss_db"]  # (B, K, U, T)
    actions = np.zeros((b, k, f), dtype=np.int64)
    part = s if m >= k else s // k  # subchannels per reuse unit
    owner = (np.arange(f) // part) % k if m >= k else (np.arange(f) % s) // part  # BS of every subchannel
    for n in range(k):
        subchannels = np.flatnonzero(owner == n)
        snr = 10.0 ** ((srb_power_dbm[n] - pathloss_db[:, n, :, n] - noise_dbm) / 10.0) / s  # (B, U)
        rate_bps = layout.subchannel_bandwidth_hz * np.log2(1.0 + snr)
        need = np.ceil((1.0 + margin) * layout.qos_min_rate_bps / np.maximum(rate_bps, 1e-9))
        for w in range(b):
            users = np.flatnonzero(reports.active[w, n])
            if users.size == 0:
                continue
            at = 0
            for user in users[np.argsort(need[w, users], kind="stable")]:
                count = int(need[w, user])
                if at + count > subchannels.size:
                    break
                actions[w, n, subchannels[at : at + count]] = user + 1
                at += count
            actions[w, n, subchannels[at:]] = users[np.argmax(rate_bps[w, users])] + 1
    return actions


class SrbEnv:
    """``batch`` worlds of an ``srb`` scenario for the SRB agents and the flat baselines.

    Parameters
    ----------
    scenario : str or ScenarioBase
        Preset name, TOML path or a loaded ``srb`` scenario.
    load : float, optional
        Load in the scenario's unit (its ``default_load`` when None).
    batch : int
        Worlds stepped together (``B``).
    overrides : dict, optional
        Scenario field overrides (dotted names).
    genie_csi : bool
        Reports carry the slot's own channel instead of last slot's.

    Attributes
    ----------
    layout : SrbLayout
    row_dim : int
        Size of a BS row.
    """

    def __init__(self, scenario: str | ScenarioBase, load: float | None = None, batch: int = 16,
                 overrides: dict[str, Any] | None = None, genie_csi: bool = False) -> None:
        self.scenario = load_scenario(scenario, overrides) if isinstance(scenario, str) else scenario
        if self.scenario.world != "srb":
            raise ValueError(f"scenario {self.scenario.name!r} is a {self.scenario.world!r} world, not srb")
        self.load = float(self.scenario.default_load if load is None else load)
        self.batch = int(batch)
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        self.world = make_world(self.scenario, load=self.load, genie_csi=genie_csi)
        self.spec = self.world.spec
        self.features = SrbFeatures(self.spec)
        self.decoder = SrbDecoder(self.spec)
        self.layout = self.features.layout
        self.row_dim = self.layout.row_dim
        self._reports: Reports | None = None
        self.kpis: KpiAccumulator | None = None

    def reset(self, seed: int) -> np.ndarray:
        """Start ``B`` worlds seeded ``seed·B … seed·B + B − 1``; BS rows ``(B, K, row_dim)``."""
        self._reports = self.world.reset([seed * self.batch + i for i in range(self.batch)])
        self.kpis = KpiAccumulator(self.spec, batch=self.batch)
        return self.features.build(self._reports)

    @property
    def reports(self) -> Reports:
        """The current slot's reports."""
        if self._reports is None:
            raise RuntimeError("call reset(seed) before using the environment")
        return self._reports

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], SlotKpis]:
        """Apply ``actions`` (int, (B, K, F): 0 off, ``i`` user slot ``i − 1``), advance one slot.

        Returns the next BS rows ``(B, K, row_dim)``, the slot's outcome (``sub_rate_bps``
        (B, K, F), ``rate_bps`` (B, K, U), ``active`` (B, K, U)) and the world's KPIs.
        """
        active = self.reports.active.copy()
        controls = self.decoder.decode(actions, self.reports)
        self._reports, kpis = self.world.step(controls)
        assert self.kpis is not None
        self.kpis.add(kpis)
        se = self._reports.spectral_efficiency_bps_hz  # (B, K, U, F): last slot's, where served
        sub_rate = se.sum(axis=2, dtype=np.float64) * self.layout.subchannel_bandwidth_hz
        outcome = {"sub_rate_bps": sub_rate, "rate_bps": np.asarray(kpis.extra["rate_bps"]), "active": active}
        return self.features.build(self._reports), outcome, kpis


__all__ = ["SrbEnv", "group_rewards", "reuse_qos_teacher", "user_costs"]
