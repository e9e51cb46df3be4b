"""The command line as a user meets it: listings, one-line errors, eval output."""

from __future__ import annotations

import json
from pathlib import Path

from e2_sim.scenarios import PRESET_DIR, preset_names
from tests.conftest import run_cli

EXPECTED_PRESETS = {"hex19", "random19", "conflict8", "tn-ntn-srb", "sag", "cstn"}


def test_every_preset_is_listed_with_one_line() -> None:
    result = run_cli("scenarios")
    assert result.returncode == 0, result.stderr
    assert set(preset_names()) >= EXPECTED_PRESETS
    for name in preset_names():
        assert sum(line.split()[0] == name for line in result.stdout.splitlines() if line.strip()) == 1


def _bad_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (PRESET_DIR / "hex19.toml").read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_bad_scenario_field_is_one_line_naming_field_and_value(tmp_path: Path) -> None:
    text = (PRESET_DIR / "hex19.toml").read_text()
    slot_line = next(line for line in text.splitlines() if line.startswith("slot_s"))
    path = _bad_copy(tmp_path, slot_line, "slot_s = -0.02")
    result = run_cli("eval", str(path), "--slots", "10")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "slot_s" in lines[0] and "-0.02" in lines[0]


def test_unknown_field_and_unknown_scenario_and_policy_are_one_line(tmp_path: Path) -> None:
    text = (PRESET_DIR / "hex19.toml").read_text()
    typo = tmp_path / "typo.toml"
    typo.write_text(text + "\nslot_duration_s = 0.02\n")
    for args, needle in (
        (("eval", str(typo), "--slots", "5"), "slot_duration_s"),
        (("eval", "no-such-preset"), "no-such-preset"),
        (("eval", "hex19", "--policies", "nope", "--slots", "5"), "nope"),
        (("eval", "hex19", "--set", "slot_s=abc", "--slots", "5"), "slot_s"),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert needle in result.stderr
        assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1


def test_eval_writes_the_documented_json(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run_cli("eval", "hex19", "--policies", "llq,full-power", "--load", "20", "--slots", "300",
                     "--seed", "3", "--json", str(out), "--plot", str(tmp_path / "plots"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["scenario"] == "hex19" and doc["seed"] == 3 and doc["load"] == 20 and doc["slots"] == 300
    for name in ("llq", "full-power"):
        kpis = doc["policies"][name]
        for key in ("avg_packet_delay_ms", "throughput_mbps", "spectral_efficiency_bps_hz",
                    "qos_violation_rate", "jain_fairness"):
            assert isinstance(kpis[key], float)
        assert kpis["decision_time_us"]["p50"] > 0
        assert kpis["decision_time_us"]["p99"] >= kpis["decision_time_us"]["p50"]
    assert (tmp_path / "plots" / "hex19_delay_cdf.png").stat().st_size > 1000


def test_ric_port_in_use_is_one_line() -> None:
    import socket

    for flag, scheme in (("--e2-grpc", ""), ("--e2-zmq", "tcp://")):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            free = {"--e2-zmq": "tcp://127.0.0.1:0", "--e2-grpc": "127.0.0.1:0", "--xapp-zmq": "tcp://127.0.0.1:0",
                    "--xapp-grpc": "127.0.0.1:0", "--admin-grpc": "127.0.0.1:0"}
            free[flag] = f"{scheme}127.0.0.1:{port}"
            args = [item for pair in free.items() for item in pair]
            result = run_cli("ric", *args, "--metrics-port", "0", timeout=60)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert str(port) in lines[0] and "Traceback" not in result.stderr
