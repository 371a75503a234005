"""Client → server WebSocket messages: parse and validate one text frame.

Every problem becomes a `ProtocolError` with a stable `code`; the handler turns it into an
`error {code, message, ref}` frame and keeps the connection open.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CLIENT_TYPES", "ProtocolError", "parse_client_message"]

# type -> {field: (python type, required, max length or max value)}
CLIENT_TYPES: dict[str, dict[str, tuple[type, bool, int]]] = {
    "chat": {"id": (str, True, 64), "text": (str, True, 500)},
    "like": {"count": (int, False, 100)},
    "vote": {"poll_id": (str, True, 64), "option": (str, True, 64)},
    "question": {"id": (str, True, 64), "text": (str, True, 500)},
    "share": {"channel": (str, True, 32)},
    "ping": {"id": (str, False, 64)},
    "cohost_request": {"id": (str, False, 64)},  # a raised hand: invite me on air (stack.cohost)
}


class ProtocolError(Exception):
    """A client frame the server will not act on. `ref` echoes the message's id if it had one."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def frame(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, "ref": self.ref}


def parse_client_message(text: str, max_bytes: int) -> dict[str, Any]:
    """The validated message (a dict with "type"), or raise ProtocolError."""
    if len(text.encode()) > max_bytes:
        raise ProtocolError("too_large", f"frame of {len(text.encode())} bytes > {max_bytes}")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    ref = msg.get("id") if isinstance(msg.get("id"), str) else None
    kind = msg.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:  # a list or dict is unhashable
        raise ProtocolError(
            "unknown_type", f"type {kind!r} is not one of {sorted(CLIENT_TYPES)}", ref
        )
    for name, (typ, required, limit) in CLIENT_TYPES[kind].items():
        if name not in msg:
            if required:
                raise ProtocolError("missing_field", f"{kind}.{name} is required", ref)
            continue
        value = msg[name]
        if kind == "vote" and name == "option" and isinstance(value, int):
            value = msg[name] = str(value)  # polls number their options; accept 1 or "1"
        if typ is int:
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
                raise ProtocolError("bad_field", f"{kind}.{name} must be an int in 1..{limit}", ref)
        elif not isinstance(value, str) or not 1 <= len(value) <= limit:
            raise ProtocolError("bad_field", f"{kind}.{name} must be a string of 1..{limit}", ref)
    return msg
