"""HTTP errors with a JSON body `{"error": {"code", "message"}}`, raised from any handler."""

from __future__ import annotations

import json

from aiohttp import web

__all__ = ["ApiError"]


class ApiError(web.HTTPException):
    """An HTTP error response with `status`, a stable machine `code` and a human `message`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        self.status_code = status
        self.code = code
        super().__init__(
            text=json.dumps({"error": {"code": code, "message": message}}),
            content_type="application/json",
            headers=headers,
        )
