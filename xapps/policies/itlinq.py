"""Fair-ITLinQ for the multi-cell worlds: greedy on/off scheduling from SNR and INR tests.

Per subband, the links (device ``u`` of AP ``k``, served by AP ``k``) with a non-empty queue are
taken in a uniformly random order. The first is switched on; each next link ``j`` is switched on
only if, against every link ``i`` already on,

* the interference ``j`` receives from ``i`` satisfies ``INR_{j<-i} <= C * SNR_j^eta``, and
* the interference ``j`` causes at ``i`` satisfies ``INR_{i<-j} <= C * SNR_j^eta`` when
  ``SNR_j <= SNR_th``, else ``INR_{i<-j} <= C_bar * SNR_j^eta_bar``,

and its AP does not already serve another device on that subband (the world serves one device
per AP and subband; the authors' public simulator lets an AP superpose several links instead).
SNR and INR are linear, at full power, on the current channel; links that are on transmit at full
power. The thresholds are tuned per deployment; the world publishes them as
``WorldSpec.static["fitlinq"]`` (the ``[fitlinq]`` table of the multicell presets,
`fitlinq_params`).

Reference: N. Naderializadeh and A. S. Avestimehr, "ITLinQ: a new approach for spectrum
sharing in device-to-device communication systems", IEEE JSAC 2014 (Fair ITLinQ variant).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy
from xapps.policies.optimizers import dbm_to_w, link_gains


@dataclass(frozen=True)
class FairItlinqParams:
    """Thresholds of Fair-ITLinQ (all dimensionless, linear).

    Attributes
    ----------
    eta : float
        Exponent of the received-interference test and of the caused-interference test of
        links with ``SNR <= snr_threshold_lin``.
    eta_bar : float
        Exponent of the caused-interference test of links above the SNR threshold.
    c : float
        Factor paired with ``eta``.
    c_bar : float
        Factor paired with ``eta_bar``.
    snr_threshold_lin : float
        SNR above which a link's caused-interference test uses ``c_bar``, ``eta_bar`` [linear].
    """

    eta: float
    eta_bar: float
    c: float
    c_bar: float
    snr_threshold_lin: float

    @classmethod
    def from_mapping(cls, raw: Any, where: str) -> FairItlinqParams:
        """Build from a ``{field: number}`` mapping; `PolicyError` naming ``where`` if malformed."""
        names = [f.name for f in fields(cls)]
        if not isinstance(raw, dict) or set(raw) != set(names):
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise PolicyError(f"{where} must hold exactly the keys {names}; got {got}")
        values: dict[str, float] = {}
        for name in names:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise PolicyError(f"{where}[{name!r}] must be a positive number; got {value!r}")
            values[name] = float(value)
        return cls(**values)


def fitlinq_params(spec: WorldSpec) -> FairItlinqParams:
    """Fair-ITLinQ parameters of a world: ``spec.static["fitlinq"]``, a mapping with the fields of
    `FairItlinqParams`; `PolicyError` when the world publishes none or a malformed one."""
    if "fitlinq" not in spec.static:
        raise PolicyError(
            f"no Fair-ITLinQ parameters for scenario {spec.scenario!r}: the world publishes no "
            'static["fitlinq"] (a multicell scenario sets them in its [fitlinq] table)'
        )
    return FairItlinqParams.from_mapping(spec.static["fitlinq"], 'static["fitlinq"]')


def fair_itlinq_on(
    inr: np.ndarray, candidate: np.ndarray, order: np.ndarray, same_tx: np.ndarray, params: FairItlinqParams
) -> np.ndarray:
    """The Fair-ITLinQ on-set of ``M`` independent link problems.

    Parameters
    ----------
    inr : ndarray, (M, N, N)
        ``inr[m, j, i]``: interference-to-noise ratio at the receiver of link ``j`` from the
        transmitter of link ``i`` at full power [linear]; the diagonal holds each link's SNR.
    candidate : ndarray, bool, (M, N)
        Links that may be switched on (non-empty queue).
    order : ndarray, int, (M, N)
        A permutation of ``0..N-1`` per problem: the order links are considered in
        (non-candidates are skipped).
    same_tx : ndarray, bool, (N, N)
        Links that share a transmitter; at most one of them is switched on.
    params : FairItlinqParams

    Returns
    -------
    ndarray, bool, (M, N)
        Links switched on.
    """
    m, n = candidate.shape
    snr = np.diagonal(inr, axis1=1, axis2=2)
    received_max = params.c * snr**params.eta  # (M, N), limit on INR_{j<-i} for link j
    caused_max = np.where(snr <= params.snr_threshold_lin, received_max, params.c_bar * snr**params.eta_bar)
    # blocks[m, i, j]: once link i is on, link j may no longer switch on; row/column n is a sentinel
    blocks = np.zeros((m, n + 1, n + 1), dtype=bool)
    inner = blocks[:, :n, :n]
    np.greater(inr.transpose(0, 2, 1), received_max[:, None, :], out=inner)
    inner |= inr > caused_max[:, None, :]
    inner |= same_tx
    rows = np.arange(m)[:, None]
    considered = candidate[rows, order]
    sequence = np.take_along_axis(order, np.argsort(~considered, axis=1, kind="stable"), axis=1)
    n_candidates = considered.sum(axis=1)
    sequence[np.arange(n)[None, :] >= n_candidates[:, None]] = n  # sentinel: always blocked
    flat = sequence + rows * (n + 1)  # indices into the (M * (n + 1)) flattened link axis
    blocked = np.zeros((m, n + 1), dtype=bool)
    blocked[:, n] = True
    blocked_flat = blocked.reshape(-1)
    blocks_flat = blocks.reshape(m * (n + 1), n + 1)
    on = np.zeros(m * (n + 1), dtype=bool)
    for r in range(int(n_candidates.max(initial=0))):
        index = flat[:, r]
        accept = ~blocked_flat[index]
        on[index] = accept
        newly_blocked = blocks_flat[index]
        newly_blocked &= accept[:, None]
        blocked |= newly_blocked
    return on.reshape(m, n + 1)[:, :n]


@register
class FairItlinq(Policy):
    """Fair-ITLinQ (see the module docstring); needs the current CSI of every link (genie).

    Every subband is scheduled on its own, all worlds and subbands in lockstep; active links
    use the AP's maximum power.
    """

    name = "fitlinq"
    genie = True
    world_kinds = ("multicell",)

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.params = fitlinq_params(spec)
        u = spec.n_users_max
        self._p_max_link_w = np.repeat(self.max_power_w().astype(np.float64), u)  # (N,)
        self._noise_w = dbm_to_w(spec.noise_dbm)
        self._same_tx = np.kron(np.eye(spec.n_nodes, dtype=bool), np.ones((u, u), dtype=bool))

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_packets.shape
        s = self.spec.n_resources
        n = k * u
        eligible = self.eligible(reports).transpose(0, 3, 1, 2).reshape(b * s, n)
        backlogged = np.repeat((reports.queue_packets > 0).reshape(b, n), s, axis=0)
        inr = link_gains(reports.gain).reshape(b * s, n, n) * (self._p_max_link_w / self._noise_w)
        order = np.argsort(self.rng.random((b * s, n)), axis=1)
        on = fair_itlinq_on(inr, eligible & backlogged, order, self._same_tx, self.params).reshape(b, s, k, u)
        served = on.any(axis=3)  # (B, S, K)
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(served, np.argmax(on, axis=3), -1).transpose(0, 2, 1)
        p_max = self._p_max_link_w.reshape(k, u)[:, 0]
        controls.power_w[...] = np.where(served, p_max[None, None, :], 0.0).transpose(0, 2, 1)
        return controls
