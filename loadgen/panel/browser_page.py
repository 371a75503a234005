"""The page server of a panel process: the browser viewers' page, and their WHEP endpoint.

One aiohttp server on 127.0.0.1:0 per panel process serves

* ``GET /v/{index}`` — the viewer page (``browser_assets/viewer.html``); ``GET /assets/{file}``
  its scripts (``barcode.js``: the frame barcode reader and writer; ``rtc.js``: what the pages
  share: loopback-only offers, frame reading; ``viewer.js``: the WHEP join and counters);
* ``POST /v/{index}/whep`` — the page's WHEP offer, handed to that viewer's `BrowserPath`
  (same origin, so no CORS); ``DELETE /v/{index}/session`` — the end of its session.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from loadgen.panel.browser_path import BrowserPath, BrowserRefused

__all__ = ["ASSETS", "PageServer"]

ASSETS = Path(__file__).with_name("browser_assets")
_FILES = dict.fromkeys(("barcode.js", "rtc.js", "viewer.js"), "text/javascript")


class PageServer:
    """Serves the page and routes each viewer's WHEP calls to its registered `BrowserPath`."""

    def __init__(self) -> None:
        self.paths: dict[int, BrowserPath] = {}
        self._runner: web.AppRunner | None = None
        self._base = ""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if not self._base:
            raise RuntimeError("page server not started")
        return self._base

    def page_url(self, index: int) -> str:
        return f"{self.base_url}/v/{index}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v/{index}", self._page)
        app.router.add_get("/assets/{name}", self._asset)
        app.router.add_post("/v/{index}/whep", self._whep)
        app.router.add_delete("/v/{index}/session", self._delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        host, port = sockets[0].getsockname()[:2]
        self._base = f"http://{host}:{port}"
        return self._base

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _path(self, request: web.Request) -> BrowserPath:
        try:
            return self.paths[int(request.match_info["index"])]
        except (KeyError, ValueError):
            raise web.HTTPNotFound(text="no such viewer") from None

    async def _page(self, request: web.Request) -> web.Response:
        self._path(request)
        return web.Response(
            text=(ASSETS / "viewer.html").read_text(encoding="utf-8"), content_type="text/html"
        )

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _FILES:
            raise web.HTTPNotFound(text="no such asset")
        return web.Response(
            text=(ASSETS / name).read_text(encoding="utf-8"), content_type=_FILES[name]
        )

    async def _whep(self, request: web.Request) -> web.Response:
        path = self._path(request)
        try:
            status, body = await path.offer(await request.text())
        except BrowserRefused as exc:
            return web.Response(status=403, text=str(exc))
        except (aiohttp.ClientError, OSError) as exc:  # the target (or its relay) failed us
            path.error = f"WHEP POST to {path.whep_url} failed: {type(exc).__name__}: {exc}"
            return web.Response(status=502, text=path.error)
        headers = {"Location": f"/v/{request.match_info['index']}/session"} if status == 201 else {}
        return web.Response(
            status=status, text=body, content_type="application/sdp", headers=headers
        )

    async def _delete(self, request: web.Request) -> web.Response:
        try:
            status = await self._path(request).delete()
        except (aiohttp.ClientError, OSError) as exc:
            return web.Response(status=502, text=f"WHEP DELETE failed: {exc}")
        return web.Response(status=status or 404)
