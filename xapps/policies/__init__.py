"""Policy registry: `make_policy("llq", spec, seed)` builds a policy by name.

Policies register themselves with `register`; modules listed in `_MODULES` are imported on
first use so that a name is available without the caller importing its module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ric.protocol import WorldSpec
from xapps.policies.base import Policy

_REGISTRY: dict[str, type[Policy]] = {}
_MODULES: tuple[str, ...] = (
    "xapps.policies.simple",
    "xapps.policies.optimizers",
    "xapps.policies.itlinq",
    "xapps.policies.conflict",
    "xapps.policies.satellite",
    "xapps.policies.allocation",
    "xapps.hierarchy",
    "xapps.policies.learned_sag",
)
_loaded = False
ONNX_PREFIX = "onnx:"


class PolicyError(ValueError):
    """A policy that cannot be built for a world; the message is one line for the user."""


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator adding ``cls`` to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"policy name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for module in _MODULES:
            importlib.import_module(module)
        _loaded = True


def policy_names(world_kind: str | None = None) -> list[str]:
    """Registered names, optionally only those supporting ``world_kind``."""
    _load_all()
    return sorted(
        name
        for name, cls in _REGISTRY.items()
        if world_kind is None or not cls.world_kinds or world_kind in cls.world_kinds
    )


PolicyFactory = Callable[[WorldSpec, int], Policy]


def policy_class(name: str) -> type[Policy]:
    """The class registered as ``name`` (``onnx:PATH`` → the ONNX policy); `PolicyError` if there is none."""
    _load_all()
    if name.startswith(ONNX_PREFIX):
        from xapps.policies.learned import OnnxPolicy

        return OnnxPolicy
    cls = _REGISTRY.get(name)
    if cls is None:
        raise PolicyError(f"unknown policy {name!r}; known: {', '.join(policy_names())}")
    return cls


def make_policy(name: str, spec: WorldSpec, seed: int = 0) -> Policy:
    """Build policy ``name`` for a world described by ``spec``; `PolicyError` if it cannot.

    ``onnx:PATH`` loads a model exported by ``ntnric export`` and checks it against ``spec``.
    """
    _load_all()
    if name.startswith(ONNX_PREFIX):
        return _make_onnx(name[len(ONNX_PREFIX) :], spec, seed)
    cls = _REGISTRY.get(name)
    if cls is None:
        raise PolicyError(f"unknown policy {name!r}; known: {', '.join(policy_names(spec.world_kind))}")
    if cls.world_kinds and spec.world_kind not in cls.world_kinds:
        raise PolicyError(
            f"policy {name!r} does not support {spec.world_kind!r} worlds (scenario {spec.scenario!r}); "
            f"it supports {', '.join(cls.world_kinds)}"
        )
    return cls(spec, seed)


def _make_onnx(path: str, spec: WorldSpec, seed: int) -> Policy:
    from pathlib import Path

    from ric.protocol.models import ModelError
    from xapps.policies.learned import OnnxPolicy

    if spec.world_kind == "sag":  # a flat model: every node every slot (the hierarchy's tiers run as xApps)
        from xapps.policies.learned_sag import FlatMappo

        if not Path(path).expanduser().is_file():
            raise PolicyError(f"model {path}: file not found")
        try:
            return FlatMappo(spec, seed, model=Path(path).expanduser().read_bytes(), source=path)
        except ModelError as exc:
            raise PolicyError(f"model {path}: {exc}") from None
    if spec.world_kind not in OnnxPolicy.world_kinds:
        raise PolicyError(f"onnx policies run on {', '.join(OnnxPolicy.world_kinds)} worlds, not {spec.world_kind!r}")
    try:
        return OnnxPolicy.from_path(path, spec, seed)
    except ModelError as exc:
        raise PolicyError(f"model {path}: {exc}") from None


__all__ = ["Policy", "PolicyError", "make_policy", "policy_class", "policy_names", "register"]
