"""Reading a request body whole, with a size cap.

``request.content.read(n)`` returns what has arrived so far (up to ``n`` bytes), not the whole
body: a body that crosses a slow or rate-limited path arrives in several segments and would be
cut short. `read_body` reads until the end of the body or ``limit + 1`` bytes, whichever comes
first, so the caller can both use the whole body and tell an oversized one (length > limit).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["read_body"]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body of ``request``, or its first ``limit + 1`` bytes when it is longer."""
    out = bytearray()
    while len(out) <= limit:
        chunk = await request.content.read(limit + 1 - len(out))
        if not chunk:  # end of the body
            break
        out += chunk
    return bytes(out)
