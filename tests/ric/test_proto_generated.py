"""The committed generated protobuf/gRPC code matches what `python -m ric.protocol.generate` makes."""

from __future__ import annotations

import filecmp
from pathlib import Path

from ric.protocol.generate import GEN_DIR, generate


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    names = sorted(p.name for p in fresh)
    committed = sorted(p.name for p in GEN_DIR.iterdir() if p.is_file() and p.suffix in (".py", ".pyi"))
    assert names == committed, "generated files differ: run `python -m ric.protocol.generate`"
    stale = [name for name in names if not filecmp.cmp(tmp_path / name, GEN_DIR / name, shallow=False)]
    assert not stale, f"stale generated code {stale}: run `python -m ric.protocol.generate` and commit it"


def test_generated_package_imports_without_the_proto_tree() -> None:
    from ric.protocol.gen import e2ap_pb2, e2sm_pb2, services_pb2, services_pb2_grpc

    assert e2ap_pb2.E2Pdu.DESCRIPTOR.fields_by_name["indication"].number == (
        e2ap_pb2.XappPdu.DESCRIPTOR.fields_by_name["indication"].number)
    assert e2sm_pb2.SlotReport.DESCRIPTOR.full_name == "ntnric.v1.SlotReport"
    assert {s for s in services_pb2.DESCRIPTOR.services_by_name} == {"E2", "XappService", "Admin"}
    assert hasattr(services_pb2_grpc, "AdminStub")


def test_shared_procedures_have_one_field_number_in_both_envelopes() -> None:
    """The RIC forwards indications and controls by appending to the received bytes: this needs it."""
    from ric.protocol.gen import e2ap_pb2

    e2 = e2ap_pb2.E2Pdu.DESCRIPTOR.fields_by_name
    xapp = e2ap_pb2.XappPdu.DESCRIPTOR.fields_by_name
    shared = set(e2) & set(xapp)
    assert {"transaction_id", "slot", "t", "indication", "control_request", "error_indication"} <= shared
    for name in shared:
        assert e2[name].number == xapp[name].number, name
        assert e2[name].message_type == xapp[name].message_type, name
    e2_numbers = {f.number: n for n, f in e2.items()}
    clashes = [n for n, f in xapp.items() if f.number in e2_numbers and e2_numbers[f.number] != n]
    assert not clashes, f"same number, different procedure: {clashes}"
