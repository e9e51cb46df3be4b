"""The contract every world model follows: reset, then one `step` per slot.

A world holds ``B`` independent copies of one scenario (the leading batch axis) and advances
them together. It produces `ric.protocol.Reports` and consumes `ric.protocol.Controls`; it
never imports policies. Randomness: one `numpy.random.Generator` per component (fading,
traffic, mobility, ...) per batch member, all spawned from one root seed, so world ``b`` of a
batch seeded ``[s0, s1, ...]`` follows exactly the trajectory of a single world seeded ``s_b``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec


@dataclass
class SlotKpis:
    """What happened in one slot, for KPI accounting (not visible to policies).

    Attributes
    ----------
    delivered_bits : ndarray, float64, (B, K, U)
        Bits delivered to each user this slot [bit].
    arrived_bits : ndarray, float64, (B, K, U)
        Bits that arrived (or were demanded) this slot [bit].
    dropped_bits : ndarray, float64, (B, K, U)
        Bits dropped this slot (expired demand, buffer overflow) [bit].
    active : ndarray, bool, (B, K, U)
        Users present this slot (fairness and throughput are taken over these).
    qos_checked : ndarray, bool, (B, K, U)
        Users whose QoS target was evaluated this slot.
    qos_violated : ndarray, bool, (B, K, U)
        Users that missed their QoS target this slot.
    spectral_efficiency_bps_hz : ndarray, float64, (B,)
        System spectral efficiency this slot: delivered bits / (slot_s · system bandwidth).
    packet_delays_s : list of ndarray, one per world, or None
        Delays of the packets whose last bit was delivered this slot [s]; None for worlds
        without packets.
    extra : dict of str to ndarray
        World-specific per-slot quantities (e.g. interference at satellite users).
    """

    delivered_bits: np.ndarray
    arrived_bits: np.ndarray
    dropped_bits: np.ndarray
    active: np.ndarray
    qos_checked: np.ndarray
    qos_violated: np.ndarray
    spectral_efficiency_bps_hz: np.ndarray
    packet_delays_s: list[np.ndarray] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def spawn_generators(seeds: Sequence[int], n_streams: int) -> list[list[np.random.Generator]]:
    """``n_streams`` lists of one Generator per world: ``SeedSequence(seeds[b]).spawn(n_streams)``."""
    streams: list[list[np.random.Generator]] = [[] for _ in range(n_streams)]
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seeds must be integers >= 0, got {seed!r}")
        for stream, child in zip(streams, np.random.SeedSequence(int(seed)).spawn(n_streams), strict=True):
            stream.append(np.random.default_rng(child))
    return streams


class World(ABC):
    """A batch of ``B`` worlds of one scenario.

    Subclasses set ``spec`` in ``__init__`` and implement `reset`, `step` and
    `queued_packet_ages_s`.
    """

    spec: WorldSpec
    batch: int
    genie_csi: bool

    @abstractmethod
    def reset(self, seeds: Sequence[int]) -> Reports:
        """Start ``len(seeds)`` worlds (``B``) and return the reports for slot 0."""

    @abstractmethod
    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        """Apply ``controls`` for the current slot, advance one slot.

        Returns the reports for the next slot and what happened in this one. Controls with
        shapes that do not match the spec raise `ValueError`; entries out of range (inactive
        user, negative power) are treated as "off" for that resource.
        """

    def queued_packet_ages_s(self) -> list[np.ndarray]:
        """Ages of packets still queued, one array per world [s] (empty without packets).

        Used at the end of an evaluation so a policy that starves users is charged for it.
        """
        return [np.zeros(0) for _ in range(self.batch)]


def check_controls(controls: Controls, batch: int, spec: WorldSpec) -> None:
    """Raise `ValueError` naming the field when ``controls`` does not fit ``(batch, spec)``."""
    k, s = spec.n_nodes, spec.n_resources
    expected = {
        "user": (batch, k, s),
        "power_w": (batch, k, s),
        "mask": (batch, k, s),
        "move_m": (batch, k, 3),
    }
    for name, shape in expected.items():
        got = getattr(controls, name).shape
        if got != shape:
            raise ValueError(f"controls.{name} has shape {got}, expected {shape}")
