"""Moving test pictures for the synthetic host: a drifting gradient, a bouncing box, a barcode.

Moving content keeps the VP8 encoder honest (a still picture costs nothing to code and hides
both CPU cost and compression damage to the barcode). Rendering works on the yuv420p planes
directly so that one 640×360 frame costs well under a millisecond.
"""

from __future__ import annotations

import numpy as np

from stack import barcode

__all__ = ["PictureSource"]


class PictureSource:
    """Renders frame `n` (0, 1, 2, …) as yuv420p planes with `ts_ms` in the barcode band.

    `width` and `height` are in pixels and must be even; `width` >= 160 for the barcode.
    """

    def __init__(self, width: int = 640, height: int = 360) -> None:
        if width % 2 or height % 2 or width < 160 or height < 32:
            raise ValueError(f"picture size {width}x{height}: need even sizes, width >= 160")
        self.width = width
        self.height = height
        x = np.arange(width, dtype=np.int32)
        y = np.arange(height, dtype=np.int32)
        self._ramp = (x[None, :] + y[:, None]).astype(np.int32)
        self._u = np.full((height // 2, width // 2), 128, dtype=np.uint8)
        self._v = np.full((height // 2, width // 2), 128, dtype=np.uint8)

    def render(self, n: int, ts_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Planes (Y, U, V) of frame `n`, with `ts_ms` (ms since epoch) in the barcode."""
        y = ((self._ramp + 4 * n) % 200 + 28).astype(np.uint8)
        u = self._u.copy()
        v = self._v.copy()
        # A box bouncing across the picture, coloured so chroma moves too.
        box = self.height // 4
        span_x, span_y = self.width - box, self.height - box
        bx = abs((7 * n) % (2 * span_x) - span_x)
        by = abs((5 * n) % (2 * span_y) - span_y)
        y[by : by + box, bx : bx + box] = 200 - (n % 50)
        u[by // 2 : (by + box) // 2, bx // 2 : (bx + box) // 2] = 90
        v[by // 2 : (by + box) // 2, bx // 2 : (bx + box) // 2] = 200
        barcode.encode((y, u, v), ts_ms)
        return y, u, v
