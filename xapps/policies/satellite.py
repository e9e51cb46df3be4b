"""Power baselines of the cognitive satellite–terrestrial world (``cstn``): ARA, average power
and random power (Zhai et al., "MADQN-IL", Mathematics 13(19) 3133, 2025, §4.2).

In ``cstn`` the resource axis ``S`` is a base station's antennas (sectors). Every antenna serves
at most one user of its own sector (``Reports.extra["eligible"]``) with the whole band, and the
base stations must keep their aggregate interference at every satellite user under ``I_th``
(``WorldSpec.static["interference_threshold_w"]``). An antenna transmitting below the world's
floor (``static["antenna_min_power_w"]``, 0.1 of the antenna maximum) is off.

All three policies are vectorized over the batch, base stations, users and antennas; ARA loops
over the base stations because it decides them one after the other.
"""

from __future__ import annotations

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy

#: ARA: factor applied to a base station's power at every step while the threshold is exceeded.
ARA_STEP_FACTOR = 0.8
#: ARA keeps the interference this fraction below I_th and its powers this fraction above the
#: floor, so that float32 rounding of the reported gains and of the controls cannot move the
#: world's own checks (in float64) across either line.
ARA_ROUNDING_MARGIN = 1e-6
#: ARA stops after this many steps even without a floor (0.8^100 ≈ −97 dB).
ARA_MAX_STEPS = 100
#: Two satisfaction ratios closer than this are a tie, broken by the larger waiting demand.
_SATISFACTION_TIE = 1e-9

_CSTN_STATIC_KEYS = ("antenna_max_power_w", "antenna_min_power_w", "interference_threshold_w")


def _cstn_static(spec: WorldSpec, policy: str) -> tuple[float, float, float]:
    """(antenna max power [W], antenna floor [W], I_th [W]) announced by a ``cstn`` world."""
    missing = [key for key in _CSTN_STATIC_KEYS if key not in spec.static]
    if missing:
        raise PolicyError(
            f"policy {policy!r} needs the cstn world's static {', '.join(missing)} (scenario {spec.scenario!r})"
        )
    p_max = float(spec.static["antenna_max_power_w"])
    p_min = float(spec.static["antenna_min_power_w"])
    if not 0.0 <= p_min <= p_max or p_max <= 0.0:
        raise PolicyError(f"policy {policy!r}: antenna floor {p_min} W must lie in [0, max = {p_max} W]")
    return p_max, p_min, float(spec.static["interference_threshold_w"])


