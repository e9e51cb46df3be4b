"""Flat multi-agent PPO baseline of the space–air–ground world (``sag``).

Every node — beams and HAPs included — is an agent deciding its subbands, powers and (UAVs) move
every slot, with no tiers and no constraints (`xapps.policies.learned_sag.FlatNodes`). One shared
MLP actor and critic, trained by the same loop as the hierarchy (`models.hppo.train` with
``flat=True``): same episodes, same reward terms (a beam gets its tree's reward, a HAP its tree's,
a TBS/UAV its region's, every slot), same budget in world slots. Behaviour cloning of the
heuristic hierarchy's allocation is available (``bc_tiers = ("flat",)``); the default trains from
scratch, as the local tier of the hierarchy does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.hppo import HppoConfig, ProgressHook
from models.hppo import train as _train

TRAINER = "sag-flat"


@dataclass
class FlatConfig(HppoConfig):
    """A flat MAPPO run: `models.hppo.HppoConfig` with the flat defaults (saved in every checkpoint)."""

    bc_tiers: tuple[str, ...] = ()
    """Cloned from the heuristic hierarchy during ``bc_slots`` (``("flat",)``) or nothing (PPO from the start)."""


def train(config: FlatConfig, out_dir: str | Path, resume: bool = False, hook: ProgressHook | None = None
          ) -> dict[str, Any]:
    """Train the flat baseline; files and return value as `models.hppo.train`."""
    return _train(config, out_dir, resume=resume, hook=hook, flat=True)


__all__ = ["TRAINER", "FlatConfig", "train"]
