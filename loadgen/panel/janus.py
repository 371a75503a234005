"""Viewing a Janus Streaming mountpoint through Janus's plain-HTTP API (janus.plugin.streaming).

A media target ``janus+http://H:P/janus?mountpoint=ID`` (or ``janus+https://…``) names the Janus
HTTP endpoint and the mountpoint. One viewer's session (Janus HTTP API and Streaming plugin
docs, janus-gateway ``src/transports/janus_http.c`` and ``src/plugins/janus_streaming.c``):

1. ``POST /janus {"janus": "create"}`` → session id; ``POST /janus/S {"janus": "attach",
   "plugin": "janus.plugin.streaming"}`` → handle id;
2. ``POST /janus/S/H {"janus": "message", "body": {"request": "watch", "id": ID}}`` → ``ack``;
   the plugin's answer is an *event* carrying Janus's JSEP **offer**, read by long-polling
   ``GET /janus/S?maxev=1``;
3. the viewer answers: ``{"request": "start"}`` with JSEP ``{"type": "answer", "sdp": …,
   "trickle": false}`` (all candidates are in the SDP: without ``trickle: false`` Janus waits
   for trickled candidates that never come);
4. ``{"janus": "keepalive"}`` every `KEEPALIVE_S` s (Janus drops a session idle for its
   ``session_timeout``, 60 s by default);
5. leaving: ``hangup``, ``detach``, then ``destroy`` of the session.

Any ``{"janus": "error"}`` reply, or a plugin event with ``"error"``, raises `JanusError` with
Janus's code and reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

__all__ = ["KEEPALIVE_S", "SCHEMES", "JanusError", "JanusStreamingSession", "JanusTarget"]

SCHEMES = ("janus+http", "janus+https")
log = logging.getLogger(__name__)

# Well inside Janus's default 60 s session_timeout, and rare enough to cost nothing.
KEEPALIVE_S = 25.0
# Janus answers a long poll after 30 s with a keepalive if nothing happened; ask for less.
POLL_S = 10.0


class JanusError(RuntimeError):
    """Janus refused a request (its error code and reason in the message)."""


@dataclass(frozen=True)
class JanusTarget:
    """``api_url``: the HTTP endpoint (``http://H:P/janus``); ``mountpoint``: the Streaming
    mountpoint id (an int, or a string for ``string_ids`` deployments)."""

    api_url: str
    mountpoint: int | str

    @staticmethod
    def is_janus(url: str) -> bool:
        return urlsplit(url).scheme in SCHEMES

    @classmethod
    def parse(cls, url: str) -> JanusTarget:
        """``janus+http://H:P/janus?mountpoint=1`` → (``http://H:P/janus``, 1); ValueError if
        the scheme is not janus+http(s) or the mountpoint is missing."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"not a janus+http(s)://HOST:PORT/PATH?mountpoint=ID URL: {url}")
        values = parse_qs(parts.query).get("mountpoint", [])
        if len(values) != 1 or not values[0]:
            raise ValueError(f"{url}: needs exactly one ?mountpoint=ID")
        raw = values[0]
        mountpoint: int | str = int(raw) if raw.isdigit() else raw
        scheme = parts.scheme.removeprefix("janus+")
        api = urlunsplit((scheme, parts.netloc, parts.path or "/janus", "", ""))
        return cls(api_url=api.rstrip("/"), mountpoint=mountpoint)


class JanusStreamingSession:
    """One viewer's Janus session and Streaming handle, over aiohttp ``session``."""

    def __init__(self, target: JanusTarget, http: Any) -> None:
        self.target = target
        self._http = http
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self._keepalive: asyncio.Task[None] | None = None

    # --- requests ---------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        async with self._http.post(f"{self.target.api_url}{path}", json=body) as resp:
            if resp.status != 200:
                text = await resp.text()
                raise JanusError(f"{self.target.api_url}{path}: HTTP {resp.status} {text[:200]}")
            reply: dict[str, Any] = await resp.json(content_type=None)
        _raise_for_error(reply, body["janus"])
        return reply

    async def _handle_message(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> None:
        msg: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            msg["jsep"] = jsep
        await self._post(f"/{self.session_id}/{self.handle_id}", msg)

    async def _next_event(self, timeout_s: float, want_jsep: bool) -> dict[str, Any]:
        """Long-poll until a plugin event for our handle (with a JSEP if `want_jsep`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := deadline - loop.time()) > 0:
            url = f"{self.target.api_url}/{self.session_id}?maxev=1"
            async with asyncio.timeout(min(left, POLL_S + 5)):
                async with self._http.get(url) as resp:
                    reply = await resp.json(content_type=None)
            events = reply if isinstance(reply, list) else [reply]
            for event in events:
                if event.get("sender") not in (None, self.handle_id):
                    continue
                _raise_for_error(event, "event")
                if event.get("janus") == "event" and (not want_jsep or "jsep" in event):
                    return dict(event)
        raise TimeoutError(f"Janus sent no streaming event within {timeout_s:g} s")

    # --- the viewer's life ------------------------------------------------------------------

    async def watch(self, timeout_s: float = 10.0) -> str:
        """Create the session, attach the plugin, ask to watch; returns Janus's offer SDP."""
        created = await self._post("", {"janus": "create"})
        self.session_id = int(created["data"]["id"])
        attached = await self._post(
            f"/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.streaming"}
        )
        self.handle_id = int(attached["data"]["id"])
        self._keepalive = asyncio.ensure_future(self._keep_alive())
        await self._handle_message({"request": "watch", "id": self.target.mountpoint})
        event = await self._next_event(timeout_s, want_jsep=True)
        jsep = event["jsep"]
        if jsep.get("type") != "offer":
            raise JanusError(f"Janus sent a JSEP {jsep.get('type')!r}, expected an offer")
        return str(jsep["sdp"])

    async def start(self, answer_sdp: str) -> None:
        """Send the viewer's answer (every candidate in it: ``trickle: false``)."""
        jsep = {"type": "answer", "sdp": answer_sdp, "trickle": False}
        await self._handle_message({"request": "start"}, jsep)

    async def close(self) -> None:
        """Hang up, detach and destroy; best effort (the session times out anyway)."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self.session_id is None:
            return
        steps: list[tuple[str, dict[str, Any]]] = []
        if self.handle_id is not None:
            handle = f"/{self.session_id}/{self.handle_id}"
            steps += [(handle, {"janus": "hangup"}), (handle, {"janus": "detach"})]
        steps.append((f"/{self.session_id}", {"janus": "destroy"}))
        for path, body in steps:
            with contextlib.suppress(JanusError, OSError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._post(path, body)
        self.session_id = self.handle_id = None

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                await self._post(f"/{self.session_id}", {"janus": "keepalive"})
            except (JanusError, OSError) as exc:
                # The media keeps flowing without the session for a while; the viewer's own
                # measurements show whether it stopped.
                log.warning("Janus keepalive failed: %s", exc)


def _raise_for_error(reply: dict[str, Any], what: str) -> None:
    if reply.get("janus") == "error":
        err = reply.get("error", {})
        raise JanusError(f"Janus {what}: error {err.get('code')}: {err.get('reason')}")
    data = reply.get("plugindata", {}).get("data", {})
    if "error" in data:
        raise JanusError(
            f"Janus streaming {what}: error {data.get('error_code')}: {data.get('error')}"
        )
