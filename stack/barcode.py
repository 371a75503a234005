"""A block barcode carrying the capture wall-clock time on every video frame.

The synthetic host draws the time a frame was captured (ms since the Unix epoch) into the top
band of the picture; any viewer that decodes the video reads it back and subtracts it from its
own clock to get glass-to-glass latency. Blocks are big (16×16 px at 640 px width, aligned to
VP8's 16×16 macroblocks) and pure black/white, so the code survives VP8 at ~300 kbit/s.

Layout (documented for other clients in docs/protocol.md, "Barcode"):

* block size ``b = width // 40`` px (16 at 640×360); the band is 40 blocks wide and 2 blocks
  tall, anchored at the top-left pixel; 80 blocks are read row by row, left to right;
* bit 1 = white (luma 235), bit 0 = black (luma 16); chroma is neutral (128) in the band;
* bits 0–7: start marker ``0xB2``; bits 8–55: the timestamp, 48 bits, most significant bit first;
  bits 56–71: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of the 6 timestamp bytes (big endian);
  bits 72–79: stop marker ``0x4D``.

A reader samples the centre half of each block, thresholds at the midpoint between the mean
white and mean black marker blocks, and rejects the frame when the markers or the CRC do not
match.

A frame may carry more than one code, stacked in *bands*: band ``k`` is the same 40×2-block code
starting at block row ``2k`` (pixel row ``2k·b``). The synthetic host uses band 0 only; a co-host
guest puts its own capture time in band 0 and echoes the newest host stamp it has seen in
band 1 (the conversational round trip, docs/protocol.md "Co-host").
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import av

__all__ = ["BITS", "BLOCKS_PER_ROW", "ROWS", "block_size", "decode", "encode"]

BLOCKS_PER_ROW = 40
ROWS = 2
BITS = BLOCKS_PER_ROW * ROWS
START_MARKER = 0xB2
STOP_MARKER = 0x4D
TS_BITS = 48
LUMA_WHITE = 235
LUMA_BLACK = 16
# Markers must differ by at least this much luma (0–255) for a frame to count as readable; a
# uniform or washed-out band would otherwise threshold into noise.
MIN_CONTRAST = 40
MIN_BLOCK_PX = 4


def block_size(width: int) -> int:
    """Block edge in pixels for a frame `width` pixels wide (16 at 640)."""
    return width // BLOCKS_PER_ROW


def _byte_bits(value: int) -> list[int]:
    return [(value >> (7 - i)) & 1 for i in range(8)]


def _bits_for(ts_ms: int) -> np.ndarray:
    raw = ts_ms.to_bytes(6, "big")
    crc = binascii.crc_hqx(raw, 0xFFFF)
    bits = _byte_bits(START_MARKER)
    bits += [(ts_ms >> (TS_BITS - 1 - i)) & 1 for i in range(TS_BITS)]
    bits += [(crc >> (15 - i)) & 1 for i in range(16)]
    bits += _byte_bits(STOP_MARKER)
    return np.array(bits, dtype=np.uint8).reshape(ROWS, BLOCKS_PER_ROW)


def _block_image(ts_ms: int, b: int, one: int, zero: int) -> np.ndarray:
    bits = _bits_for(ts_ms)
    img = np.where(bits == 1, one, zero).astype(np.uint8)
    return np.kron(img, np.ones((b, b), dtype=np.uint8))


def encode(frame: np.ndarray | Sequence[np.ndarray], ts_ms: int, band: int = 0) -> None:
    """Draw `ts_ms` (ms since the epoch, 0 ≤ ts_ms < 2**48) into `frame` in place, in `band`
    (0 = the top two block rows, 1 = the next two, …).

    `frame` is either an (H, W, 3) uint8 RGB/BGR array, a 2-D luma plane (or a packed yuv420p
    array of H*3/2 rows, as `av.VideoFrame.to_ndarray()` returns), or a sequence of the three
    yuv420p planes (Y, U, V). Raises ValueError when the frame is too small (width < 160 px) or
    `ts_ms` is out of range.
    """
    if not 0 <= ts_ms < (1 << TS_BITS):
        raise ValueError(f"ts_ms={ts_ms} is outside 0..2**48-1")
    if isinstance(frame, np.ndarray):
        planes: list[np.ndarray] = [frame]
    else:
        planes = list(frame)
        if len(planes) != 3:
            raise ValueError(f"expected 3 yuv420p planes, got {len(planes)}")
    first = planes[0]
    width = first.shape[1]
    b = block_size(width)
    if band < 0:
        raise ValueError(f"band={band}: use 0, 1, …")
    top = band * ROWS * b
    if b < MIN_BLOCK_PX or first.shape[0] < top + ROWS * b:
        raise ValueError(f"frame {first.shape} too small for a barcode in band {band}")
    band_h, band_w = ROWS * b, BLOCKS_PER_ROW * b
    if first.ndim == 3:
        first[top : top + band_h, :band_w, :] = _block_image(ts_ms, b, 255, 0)[:, :, None]
        return
    first[top : top + band_h, :band_w] = _block_image(ts_ms, b, LUMA_WHITE, LUMA_BLACK)
    for chroma in planes[1:]:
        # Chroma planes are half size in both directions for yuv420p.
        chroma[top // 2 : (top + band_h + 1) // 2, : (band_w + 1) // 2] = 128


def _luma(frame: Any) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        if frame.ndim == 3:
            # Plain channel mean: enough for a black/white code, whatever the channel order.
            return np.asarray(frame[:, :, :3].mean(axis=2), dtype=np.float32)
        return frame
    # An av.VideoFrame: read its luma plane without converting the whole picture.
    if frame.format.name in ("yuv420p", "yuvj420p", "gray", "nv12"):
        plane = frame.planes[0]
        buf = np.frombuffer(plane, dtype=np.uint8)
        return buf.reshape(plane.height, plane.line_size)[:, : plane.width]
    gray: np.ndarray = frame.to_ndarray(format="gray")
    return gray


def decode(frame: av.VideoFrame | np.ndarray, band: int = 0) -> int | None:
    """Read the timestamp (ms since the epoch) in `band` of `frame`, or None if unreadable.

    Accepts an `av.VideoFrame` (any pixel format; yuv420p is read without conversion) or the
    arrays `encode` accepts. Returns None when the band is missing, too low in contrast, or the
    markers or CRC do not match — never raises for a bad picture.
    """
    luma = _luma(frame)
    if luma.ndim != 2:
        return None
    b = block_size(luma.shape[1])
    top = band * ROWS * b
    if b < MIN_BLOCK_PX or band < 0 or luma.shape[0] < top + ROWS * b:
        return None
    pixels = luma[top : top + ROWS * b, : BLOCKS_PER_ROW * b].astype(np.float32)
    # Sample the centre half of each block: edges bleed under lossy coding.
    q = b // 4
    blocks = pixels.reshape(ROWS, b, BLOCKS_PER_ROW, b)[:, q : b - q, :, q : b - q]
    means = blocks.mean(axis=(1, 3)).reshape(-1)
    marker_bits = np.array(_byte_bits(START_MARKER) + _byte_bits(STOP_MARKER))
    marker_means = np.concatenate([means[:8], means[-8:]])
    white = marker_means[marker_bits == 1].mean()
    black = marker_means[marker_bits == 0].mean()
    if white - black < MIN_CONTRAST:
        return None
    bits = (means > (white + black) / 2).astype(np.uint8)
    if not np.array_equal(np.concatenate([bits[:8], bits[-8:]]), marker_bits):
        return None
    ts = 0
    for bit in bits[8 : 8 + TS_BITS]:
        ts = (ts << 1) | int(bit)
    crc = 0
    for bit in bits[8 + TS_BITS : 8 + TS_BITS + 16]:
        crc = (crc << 1) | int(bit)
    if binascii.crc_hqx(ts.to_bytes(6, "big"), 0xFFFF) != crc:
        return None
    return ts
