"""World models, one module per world kind; `make_world` builds the right one for a scenario."""

from __future__ import annotations

import importlib

from e2_sim.scenarios.base import ScenarioBase
from e2_sim.world.base import SlotKpis, World, check_controls

# world kind -> "module:Class" (imported on demand so a world's cost is paid only when used)
WORLDS: dict[str, str] = {
    "multicell": "e2_sim.world.multicell:MulticellWorld",
    "conflict": "e2_sim.world.conflict:ConflictWorld",
    "srb": "e2_sim.world.srb:SrbWorld",
    "sag": "e2_sim.world.sag:SagWorld",
    "cstn": "e2_sim.world.cstn:CstnWorld",
}


def make_world(scenario: ScenarioBase, load: float | None = None, genie_csi: bool = False) -> World:
    """Build the world for ``scenario``.

    Parameters
    ----------
    scenario : ScenarioBase
        A validated scenario (see `e2_sim.scenarios.load_scenario`).
    load : float, optional
        Traffic load in the scenario's ``load_unit``; ``scenario.default_load`` when None.
    genie_csi : bool
        Reports carry the current slot's channel instead of the previous slot's.
    """
    module_name, class_name = WORLDS[scenario.world].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    world: World = cls(scenario, load=scenario.default_load if load is None else load, genie_csi=genie_csi)
    return world


__all__ = ["WORLDS", "SlotKpis", "World", "check_controls", "make_world"]
