"""Small socket helpers shared by the relays: addresses, loopback checks, kernel receive times.

Kernel receive timestamps (Linux ``SO_TIMESTAMPNS``) tell when a datagram reached the socket,
not when the event loop got round to reading it. The relay schedules departures from that
instant, so a loop that reads late (busy, or descheduled on a shared machine) does not add its
lag to the profile's delay. The timestamp is on the realtime clock; `realtime_to_monotonic`
converts it to asyncio's monotonic loop clock.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
import time

from livelab.errors import ConfigError, Problem

__all__ = [
    "SO_TIMESTAMPNS",
    "check_loopback",
    "enable_rx_timestamps",
    "free_port",
    "is_loopback",
    "parse_hostport",
    "recv_with_timestamp",
]

SO_TIMESTAMPNS = 35  # Linux asm-generic value; Python 3.11 does not export it
_TS_SPACE = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("@qq")


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    """``"127.0.0.1:5000"`` → ``("127.0.0.1", 5000)``; raises `ConfigError` if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError([Problem("<command line>", what, text, "HOST:PORT, e.g. 127.0.0.1:5000")])
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now, for a child process to bind (it may be taken before the
    child binds it: use port 0 wherever the listener can report its own port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_loopback(host: str, what: str, allow_remote: bool) -> None:
    """Refuse a non-loopback address unless ``allow_remote`` (raises `ConfigError`, exit 2)."""
    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            [
                Problem(
                    "<command line>",
                    what,
                    host,
                    "a loopback address (127.0.0.1), or pass --allow-remote",
                )
            ]
        )


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel for receive timestamps on ``sock``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def realtime_offset() -> float:
    """realtime − monotonic (s), to map kernel timestamps onto the loop clock."""
    return time.time() - time.monotonic()


def recv_with_timestamp(
    sock: socket.socket, bufsize: int, offset: float
) -> tuple[bytes, tuple[str, int], float | None]:
    """One datagram, its sender, and its kernel arrival time on the monotonic clock (s), or None.

    Raises BlockingIOError when nothing is waiting (non-blocking sockets).
    """
    data, ancdata, _flags, addr = sock.recvmsg(bufsize, _TS_SPACE)
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            return data, addr, sec + nsec * 1e-9 - offset
    return data, addr, None