def _longest_queue_user(reports: Reports, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eligible user with the most waiting demand on each antenna (lowest index on ties).

    Returns ``user`` (B, K, S) int64 and ``on`` (B, K, S) bool (the sector has an eligible user).
    """
    score = np.where(eligible, reports.queue_bits[..., None].astype(np.float64), -np.inf)
    on: np.ndarray = np.any(eligible, axis=2)
    return np.argmax(score, axis=2), on


class _AntennaPowerPolicy(Policy):
    """Shared construction of the fixed-rule power baselines."""

    world_kinds = ("cstn",)

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.antenna_max_power_w, self.antenna_min_power_w, self.threshold_w = _cstn_static(spec, self.name)

    def _controls(self, user: np.ndarray, on: np.ndarray, power_w: np.ndarray) -> Controls:
        b, k, s = user.shape
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(on, user, -1)
        controls.power_w[...] = np.where(on, power_w, 0.0)
        return controls


@register
class AveragePower(_AntennaPowerPolicy):
    """Average power allocation: every antenna at P_max / W (the base station's maximum split
    equally over its W antennas, i.e. the antenna maximum), serving the eligible user of its
    sector with the most waiting demand. No CSI, no interference control."""

    name = "average-power"

    def decide(self, reports: Reports) -> Controls:
        user, on = _longest_queue_user(reports, self.eligible(reports))
        return self._controls(user, on, np.full(user.shape, self.antenna_max_power_w))


@register
class RandomPower(_AntennaPowerPolicy):
    """Random power allocation: every antenna draws its power uniformly in
    [floor, 1]·P_max / W every slot (floor = the world's ``min_power_fraction``, 0.1 in the
    paper, so the antenna is never switched off by the floor), serving the eligible user of its
    sector with the most waiting demand."""

    name = "random-power"

    def decide(self, reports: Reports) -> Controls:
        user, on = _longest_queue_user(reports, self.eligible(reports))
        power_w = self.rng.uniform(self.antenna_min_power_w, self.antenna_max_power_w, size=user.shape)
        return self._controls(user, on, power_w)


@register
class AdaptiveResourceAdjustment(_AntennaPowerPolicy):
    """ARA (adaptive resource adjustment), the paper's interference-aware baseline (§4.2 (i)).

    Centralized and genie: it reads the current gains from every antenna to every satellite
    user (``Reports.extra["sat_user_gain"]``, (B, K, J, S)). Base stations are decided in turn
    (node order), each accounting for the interference of those already decided; the ones not
    yet decided count as silent. For base station k:

    1. every antenna whose sector holds a user with waiting demand starts at P_max / W (the
       base station's maximum split over its W antennas);
    2. while the aggregate interference Σ_{k', s} p_{k', s}·g_{k', s → j} at some satellite
       user j exceeds I_th, all of k's antennas are scaled by 0.8 (one power for the whole
       base station, as the paper's "fixed-step" decrease and the authors' ``ARA1.py`` do);
    3. once the power falls below the floor (0.1 of the antenna maximum; with equal antenna
       powers this is the same as 0.1·P_max on the base station's total) the base station's
       antennas are off.

    The steps are evaluated at once: the chosen power is the largest P_max/W·0.8^n (n = 0, 1, ...,
    as long as it stays above the floor) that keeps every satellite user under I_th·(1 − 1e-6).

    Each antenna on serves the user of its sector that its power satisfies best: the largest
    satisfaction min(q_u, c_u) / q_u, with q_u the user's waiting demand [bit] and
    c_u = W_band·slot·log2(1 + p·g_u / I_u) the bits it could get at the chosen power, I_u the
    interference plus noise the user measured last slot (the authors' code estimates it with
    noise + I_th; ties go to the larger demand). Users with no waiting demand are not served, and
    an antenna whose sector has none stays off. The choice of user does not change the
    interference at the satellite users, so it is made after the power.
    """

    name = "ara"
    genie = True

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        steps = ARA_STEP_FACTOR ** np.arange(ARA_MAX_STEPS + 1, dtype=np.float64)
        above_floor = steps * self.antenna_max_power_w >= self.antenna_min_power_w * (1.0 + ARA_ROUNDING_MARGIN)
        #: power factors tried in order, (N,): 1, 0.8, 0.64, ... down to the last one above the floor
        self.scale_ladder: np.ndarray = steps[above_floor]
        if self.scale_ladder.size == 0:
            raise PolicyError(f"policy {self.name!r}: the antenna floor leaves no power step above it")
        self._bits_per_bps = float(spec.static.get("bandwidth_hz", spec.resource_bandwidth_hz)) * spec.slot_s

    def antenna_scale(self, sat_user_gain: np.ndarray, on: np.ndarray) -> np.ndarray:
        """Power factor of every base station (its antennas' power / P_max·W⁻¹), 0 = off.

        Parameters
        ----------
        sat_user_gain : ndarray, (B, K, J, S)
            Gain from antenna s of base station k to satellite user j [linear].
        on : ndarray, bool, (B, K, S)
            Antennas that want to transmit.

        Returns
        -------
        ndarray, float64, (B, K)
        """
        b, k_nodes, j, _ = sat_user_gain.shape
        limit_w = self.threshold_w * (1.0 - ARA_ROUNDING_MARGIN)
        # interference of each base station at full antenna power, (B, K, J) [W]
        full_w = np.einsum("bkjs,bks->bkj", sat_user_gain.astype(np.float64), on.astype(np.float64))
        full_w *= self.antenna_max_power_w
        decided_w = np.zeros((b, j))
        scale = np.zeros((b, k_nodes))
        ladder = self.scale_ladder
        for k in range(k_nodes):
            trial_w = decided_w[:, None, :] + ladder[None, :, None] * full_w[:, k, None, :]  # (B, N, J)
            feasible = np.all(trial_w <= limit_w, axis=2)  # (B, N)
            first = np.argmax(feasible, axis=1)
            scale[:, k] = np.where(feasible.any(axis=1), ladder[first], 0.0)
            decided_w += scale[:, k, None] * full_w[:, k]
        return scale

    def decide(self, reports: Reports) -> Controls:
        eligible = self.eligible(reports)  # (B, K, U, S)
        queue_bits = reports.queue_bits.astype(np.float64)  # (B, K, U)
        wanted = eligible & (queue_bits[..., None] > 0.0)
        on: np.ndarray = np.any(wanted, axis=2)  # (B, K, S)
        scale = self.antenna_scale(reports.extra["sat_user_gain"], on)
        power_w = scale[:, :, None] * self.antenna_max_power_w  # (B, K, 1)
        on &= scale[:, :, None] > 0.0

        # best-satisfied user per antenna at its power
        own_gain = np.einsum("bkusk->bkus", reports.gain).astype(np.float64)  # (B, K, U, S)
        interference_w = np.maximum(reports.interference_w.astype(np.float64), np.finfo(np.float32).tiny)
        capacity_bits = self._bits_per_bps * np.log2(1.0 + power_w[:, :, None, :] * own_gain / interference_w)
        demand = np.maximum(queue_bits, np.finfo(np.float64).tiny)[..., None]
        satisfaction = np.where(wanted, np.minimum(capacity_bits, demand) / demand, -np.inf)
        best = satisfaction.max(axis=2, keepdims=True)
        tied = wanted & (satisfaction >= best - _SATISFACTION_TIE)
        user = np.argmax(np.where(tied, queue_bits[..., None], -np.inf), axis=2)  # (B, K, S)
        return self._controls(user, on, np.broadcast_to(power_w, on.shape))
