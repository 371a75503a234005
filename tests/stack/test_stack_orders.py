"""Orders: idempotency, ownership, and durability across `kill -9` of a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from stack.testing import running_stack, start_stack_process, stop_stack_process

ROOM = "demo"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


async def token_for(session: aiohttp.ClientSession, base: str, viewer: str) -> str:
    async with session.post(
        f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": viewer, "market": "SA"}
    ) as resp:
        return str((await resp.json())["token"])


def test_idempotency_key_replays_and_conflicts(prom_samples) -> None:
    async def main() -> None:
        async with running_stack(host="none") as base, aiohttp.ClientSession() as session:
            token = await token_for(session, base, "v1")
            url = f"{base}/api/rooms/{ROOM}/orders"
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-1"}
            body = {"sku": "abaya-12", "qty": 2, "price_cents": 15900}
            async with session.post(url, json=body, headers=headers) as resp:
                assert resp.status == 201
                first = await resp.json()
            async with session.post(url, json=body, headers=headers) as resp:
                assert resp.status == 200
                assert await resp.json() == first
            async with session.post(url, json={**body, "qty": 3}, headers=headers) as resp:
                assert resp.status == 422
                assert (await resp.json())["error"]["code"] == "idempotency_conflict"
            async with session.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == 400
                assert (await r.json())["error"]["code"] == "missing_idempotency_key"
            auth = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{url}/{first['order_id']}", headers=auth) as resp:
                assert resp.status == 200 and (await resp.json()) == first
            other = {"Authorization": f"Bearer {await token_for(session, base, 'v2')}"}
            async with session.get(f"{url}/{first['order_id']}", headers=other) as resp:
                assert resp.status == 404  # another viewer cannot read it
            async with session.post(
                url, json={"qty": 1}, headers={**other, "Idempotency-Key": "x"}
            ) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "missing_field"
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
            got = prom_samples(text)
            assert got[("livelab_stack_orders_total", ())] == 1
            assert got[("livelab_stack_order_replays_total", ())] == 1

    run(main())


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_kill_9_loses_no_acknowledged_order(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    args = ["--publisher", "none", "--db", db, "--secret", "test-secret-0123456789abcdef"]
    proc, base = start_stack_process(args, timeout_s=30)
    acked: dict[str, str] = {}
    try:
        _, joined = _post(f"{base}/api/rooms/{ROOM}/join", {"viewer_id": "v1", "market": "ID"}, {})
        auth = {"Authorization": f"Bearer {joined['token']}"}
        for i in range(40):
            status, order = _post(
                f"{base}/api/rooms/{ROOM}/orders",
                {"sku": f"sku-{i}", "qty": 1, "price_cents": 100 + i},
                {**auth, "Idempotency-Key": f"k{i}"},
            )
            assert status == 201
            acked[f"k{i}"] = order["order_id"]
        # No goodbye: the process dies the instant after the last acknowledgement.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_stack_process(proc)  # reaps it and removes its log folder

    proc, base = start_stack_process(args, timeout_s=30)
    try:
        for i, (key, order_id) in enumerate(acked.items()):
            status, order = _get(f"{base}/api/rooms/{ROOM}/orders/{order_id}", auth)
            assert status == 200 and order["sku"] == f"sku-{i}"
            # Replaying the same key after the crash returns the same order, not a new one.
            status, again = _post(
                f"{base}/api/rooms/{ROOM}/orders",
                {"sku": f"sku-{i}", "qty": 1, "price_cents": 100 + i},
                {**auth, "Idempotency-Key": key},
            )
            assert (status, again["order_id"]) == (200, order_id)
    finally:
        assert stop_stack_process(proc) == 0
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 40
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
