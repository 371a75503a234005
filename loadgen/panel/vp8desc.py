"""The VP8 RTP payload descriptor (RFC 7741 §4.2) read without decoding anything.

Lite viewers assemble frames from packets and must know, per packet, whether it starts a frame
and whether that frame is a keyframe; probe viewers also need where the VP8 data begins. Reading
those few bits here avoids aiortc's `depayload` (which copies the payload) on the hot path.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Vp8Desc", "parse_vp8_descriptor"]


class Vp8Desc(NamedTuple):
    """What one packet's descriptor says.

    ``start``: the packet begins a frame (S bit set and partition index 0);
    ``keyframe``: it begins a frame and that frame is a keyframe (P bit of the VP8 payload header
    is 0, RFC 6386 §9.1); ``offset``: bytes of descriptor before the VP8 data.
    """

    start: bool
    keyframe: bool
    offset: int


def parse_vp8_descriptor(payload: bytes) -> Vp8Desc | None:
    """Read the descriptor at the head of a VP8 RTP payload; None if it is truncated."""
    n = len(payload)
    if n < 1:
        return None
    b0 = payload[0]
    pos = 1
    if b0 & 0x80:  # X: extension byte follows
        if n < 2:
            return None
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if n <= pos:
                return None
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
    if pos > n:
        return None
    start = bool(b0 & 0x10) and (b0 & 0x07) == 0
    keyframe = start and pos < n and (payload[pos] & 0x01) == 0
    return Vp8Desc(start, keyframe, pos)
