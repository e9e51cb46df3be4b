"""Scenario presets (TOML files shipped in `presets/`) and user scenario files.

`load_scenario("hex19")` reads a preset, `load_scenario("my.toml")` a user file; both are
validated by the pydantic model of the file's ``world`` kind. Every failure is a
`ScenarioError` whose message names the offending field and value in one line.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from e2_sim.scenarios.base import ScenarioBase

PRESET_DIR = Path(__file__).parent / "presets"

# world kind -> "module:Class" of its scenario model (imported on demand)
SCENARIO_MODELS: dict[str, str] = {
    "multicell": "e2_sim.scenarios.multicell:MulticellScenario",
    "conflict": "e2_sim.scenarios.conflict:ConflictScenario",
    "srb": "e2_sim.scenarios.srb:SrbScenario",
    "sag": "e2_sim.scenarios.sag:SagScenario",
    "cstn": "e2_sim.scenarios.cstn:CstnScenario",
}


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message is one line for the user."""


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def _model_for(kind: str) -> type[ScenarioBase]:
    target = SCENARIO_MODELS.get(kind)
    if target is None:
        raise ScenarioError(f"field 'world' = {kind!r}: expected one of {sorted(SCENARIO_MODELS)}")
    module_name, class_name = target.split(":")
    model: type[ScenarioBase] = getattr(importlib.import_module(module_name), class_name)
    return model


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"scenario file {str(path)!r} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario file {str(path)!r} must hold a table of fields")
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"override {dotted!r}: field {key!r} is not a table")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``field.sub=value`` (value read as TOML/JSON when it parses, else a string)."""
    if "=" not in text:
        raise ScenarioError(f"override {text!r}: expected FIELD=VALUE")
    key, raw = text.split("=", 1)
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None) -> ScenarioBase:
    """Load a preset by name or a scenario file by path, apply ``overrides``, validate.

    Parameters
    ----------
    name_or_path : str
        A preset name (see `preset_names`) or a path to a ``.toml`` / ``.json`` file.
    overrides : dict, optional
        Dotted field names to values, e.g. ``{"bs_max_power_dbw": 20}``.
    """
    path = PRESET_DIR / f"{name_or_path}.toml"
    if not path.exists():
        path = Path(name_or_path)
        if not path.exists():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}: not a preset ({', '.join(preset_names())}) nor a file"
            )
    data = _read(path)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    kind = data.get("world")
    if not isinstance(kind, str):
        raise ScenarioError(f"scenario {str(path)!r}: field 'world' is missing (one of {sorted(SCENARIO_MODELS)})")
    model = _model_for(kind)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if not err["loc"]:  # a check across fields: its message names them
            raise ScenarioError(f"scenario {str(path)!r}: {err['msg']}{more}") from None
        field = ".".join(str(p) for p in err["loc"])
        shown = "missing" if err["type"] == "missing" else repr(err.get("input"))
        raise ScenarioError(f"scenario {str(path)!r}: field '{field}' = {shown}: {err['msg']}{more}") from None
