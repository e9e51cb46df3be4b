"""Offline training (torch, the `train` extra), ONNX export, and the model zoo.

The PettingZoo environments (`models.pettingzoo`: ``hex19_v0``, ``random19_v0``,
``conflict8_v0``, ``make_env``) are importable from here; they load pettingzoo on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "RadioParallelEnv": "models.pettingzoo",
    "conflict8_v0": "models.pettingzoo",
    "hex19_v0": "models.pettingzoo",
    "make_env": "models.pettingzoo",
    "random19_v0": "models.pettingzoo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY)
