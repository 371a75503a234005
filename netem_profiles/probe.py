"""Measuring a relay from outside: a relay in its own process and a paced multi-flow UDP
sender/receiver (used by the accuracy tests and the benchmark).

The sender stamps each datagram with (flow, seq, send time on the monotonic clock); the receiver
takes the kernel's receive timestamp, so neither the test's event loop nor the relay's can add
its own lag to the measured delay.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from netem_profiles.netio import enable_rx_timestamps, realtime_offset, recv_with_timestamp
from netem_profiles.timing import new_event_loop

HEADER = struct.Struct("!IIq")  # flow, seq, send time (ns, monotonic)


class RelayProcess:
    """`livelab netem udp-relay|tcp-relay` in a subprocess; `stats()` stops it and parses the
    final stats line."""

    def __init__(
        self,
        kind: str,
        profile: str,
        target: tuple[str, int],
        seed: int = 1,
        extra: tuple[str, ...] = (),
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "livelab",
            "netem",
            kind,
            "--profile",
            profile,
            "--listen",
            "127.0.0.1:0",
            "--to",
            f"{target[0]}:{target[1]}",
            "--seed",
            str(seed),
            *extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        stdout = self.proc.stdout
        if stdout is None:
            raise RuntimeError("no pipe to the relay")
        ready, _, _ = select.select([stdout], [], [], 30.0)
        line = stdout.readline() if ready else ""
        if "listening on" not in line:
            self.kill()
            raise RuntimeError(f"relay did not start: {line!r}")
        hostport = line.split("listening on ", 1)[1].split()[0]
        host, port = hostport.rsplit(":", 1)
        self.address = (host, int(port))

    @property
    def pid(self) -> int:
        """The relay's process id."""
        return self.proc.pid

    def stats(self) -> dict[str, Any]:
        """Stop the relay (SIGTERM) and return its final stats."""
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        lines = [ln for ln in out.splitlines() if ln.startswith("stats ")]
        if not lines:
            raise RuntimeError(f"no stats from relay: {out!r} {err!r}")
        result: dict[str, Any] = json.loads(lines[-1][len("stats ") :])
        return result

    def kill(self) -> None:
        """Kill the relay if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


@dataclass
class Trace:
    """What was sent and received: per flow, seq → send time and seq → receive time (s)."""

    sent: dict[int, dict[int, float]] = field(default_factory=dict)
    received: dict[int, dict[int, float]] = field(default_factory=dict)
    duplicates: int = 0

    def delays_ms(self) -> list[float]:
        """One-way delay of every received datagram (ms)."""
        out: list[float] = []
        for flow, got in self.received.items():
            sent = self.sent[flow]
            out += [(t - sent[seq]) * 1e3 for seq, t in got.items()]
        return out

    @property
    def n_sent(self) -> int:
        """Datagrams sent."""
        return sum(len(s) for s in self.sent.values())

    @property
    def n_received(self) -> int:
        """Distinct datagrams received."""
        return sum(len(r) for r in self.received.values())

    def loss_runs(self) -> list[int]:
        """Lengths of runs of consecutive missing sequence numbers, per flow."""
        runs: list[int] = []
        for flow, sent in self.sent.items():
            got = self.received.get(flow, {})
            current = 0
            for seq in sorted(sent):
                if seq not in got:
                    current += 1
                elif current:
                    runs.append(current)
                    current = 0
            if current:
                runs.append(current)
        return runs


def udp_receiver() -> socket.socket:
    """A non-blocking UDP socket on 127.0.0.1 with kernel receive timestamps."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    enable_rx_timestamps(sock)
    return sock


def run_traffic(
    receiver: socket.socket,
    relay: tuple[str, int],
    *,
    flows: int,
    packets: int,
    rate_pps: float,
    size: int = 200,
    linger_s: float = 1.0,
) -> Trace:
    """Send ``packets`` datagrams (round robin over ``flows`` client sockets) at ``rate_pps`` in
    total through ``relay`` to ``receiver``; wait ``linger_s`` after the last for stragglers."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(
            _traffic(receiver, relay, flows, packets, rate_pps, size, linger_s)
        )
    finally:
        loop.close()


async def _traffic(
    receiver: socket.socket,
    relay: tuple[str, int],
    flows: int,
    packets: int,
    rate_pps: float,
    size: int,
    linger_s: float,
) -> Trace:
    loop = asyncio.get_running_loop()
    trace = Trace(sent={f: {} for f in range(flows)})
    pad = b"\0" * max(0, size - HEADER.size)

    def on_receive() -> None:
        offset = realtime_offset()
        while True:
            try:
                data, _addr, kernel = recv_with_timestamp(receiver, 65535, offset)
            except BlockingIOError:
                return
            flow, seq, _sent_ns = HEADER.unpack_from(data)
            got = trace.received.setdefault(flow, {})
            if seq in got:
                trace.duplicates += 1
            else:
                got[seq] = kernel if kernel is not None else time.monotonic()

    loop.add_reader(receiver.fileno(), on_receive)
    socks = []
    for _ in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        s.connect(relay)
        s.setblocking(False)
        socks.append(s)
    try:
        start = loop.time() + 0.05
        interval = 1.0 / rate_pps
        for i in range(packets):
            due = start + i * interval
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            flow, seq = i % flows, i // flows
            now = time.monotonic()
            socks[flow].send(HEADER.pack(flow, seq, int(now * 1e9)) + pad)
            trace.sent[flow][seq] = now
        await asyncio.sleep(linger_s)
    finally:
        loop.remove_reader(receiver.fileno())
        for s in socks:
            s.close()
    return trace
