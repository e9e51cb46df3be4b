"""``ntnric bench swap``: model hot swaps during a realtime run, and the deadline misses around them.

A realtime `ntnric run` of an ``onnx:`` policy (RIC, simulator and xApp as their own processes)
while ``ntnric models deploy`` and ``ntnric models rollback`` run as their own processes, as an
operator would type them, at evenly spaced slots: deploys of copies of the model that differ
only in their metadata version (so every deploy is a new model for the registry), each followed
by a rollback. Reported: the slot each request was made at and the slot the xApp switched at
(as the RIC reports it), every slot with a deadline miss, and the misses in each swap's window
(from the request to three slots after the switch).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ntnric.emulation import EmulationConfig, run_emulation, xapp_name

SWAP_WINDOW_AFTER_SLOTS = 3  # slots after a switch still counted as the swap's


class SwapBenchError(ValueError):
    """The model cannot be used for the benchmark (one line)."""


def model_variant(path: Path, suffix: str, out: Path) -> Path:
    """A copy of model ``path`` whose metadata version ends in ``suffix`` (a distinct sha256)."""
    import onnx

    from ric.protocol.models import METADATA_KEY

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise SwapBenchError(f"model {path}: cannot be read ({type(exc).__name__})") from None
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            metadata = json.loads(prop.value)
            metadata["version"] = f"{metadata.get('version', 'model')}{suffix}"
            prop.value = json.dumps(metadata)
            break
    else:
        raise SwapBenchError(f"model {path}: no '{METADATA_KEY}' metadata (export it with `ntnric export`)")
    onnx.save(model, str(out))
    return out


def scenario_of(path: Path) -> str:
    """The scenario named in the model's metadata."""
    import onnx

    from ric.protocol.models import read_metadata

    try:
        return str(read_metadata(onnx.load(str(path), load_external_data=False))["scenario"])
    except Exception as exc:
        raise SwapBenchError(f"model {path}: cannot read its scenario ({type(exc).__name__})") from None


def _models_command(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", "from ntnric.entry import main; main()", "models", *args],
                          capture_output=True, text=True, timeout=120.0)
    return done.returncode, (done.stdout + done.stderr).strip()


def bench_swap(model: Path, scenario: str | None, slot_ms: float, slots: int, swaps: int, seed: int = 0
               ) -> dict[str, Any]:
    """Run the benchmark (module docstring); the result as a JSON-ready dict."""
    if not model.is_file():
        raise SwapBenchError(f"model file {str(model)!r} not found")
    if swaps < 1 or slots < 10 * (swaps + 1):
        raise SwapBenchError(f"--slots {slots} leaves no room for {swaps} swaps (at least 10 slots apart)")
    scenario = scenario or scenario_of(model)
    work = Path(tempfile.mkdtemp(prefix="ntnric-swap-"))
    policy = f"onnx:{model}"
    xapp = xapp_name(policy)
    requests = [("deploy" if i % 2 == 0 else "rollback", slots * (i + 1) // (swaps + 1)) for i in range(swaps)]
    progress_slot = [0]
    admin: list[str] = []
    log: list[dict[str, Any]] = []
    started = threading.Event()

    def swapper() -> None:
        started.wait()
        for i, (kind, at_slot) in enumerate(requests):
            while progress_slot[0] < at_slot and not stop.is_set():
                stop.wait(0.02)
            if stop.is_set():
                return
            made_at = progress_slot[0]
            if kind == "deploy":
                variant = model_variant(model, f"-swap{i}", work / f"variant{i}.onnx")
                status, text = _models_command("deploy", str(variant), "--xapp", xapp, "--ric", admin[0])
            else:
                status, text = _models_command("rollback", "--xapp", xapp, "--ric", admin[0])
            log.append({"request": kind, "requested_at_slot": made_at, "ok": status == 0, "reply": text})

    def ready(endpoints: dict[str, str]) -> None:
        admin.append(endpoints["admin_grpc"])
        started.set()

    def progress(line: dict[str, Any]) -> None:
        progress_slot[0] = int(line["slot"])

    stop = threading.Event()
    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    config = EmulationConfig(scenario=scenario, policy=policy, mode="realtime", slot_ms=slot_ms, slots=slots,
                             seed=seed, model_dir=str(work / "models"))
    try:
        result = run_emulation(config, on_progress=progress, on_ready=ready)
    finally:
        stop.set()
        started.set()
        thread.join(timeout=130.0)
    switches = [_switch_slot(entry["reply"]) for entry in log]
    missed_slots = result["missed_slots"]
    for entry, switch in zip(log, switches, strict=False):
        entry["switched_at_slot"] = switch
        end = (switch if switch is not None else entry["requested_at_slot"]) + SWAP_WINDOW_AFTER_SLOTS
        entry["slots_with_misses_in_window"] = [s for s in missed_slots if entry["requested_at_slot"] <= s <= end]
    return {
        "kind": "bench-swap",
        "scenario": scenario,
        "model": str(model),
        "slot_ms": slot_ms,
        "slots": slots,
        "swaps": log,
        "expected": result["expected"],
        "missed": result["missed"],
        "missed_slots": missed_slots,
        "decision_latency_us": result["decision_latency_us"],
        "models": result["models"],
    }


def _switch_slot(reply: str) -> int | None:
    """The slot a deploy or rollback reply says the xApp switched at (``active from slot N``)."""
    found = re.search(r"active from slot (\d+)", reply)
    return int(found.group(1)) if found else None
