"""Join tokens: HMAC-SHA256-signed, scoped to one room and one viewer, with an expiry.

Format: ``base64url(json claims) + "." + base64url(hmac_sha256(secret, first part))`` with claims
``{"room", "viewer", "market", "exp"}`` (`exp` in seconds since the epoch). Anyone with the secret
can check a token; nobody without it can make one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Claims", "TokenError", "TokenSigner"]


@dataclass(frozen=True)
class Claims:
    room: str
    viewer: str
    market: str
    exp: float


class TokenError(Exception):
    """A token that does not admit its bearer: `status` 401 (no/bad/expired) or 403 (room)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks tokens; `clock_s` returns seconds since the epoch (injected for tests)."""

    def __init__(self, secret: bytes, clock_s: Callable[[], float]) -> None:
        if len(secret) < 16:
            raise ValueError("token secret must be at least 16 bytes")
        self._secret = secret
        self._clock_s = clock_s

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def issue(self, room: str, viewer: str, market: str, ttl_s: float) -> str:
        claims = {"room": room, "viewer": viewer, "market": market, "exp": self._clock_s() + ttl_s}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str | None, room: str) -> Claims:
        """Claims of a valid token for `room`; raises TokenError otherwise."""
        if not token:
            raise TokenError(401, "missing_token", "a join token is required")
        # A token we issued is base64url and "." only. Anything else is forged or garbled, and
        # must be refused before it reaches compare_digest (which raises TypeError on non-ASCII
        # str) or str.encode (which raises on the lone surrogates a header or query may decode to).
        if not token.isascii():
            raise TokenError(401, "invalid_token", "token is not ASCII")
        body, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise TokenError(401, "invalid_token", "token signature does not match")
        try:
            raw = json.loads(_unb64(body))
            claims = Claims(str(raw["room"]), str(raw["viewer"]), str(raw["market"]), raw["exp"])
            exp = float(claims.exp)
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(401, "invalid_token", "token claims unreadable") from exc
        if exp < self._clock_s():
            raise TokenError(401, "token_expired", "token expired; join again")
        if claims.room != room:
            raise TokenError(403, "wrong_room", f"token is for room {claims.room!r}")
        return claims
