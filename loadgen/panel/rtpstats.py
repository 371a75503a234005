"""Per-stream RTP receive statistics (RFC 3550 §6.4.1, A.3 and A.8), time as a parameter.

One `StreamCounter` per media SSRC. Retransmissions arrive on their own RTX SSRC and are
counted apart (`rtx_packets`), so loss and jitter describe the media stream as the network
delivered it, not as NACKs repaired it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StreamCounter", "StreamSnapshot"]


@dataclass(frozen=True)
class StreamSnapshot:
    """Counts for one SSRC: packets received/expected/lost, bytes, jitter (ms)."""

    ssrc: int
    packets_received: int
    packets_expected: int
    packets_lost: int
    bytes_received: int
    jitter_ms: float

    @property
    def loss_fraction(self) -> float:
        """Lost / expected, in [0, 1]."""
        return self.packets_lost / self.packets_expected if self.packets_expected else 0.0


class StreamCounter:
    """Received, expected and lost packets and interarrival jitter of one SSRC.

    ``clock_hz`` is the RTP clock (90 000 for video).
    """

    def __init__(self, ssrc: int, clock_hz: int = 90_000) -> None:
        self.ssrc = ssrc
        self._hz_per_ms = clock_hz / 1000.0
        self.received = 0
        self.bytes = 0
        self._base: int | None = None
        self._max: int | None = None
        self._jitter = 0.0  # in RTP clock units
        self._last_transit: float | None = None

    def add(self, seq16: int, rtp_ts: int, arrival_ms: float, size: int) -> None:
        """Count one packet of ``size`` bytes that arrived at ``arrival_ms``."""
        self.received += 1
        self.bytes += size
        if self._max is None:
            self._base = self._max = seq16
        else:
            diff = (seq16 - self._max) & 0xFFFF  # signed 16-bit distance, wrap-safe
            if 0 < diff < 0x8000:
                self._max += diff
        # RFC 3550 A.8: J += (|D| - J) / 16 with D the change in transit time.
        transit = arrival_ms * self._hz_per_ms - rtp_ts
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            if d < 2**31:  # a timestamp wrap shows as a huge D: skip that one sample
                self._jitter += (d - self._jitter) / 16.0
        self._last_transit = transit

    def snapshot(self) -> StreamSnapshot:
        """The counts now (a copy; reading changes nothing)."""
        expected = 0 if self._max is None or self._base is None else self._max - self._base + 1
        return StreamSnapshot(
            ssrc=self.ssrc,
            packets_received=self.received,
            packets_expected=expected,
            packets_lost=max(0, expected - self.received),
            bytes_received=self.bytes,
            jitter_ms=self._jitter / self._hz_per_ms,
        )
