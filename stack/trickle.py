"""Trickle ICE by `PATCH` on a WHIP/WHEP session (`application/trickle-ice-sdpfrag`, RFC 8840).

The stack accepts a client's late candidates and does not do ICE restarts, which aiortc cannot
perform. So, as the WHIP rules for a session that supports one of the two ask:

* `PATCH` with `If-Match: "<etag>"` and candidates → `204` (no body, no ETag); each candidate is
  handed to the session's ICE agent, and one it cannot use (unknown transport, an unresolvable
  name) is silently discarded.
* `If-Match: *` (an ICE restart), or a fragment with another `ice-ufrag` than the session's →
  `422 ice_restart_unsupported`; the existing ICE session goes on.
* no `If-Match` → `428`; another entity tag → `412`; another content type → `415`; a fragment
  with no SDP lines → `400`.

The stack's own candidates are all in the answer (it gathers before answering), so it never
trickles towards the client.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiortc import RTCPeerConnection
from aiortc.sdp import candidate_from_sdp

from stack.httperr import ApiError

__all__ = ["TRICKLE_CONTENT_TYPE", "apply_trickle"]

log = logging.getLogger(__name__)

TRICKLE_CONTENT_TYPE = "application/trickle-ice-sdpfrag"
MAX_FRAG_BYTES = 16 * 1024
_UFRAG_RE = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


async def apply_trickle(request: web.Request, pc: RTCPeerConnection, etag: str) -> web.Response:
    """Check a PATCH against the session's `etag` and add its candidates to `pc`; 204."""
    if request.content_type != TRICKLE_CONTENT_TYPE:
        raise ApiError(
            415,
            "bad_content_type",
            f"Content-Type {request.content_type!r}: expected {TRICKLE_CONTENT_TYPE}",
        )
    if_match = request.headers.get("If-Match")
    if if_match is None:
        raise ApiError(428, "if_match_required", "PATCH needs If-Match with the session's ETag")
    if if_match.strip() == "*":
        raise _restart_unsupported()
    if if_match.strip() != etag:
        raise ApiError(412, "etag_mismatch", f"If-Match {if_match[:80]!r} is not this session")
    body = await request.content.read(MAX_FRAG_BYTES + 1)
    if len(body) > MAX_FRAG_BYTES:
        raise ApiError(413, "sdpfrag_too_large", f"fragment over {MAX_FRAG_BYTES} bytes")
    lines = [ln.strip() for ln in body.decode("utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not all(ln[:2] in ("a=", "m=") for ln in lines):
        raise ApiError(400, "invalid_sdpfrag", "body is not an SDP fragment of a= and m= lines")
    ufrag = _UFRAG_RE.search("\n".join(lines))
    current = _UFRAG_RE.search(pc.remoteDescription.sdp if pc.remoteDescription else "")
    if ufrag and current and ufrag.group(1) != current.group(1):
        raise _restart_unsupported()
    await _add_candidates(pc, lines)
    return web.Response(status=204)


async def _add_candidates(pc: RTCPeerConnection, lines: list[str]) -> None:
    transceivers = pc.getTransceivers()
    if not transceivers:
        return
    # BUNDLE: one ICE transport for every m-line, owned by the first transceiver.
    mid = transceivers[0].mid
    for line in lines:
        if line.startswith("a=candidate:"):
            try:
                candidate = candidate_from_sdp(line[len("a=candidate:") :])
            except (AssertionError, ValueError, IndexError) as exc:
                log.debug("discarding unreadable candidate %r: %s", line[:120], exc)
                continue
            candidate.sdpMid = mid
            try:
                await pc.addIceCandidate(candidate)
            except (ValueError, OSError) as exc:  # e.g. a name that does not resolve
                log.debug("discarding candidate %r: %s", line[:120], exc)
        elif line == "a=end-of-candidates":
            await pc.addIceCandidate(None)


def _restart_unsupported() -> ApiError:
    return ApiError(
        422,
        "ice_restart_unsupported",
        "this server supports trickle ICE but not ICE restarts; DELETE and POST a new offer",
    )
