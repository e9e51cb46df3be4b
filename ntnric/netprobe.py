"""What the machine itself allows: a bare ZeroMQ round trip between two Python processes.

`ntnric bench latency` reports it beside the decision latency, so a reader can tell the cost of
the control loop (four process hops plus the work) from the cost of the host (process wake-ups,
ZeroMQ's I/O threads).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import zmq

from e2_sim.kpi import percentile_summary


def _recv(sock: zmq.Socket[bytes], busy_poll: bool) -> list[bytes]:
    if not busy_poll:
        return sock.recv_multipart()
    while True:
        try:
            return sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            os.sched_yield()


def _echo(address: str, busy_poll: bool) -> None:
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    while True:
        frames = _recv(sock, busy_poll)
        sock.send_multipart(frames)
        if frames[-1] == b"stop":
            break
    sock.close(0)
    context.term()


def zmq_round_trip_us(round_trips: int = 2000, payload_bytes: int = 1024, busy_poll: bool = True,
                      gap_s: float = 0.0005) -> dict[str, float]:
    """Percentiles of a DEALER → ROUTER → DEALER round trip over loopback TCP [µs].

    One message in flight at a time, ``gap_s`` apart (like one decision per slot), after 100
    round trips of warm-up.
    """
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    port = dealer.bind_to_random_port("tcp://127.0.0.1")
    echo = mp.get_context("spawn").Process(target=_echo, args=(f"tcp://127.0.0.1:{port}", busy_poll), daemon=True)
    echo.start()
    payload = b"x" * payload_bytes
    samples = np.empty(round_trips, dtype=np.int64)
    try:
        for i in range(-100, round_trips):
            t0 = time.perf_counter_ns()
            dealer.send(payload)
            _recv(dealer, busy_poll)
            if i >= 0:
                samples[i] = time.perf_counter_ns() - t0
            time.sleep(gap_s)
        dealer.send(b"stop")
        _recv(dealer, busy_poll)
    finally:
        echo.join(timeout=5)
        if echo.is_alive():
            echo.kill()
        dealer.close(0)
        context.term()
    return percentile_summary(samples / 1e3)
