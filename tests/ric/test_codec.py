"""SLOT service-model codec: round trips, strictness, stacking."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric.protocol import codec
from ric.protocol.gen import e2sm_pb2
from ric.protocol.sm import NodeControl
from tests.ric.ricpeers import make_controls, make_reports, make_spec

SPEC = make_spec()


def test_node_report_round_trip_is_exact() -> None:
    reports = make_reports(SPEC, slot=12)
    reports.extra["eligible"] = np.ones((1, 19, 3, 3), dtype=bool)
    report = reports.node(4)
    data = codec.encode_report(report).SerializeToString()
    back = codec.decode_report(data, codec.Layout.of_report(report))
    assert (back.node_id, back.slot) == (4, 12)
    for name in ("gain", "queue_bits", "queue_packets", "interference_w", "spectral_efficiency_bps_hz",
                 "active", "user_pos_m", "node_pos_m"):
        got, want = getattr(back, name), getattr(report, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(back.extra["eligible"], report.extra["eligible"])
    assert not back.gain.flags.writeable  # views of the message buffer


def test_stacked_reports_round_trip_subset_of_nodes() -> None:
    reports = make_reports(SPEC, slot=3)
    msg = codec.encode_reports(reports, [7, 2, 11])
    ids, back = codec.decode_reports(msg.SerializeToString(), codec.Layout.of_reports(reports))
    assert ids == [7, 2, 11]
    assert back.gain.shape == (1, 3, 3, 3, 19) and back.slot == 3
    np.testing.assert_array_equal(back.gain[0], reports.gain[0, [7, 2, 11]])
    np.testing.assert_array_equal(back.node_pos_m[0], reports.node_pos_m[0, [7, 2, 11]])


def test_controls_round_trip_and_node_control() -> None:
    controls = make_controls(SPEC, seed=1)
    controls.move_m[0, 5] = [10.0, -10.0, 0.0]
    msg = codec.encode_controls(controls, slot=9)
    ids, back = codec.decode_controls(msg.SerializeToString(), codec.control_layout(3))
    assert ids == list(range(19))
    for name in ("user", "power_w", "mask", "move_m"):
        np.testing.assert_array_equal(getattr(back, name), getattr(controls, name))
    assert back.user.dtype == np.int16 and back.mask.dtype == bool
    one = controls.node(5, slot=9)
    node = codec.decode_control(codec.encode_control(one).SerializeToString(), codec.control_layout(3))
    assert (node.node_id, node.slot) == (5, 9)
    np.testing.assert_array_equal(node.move_m, [10.0, -10.0, 0.0])


def test_encoding_casts_within_kind_and_refuses_across_kinds() -> None:
    control = NodeControl(node_id=0, slot=1, user=np.array([0, 1, -1]), power_w=np.array([0.1, 0.2, 0.3]),
                          mask=np.ones(3, bool), move_m=np.zeros(3))
    back = codec.decode_control(codec.encode_control(control, codec.control_layout(3)))
    assert back.user.dtype == np.int16 and back.power_w.dtype == np.float32
    np.testing.assert_allclose(back.power_w, [0.1, 0.2, 0.3], rtol=1e-6)
    control.user = np.array([0.0, 1.0, 2.0])
    with pytest.raises(codec.ShapeError, match="'user' has dtype float64, expected int16"):
        codec.encode_control(control, codec.control_layout(3))


def test_strict_decoding_errors() -> None:
    reports = make_reports(SPEC, slot=0)
    layout = codec.Layout.of_reports(reports)
    msg = codec.encode_report(reports.node(0), layout)
    with pytest.raises(codec.CodecError, match="not a SlotReport"):
        codec.decode_report(b"\xff\xff\xff")
    short = e2sm_pb2.SlotReport()
    short.CopyFrom(msg)
    short.data = msg.data[:-8]
    with pytest.raises(codec.ShapeError, match="data holds"):
        codec.decode_report(short)
    other = codec.Layout.of_reports(make_reports(make_spec(n_resources=4), slot=0))
    with pytest.raises(codec.ShapeError, match="'gain' has shape"):
        codec.decode_report(msg, other)
    bad_bool = e2sm_pb2.SlotReport()
    bad_bool.CopyFrom(msg)
    offset = layout.specs[layout.names.index("active")].offset
    raw = bytearray(msg.data)
    raw[offset] = 7
    bad_bool.data = bytes(raw)
    with pytest.raises(codec.CodecError, match="bool array 'active'"):
        codec.decode_report(bad_bool)
    unknown = e2sm_pb2.ArrayLayout()
    unknown.arrays.add(name="gain", shape=[1]).dtype = 99  # type: ignore[assignment]
    with pytest.raises(codec.CodecError, match="unknown dtype"):
        codec.Layout.from_bytes(unknown.SerializeToString())
    wrong_order = e2sm_pb2.SlotReport(node_ids=[0], layout=codec.control_layout(3).layout_bytes,
                                      data=bytes(codec.control_layout(3).data_nbytes))
    with pytest.raises(codec.ShapeError, match="report arrays are"):
        codec.decode_report(wrong_order)
    stacked = codec.encode_reports(reports, [0, 1])
    with pytest.raises(codec.ShapeError, match="decode_reports"):
        codec.decode_report(stacked)


def test_check_control_fast_and_slow_paths() -> None:
    layout = codec.control_layout(3)
    msg = codec.encode_controls(make_controls(SPEC), slot=1)
    assert codec.check_control(msg, layout) is layout
    msg.data = msg.data + bytes(8)
    with pytest.raises(codec.ShapeError, match="19 node"):
        codec.check_control(msg, layout)
    wide = codec.encode_controls(make_controls(make_spec(n_resources=5)), slot=1)
    with pytest.raises(codec.ShapeError, match="'user' has shape"):
        codec.check_control(wide, layout)


def test_select_nodes_keeps_rows_and_ids() -> None:
    controls = make_controls(SPEC, seed=4)
    msg = codec.encode_controls(controls, slot=2)
    out = e2sm_pb2.SlotControl()
    codec.select_nodes(msg, codec.control_layout(3), [3, 17], out)
    ids, back = codec.decode_controls(out, codec.control_layout(3))
    assert ids == [3, 17] and back.user.shape == (1, 2, 3)
    np.testing.assert_array_equal(back.user[0], controls.user[0, [3, 17]])


def test_ran_function_announces_layouts() -> None:
    reports = make_reports(SPEC, slot=0)
    fn = codec.ran_function(SPEC, SPEC.nodes[2], codec.Layout.of_reports(reports))
    report, control = codec.function_layouts(fn)
    assert report == codec.Layout.of_reports(reports) and control == codec.control_layout(3)
    assert fn.definition.n_transmitters == 19 and fn.definition.kind == "gnb"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    layout = codec.control_layout(3)
    for decode in (codec.decode_report, codec.decode_control):
        with contextlib.suppress(codec.CodecError):
            decode(data)
    with contextlib.suppress(codec.CodecError):
        codec.decode_controls(data, layout)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["user", "power_w", "mask", "move_m", "x"]), st.integers(0, 11),
                          st.lists(st.integers(0, 5), max_size=3)), max_size=6),
       st.binary(max_size=200), st.lists(st.integers(0, 30), max_size=4))
def test_random_layouts_are_refused_cleanly(arrays: list[tuple[str, int, list[int]]], data: bytes,
                                            node_ids: list[int]) -> None:
    layout = e2sm_pb2.ArrayLayout(arrays=[e2sm_pb2.ArrayDesc(name=n, dtype=d, shape=s)  # type: ignore[arg-type]
                                                 for n, d, s in arrays])
    msg = e2sm_pb2.SlotControl(node_ids=node_ids, slot=1, layout=layout.SerializeToString(), data=data)
    try:
        ids, controls = codec.decode_controls(msg)
    except codec.CodecError:
        return
    assert controls.user.shape[1] == len(ids)  # anything accepted is self-consistent
