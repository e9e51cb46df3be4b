"""``ntnric models deploy|list|rollback``: the model registry of a running RIC, over its Admin gRPC.

The commands run at a lower CPU priority than the slot loop (`ntnric.entry`).

A refused request (a model that does not fit the xApp, no earlier model to roll back to, an
unreachable RIC...) prints one line on stderr, ``error: <reason>``, and exits with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_ADMIN = "127.0.0.1:4562"  # `ntnric ric --admin-grpc` default
RPC_TIMEOUT_S = 60.0  # a deploy waits for the xApp's switch (the RIC gives up after its own timeout)
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

models_app = typer.Typer(
    help="Model registry of a running RIC: deploy ONNX models to xApps, list them, roll back.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)



RicOption = Annotated[str, typer.Option("--ric", help="Admin gRPC address of the RIC (HOST:PORT).")]
XappOption = Annotated[str, typer.Option("--xapp", help="xApp name at the RIC (see `ntnric models list`).")]


class ModelsError(Exception):
    """A refused request or an unreachable RIC; the message is one line."""


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _call(address: str, method: str, request: Any) -> Any:
    """Call Admin ``method`` on the RIC at ``address``; `ModelsError` (one line) when it fails."""
    import grpc

    from ric.protocol.gen import services_pb2_grpc
    from ric.transport.base import TransportError, parse_address

    try:
        transport, target = parse_address(address)
    except TransportError as exc:
        raise ModelsError(str(exc)) from None
    if transport != "grpc":
        raise ModelsError(f"--ric {address!r} is a ZeroMQ address; the Admin service is gRPC (HOST:PORT, "
                          f"default {DEFAULT_ADMIN})")
    options = [("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
               ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
    with grpc.insecure_channel(target, options=options) as channel:
        stub = services_pb2_grpc.AdminStub(channel)
        try:
            return getattr(stub, method)(request, timeout=RPC_TIMEOUT_S, wait_for_ready=False)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ModelsError(f"cannot reach the RIC's Admin service at {target} (is `ntnric ric` running? "
                                  "--ric sets the address)") from None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise ModelsError(f"the RIC at {target} has no model registry (an older version?)") from None
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise ModelsError(f"the RIC at {target} failed: {code.name if code else 'error'}: {detail}") from None


def deploy_model(address: str, path: Path, xapp: str) -> Any:
    """Upload ``path`` to xApp ``xapp`` through the RIC at ``address``; the `ModelChangeReply`."""
    from ric.protocol.gen import services_pb2

    file = path.expanduser()
    if not file.is_file():
        raise ModelsError(f"model file {str(path)!r} not found")
    return _call(address, "DeployModel", services_pb2.DeployModelRequest(
        xapp=xapp, model=file.read_bytes(), file_name=file.name))


def rollback_model(address: str, xapp: str) -> Any:
    """Make the previously active model of ``xapp`` active again; the `ModelChangeReply`."""
    from ric.protocol.gen import services_pb2

    return _call(address, "RollbackModel", services_pb2.RollbackModelRequest(xapp=xapp))


def list_models(address: str, xapp: str = "") -> list[dict[str, Any]]:
    """Every stored model (of ``xapp`` only, when given) as JSON-ready dicts."""
    from ric.protocol.gen import services_pb2

    reply = _call(address, "ListModels", services_pb2.ListModelsRequest(xapp=xapp))
    return [{
        "xapp": m.xapp, "name": m.name, "version": m.version, "sha256": m.sha256,
        "metadata": json.loads(m.metadata_json) if m.metadata_json else {}, "active": m.active,
        "running": m.running, "deployed_at": m.deployed_at, "activated_at_slot": m.activated_at_slot,
        "size_bytes": m.size_bytes, "source": m.source,
    } for m in reply.models]


def _switched(reply: Any) -> str:
    if reply.activated_at_slot >= 0:
        loaded = f", loaded in {reply.prepare_ms:.1f} ms" if reply.prepare_ms > 0 else ""
        return f"active from slot {reply.activated_at_slot}{loaded}"
    return reply.reason or "the xApp has not confirmed the switch"


@models_app.command("deploy")
def deploy_command(
    file: Annotated[Path, typer.Argument(help="ONNX model exported by `ntnric export`.")],
    xapp: XappOption,
    ric: RicOption = DEFAULT_ADMIN,
) -> None:
    """Validate FILE at the RIC, store it and switch xApp NAME to it at a slot boundary."""
    try:
        reply = deploy_model(ric, file, xapp)
    except ModelsError as exc:
        raise _fail(str(exc)) from None
    if not reply.accepted:
        raise _fail(f"model {file.name} refused: {reply.reason}")
    note = "" if reply.activated_at_slot < 0 or not reply.reason else f" ({reply.reason})"
    console.print(f"deployed {file.name} to xApp {xapp}: version {reply.version}, sha256 {reply.sha256[:12]}, "
                  f"{_switched(reply)}{note}", highlight=False, soft_wrap=True)


@models_app.command("rollback")
def rollback_command(xapp: XappOption, ric: RicOption = DEFAULT_ADMIN) -> None:
    """Switch xApp NAME back to the model that was active before its current one."""
    try:
        reply = rollback_model(ric, xapp)
    except ModelsError as exc:
        raise _fail(str(exc)) from None
    if not reply.accepted:
        raise _fail(f"rollback refused: {reply.reason}")
    console.print(f"xApp {xapp} rolled back to version {reply.version}, sha256 {reply.sha256[:12]}, "
                  f"{_switched(reply)}", highlight=False, soft_wrap=True)


@models_app.command("list")
def list_command(
    ric: RicOption = DEFAULT_ADMIN,
    xapp: Annotated[str, typer.Option("--xapp", help="Only this xApp's models.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with the full metadata) instead of a table.")]
    = False,
) -> None:
    """The stored models per xApp: version, digest, active, when deployed, the slot switched at."""
    try:
        models = list_models(ric, xapp)
    except ModelsError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        console.print_json(json.dumps(models))
        return
    if not models:
        console.print("no models stored" + (f" for xApp {xapp}" if xapp else ""))
        return
    table = Table(box=None, header_style="bold")
    for column in ("xApp", "name", "version", "sha256", "active", "deployed (UTC)", "from slot"):
        fixed = column in ("sha256", "active", "deployed (UTC)", "from slot")
        table.add_column(column, justify="right" if column == "from slot" else "left", no_wrap=fixed,
                         overflow="ellipsis" if fixed else "fold")
    for m in models:
        active = "active" + ("" if m["running"] else " (not running)") if m["active"] else (
            "running" if m["running"] else "")
        slot = str(m["activated_at_slot"]) if m["activated_at_slot"] >= 0 else (
            "at start" if m["source"] == "xapp" else "-")
        table.add_row(m["xapp"], m["name"], m["version"], m["sha256"][:12], active,
                      m["deployed_at"].replace("T", " ").removesuffix("Z"), slot)
    console.print(table)
