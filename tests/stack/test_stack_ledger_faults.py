"""Ledger disk faults: a full disk and a read-only ledger answer orders `503
ledger_unavailable`, never `201`; reads and chat keep working; once the fault clears orders
succeed again and every acknowledged order is still in the ledger file.

The full disk is real: a 1 MiB tmpfs mounted by the test (root only; skipped otherwise) and
filled with a file, so SQLite itself reports SQLITE_FULL. The read-only ledger is the stack's
`ledger_read_only` fault (a mounted file system cannot be remounted read-only while the ledger
holds it open for writing): the ledger file is reopened with SQLite's `mode=ro`, so SQLite
itself refuses the writes with SQLITE_READONLY.

A disk that is read-only already when the stack starts is real too: a tmpfs remounted
read-only (`mount -o remount,ro`, which root cannot write through) under a fresh stack process
(after a clean stop and after `kill -9`) and under an in-process stack with no ledger file yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from livelab.errors import ConfigError
from stack.options import StackOptions
from stack.testing import running_stack_server, start_stack_process, stop_stack_process

ROOM = "demo"
ADMIN = "adm"
# The filler that fills the tmpfs is written in chunks of this size, at most this many.
FILL_CHUNK_BYTES = 64 * 1024
FILL_MAX_CHUNKS = 64


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


@contextlib.contextmanager
def tiny_tmpfs(size: str = "1m") -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted on a temp folder, unmounted and removed afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="livelab-tmpfs-"))
    try:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
            capture_output=True,
            timeout=10,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
        try:
            yield mount_point
        finally:
            subprocess.run(["umount", str(mount_point)], check=True, timeout=10)
    finally:
        mount_point.rmdir()


def fill(path: Path) -> None:
    """Write `path` until the file system is full (ENOSPC), within FILL_MAX_CHUNKS chunks."""
    with path.open("wb", buffering=0) as out:
        for _ in range(FILL_MAX_CHUNKS):
            try:
                out.write(b"\0" * FILL_CHUNK_BYTES)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        else:
            raise AssertionError("the tmpfs never filled")
        # The last chunk may have been cut short; take every byte that is left.
        for _ in range(FILL_CHUNK_BYTES):
            try:
                out.write(b"\0")
            except OSError:
                return
        raise AssertionError("the tmpfs never filled")


async def join(session: aiohttp.ClientSession, base: str, viewer: str, **extra: Any) -> Any:
    async with session.post(
        f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": viewer, "market": "SA", **extra}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def order(
    session: aiohttp.ClientSession, base: str, token: str, key: str
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    async with session.post(
        f"{base}/api/rooms/{ROOM}/orders",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        json={"sku": "abaya-12", "qty": 1, "price_cents": 15900},
    ) as resp:
        return resp.status, await resp.json(), resp.headers


async def chat_round_trip(
    sender: aiohttp.ClientWebSocketResponse, receiver: aiohttp.ClientWebSocketResponse, text: str
) -> None:
    """`sender` chats `text`; `receiver` gets it within 5 s."""
    await sender.send_json({"type": "chat", "id": text, "text": text})
    async with asyncio.timeout(5):
        while True:
            frame = await receiver.receive()
            assert frame.type == aiohttp.WSMsgType.TEXT, frame
            msg = json.loads(frame.data)
            batch = msg["messages"] if msg["type"] == "batch" else [msg]
            if any(m["type"] == "chat" and m.get("text") == text for m in batch):
                return


async def exercise_fault(
    db: Path,
    fault_on: Callable[[aiohttp.ClientSession, str], Awaitable[None]],
    fault_off: Callable[[aiohttp.ClientSession, str], Awaitable[None]],
) -> None:
    """Orders before, during and after a ledger fault; reads and chat during it; then the
    ledger file holds exactly the acknowledged orders."""
    acked: dict[str, str] = {}  # Idempotency-Key -> order_id
    async with (
        running_stack_server(host="none", db=str(db), admin_token=ADMIN) as server,
        aiohttp.ClientSession() as session,
    ):
        base = server.base_url
        alice = await join(session, base, "alice")
        bob = await join(session, base, "bob")
        auth = {"Authorization": f"Bearer {alice['token']}"}
        async with session.post(f"{base}/api/rooms/{ROOM}/referrals", headers=auth) as resp:
            assert resp.status == 201
            code = (await resp.json())["code"]
        for i in range(3):
            status, body, _ = await order(session, base, alice["token"], f"before-{i}")
            assert status == 201, body
            acked[f"before-{i}"] = body["order_id"]

        async with (
            session.ws_connect(alice["ws_url"]) as wa,
            session.ws_connect(bob["ws_url"]) as wb,
        ):
            await fault_on(session, base)
            for i in range(5):
                status, body, headers = await order(session, base, alice["token"], f"during-{i}")
                assert status == 503, body
                assert body["error"]["code"] == "ledger_unavailable"
                assert headers["Retry-After"] == "1"
            # A replay of an acknowledged order is a read: it still answers the stored order.
            status, body, _ = await order(session, base, alice["token"], "before-0")
            assert (status, body["order_id"]) == (200, acked["before-0"])
            async with session.post(
                f"{base}/api/rooms/{ROOM}/referrals",
                headers={"Authorization": f"Bearer {bob['token']}"},
            ) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "ledger_unavailable"
            # Joining with a code still works (the viewer can chat); only attribution waits.
            carol = await join(session, base, "carol", referral_code=code)
            assert carol["referral"] == "unavailable"
            async with session.get(
                f"{base}/api/rooms/{ROOM}/orders/{acked['before-1']}", headers=auth
            ) as resp:
                assert resp.status == 200
            async with session.get(f"{base}/api/rooms/{ROOM}/leaderboard") as resp:
                assert resp.status == 200
            await chat_round_trip(wa, wb, "still-here")
            await fault_off(session, base)
            await chat_round_trip(wb, wa, "and-after")

        for i in range(2):
            status, body, _ = await order(session, base, alice["token"], f"after-{i}")
            assert status == 201, body
            acked[f"after-{i}"] = body["order_id"]
        # The keys that got 503 were never stored: retrying one creates the order now.
        status, body, _ = await order(session, base, alice["token"], "during-0")
        assert status == 201, body
        acked["during-0"] = body["order_id"]
        assert await server.ledger.order_count() == len(acked)

    with contextlib.closing(sqlite3.connect(db)) as check:
        rows = dict(check.execute("SELECT idempotency_key, order_id FROM orders").fetchall())
    assert rows == acked


def test_full_disk_answers_503_and_loses_nothing() -> None:
    with tiny_tmpfs() as mount_point:
        filler = mount_point / "filler"

        async def on(session: aiohttp.ClientSession, base: str) -> None:
            fill(filler)

        async def off(session: aiohttp.ClientSession, base: str) -> None:
            filler.unlink()

        run(exercise_fault(mount_point / "ledger.db", on, off))


async def set_read_only(session: aiohttp.ClientSession, base: str, value: int) -> None:
    async with session.post(
        f"{base}/admin/faults",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={"ledger_read_only": value},
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["ledger_read_only"] == value


def test_read_only_ledger_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    async def on(session: aiohttp.ClientSession, base: str) -> None:
        await set_read_only(session, base, 1)

    async def off(session: aiohttp.ClientSession, base: str) -> None:
        await set_read_only(session, base, 0)

    run(exercise_fault(tmp_path / "ledger.db", on, off))


def test_read_only_fault_needs_a_file_ledger() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none", admin_token=ADMIN) as server,
            aiohttp.ClientSession() as session,
        ):
            async with session.post(
                f"{server.base_url}/admin/faults",
                headers={"Authorization": f"Bearer {ADMIN}"},
                json={"ledger_read_only": 1},
            ) as resp:
                assert resp.status == 400
                assert (await resp.json())["error"]["code"] == "bad_fault"
            assert not server.faults.ledger_read_only

    run(main())
    with pytest.raises(ConfigError, match="ledger_read_only"):  # `--fault` at start: exit 2
        StackOptions(faults={"ledger_read_only": 1.0}).validate()


# ------------------------------------------------------- a stack started on a read-only disk
SECRET = "read-only-disk-secret-0123456789"
# After the disk takes writes again, an order is retried (Retry-After: 1) at most this often.
RECOVERY_ATTEMPTS = 10


def remount(mount_point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount_point)], check=True, timeout=10)


def stack_args(db: Path) -> list[str]:
    return ["--publisher", "none", "--db", str(db), "--secret", SECRET, "--room", ROOM]


async def first_life(base: str, acked: dict[str, str]) -> str:
    """Three acknowledged orders and a referral code; returns alice's token."""
    async with aiohttp.ClientSession() as session:
        alice = await join(session, base, "alice")
        for i in range(3):
            status, body, _ = await order(session, base, alice["token"], f"before-{i}")
            assert status == 201, body
            acked[f"before-{i}"] = body["order_id"]
        async with session.post(
            f"{base}/api/rooms/{ROOM}/referrals",
            headers={"Authorization": f"Bearer {alice['token']}"},
        ) as resp:
            assert resp.status == 201
        return str(alice["token"])


async def read_only_life(base: str, mount_point: Path, acked: dict[str, str]) -> None:
    """Started on the read-only disk: reads, replays and chat work, writes get 503; once the
    disk takes writes again, a retried order is created with no restart."""
    async with aiohttp.ClientSession() as session:
        alice = await join(session, base, "alice")
        bob = await join(session, base, "bob")
        token = alice["token"]
        for i in range(3):
            status, body, headers = await order(session, base, token, f"during-{i}")
            assert status == 503, body
            assert body["error"]["code"] == "ledger_unavailable"
            assert headers["Retry-After"] == "1"
        for key, order_id in acked.items():  # every acknowledged order is still there
            status, body, _ = await order(session, base, token, key)
            assert (status, body["order_id"]) == (200, order_id)
            async with session.get(
                f"{base}/api/rooms/{ROOM}/orders/{order_id}",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 200
        async with session.post(
            f"{base}/api/rooms/{ROOM}/referrals",
            headers={"Authorization": f"Bearer {bob['token']}"},
        ) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "ledger_unavailable"
        async with session.get(f"{base}/api/rooms/{ROOM}/leaderboard") as resp:
            assert resp.status == 200
        async with (
            session.ws_connect(alice["ws_url"]) as wa,
            session.ws_connect(bob["ws_url"]) as wb,
        ):
            await chat_round_trip(wa, wb, "on-a-read-only-disk")
            await chat_round_trip(wb, wa, "still-chatting")

        remount(mount_point, "rw")
        for _ in range(RECOVERY_ATTEMPTS):
            status, body, headers = await order(session, base, token, "during-0")
            if status != 503:
                break
            await asyncio.sleep(float(headers["Retry-After"]))
        assert status == 201, body
        acked["during-0"] = body["order_id"]


@pytest.mark.slow
@pytest.mark.parametrize("first_end", ["sigterm", "sigkill"])
def test_stack_started_on_a_read_only_disk_serves_reads_and_answers_503(
    first_end: str,
) -> None:
    """A real stack process on a ledger whose tmpfs is remounted read-only before it starts
    (after a clean stop, which leaves no WAL file, or after `kill -9`, which leaves the
    acknowledged rows in the WAL)."""
    acked: dict[str, str] = {}
    with tiny_tmpfs("4m") as mount_point:
        db = mount_point / "ledger.db"
        proc, base = start_stack_process(stack_args(db))
        try:
            asyncio.run(asyncio.wait_for(first_life(base, acked), 30))
        finally:
            if first_end == "sigkill":
                proc.kill()
                proc.wait(timeout=10)
            stop_stack_process(proc)
        left = sorted(p.name for p in mount_point.iterdir())
        assert left == (["ledger.db"] if first_end == "sigterm" else
                        ["ledger.db", "ledger.db-shm", "ledger.db-wal"])  # fmt: skip
        remount(mount_point, "ro")
        try:
            with pytest.raises(OSError) as refused:  # really read-only, root included
                (mount_point / "probe").write_bytes(b"x")
            assert refused.value.errno == errno.EROFS

            proc, base = start_stack_process(stack_args(db))
            try:
                asyncio.run(asyncio.wait_for(read_only_life(base, mount_point, acked), 60))
            finally:
                assert stop_stack_process(proc) == 0, proc.log_text  # type: ignore[attr-defined]
            assert "refuses writes" in proc.log_text  # type: ignore[attr-defined]
        finally:
            remount(mount_point, "rw")
        with contextlib.closing(sqlite3.connect(db)) as check:
            rows = dict(check.execute("SELECT idempotency_key, order_id FROM orders").fetchall())
        assert rows == acked


def test_stack_started_on_an_empty_read_only_disk_creates_the_ledger_once_it_can() -> None:
    """No ledger file yet and a read-only disk: the stack starts with an empty ledger that
    refuses writes (503); once the disk takes writes, the file is created and orders land."""

    async def main(mount_point: Path) -> None:
        db = mount_point / "ledger.db"
        async with (
            running_stack_server(host="none", db=str(db)) as server,
            aiohttp.ClientSession() as session,
        ):
            base = server.base_url
            alice = await join(session, base, "alice")
            status, body, _ = await order(session, base, alice["token"], "k-0")
            assert (status, body["error"]["code"]) == (503, "ledger_unavailable")
            async with session.get(f"{base}/api/rooms/{ROOM}/leaderboard") as resp:
                assert (resp.status, (await resp.json())["entries"]) == (200, [])
            assert server.ledger.degraded and not db.exists()
            remount(mount_point, "rw")
            for _ in range(RECOVERY_ATTEMPTS):
                status, body, headers = await order(session, base, alice["token"], "k-0")
                if status != 503:
                    break
                await asyncio.sleep(float(headers["Retry-After"]))
            assert status == 201, body
            assert not server.ledger.degraded
        with contextlib.closing(sqlite3.connect(db)) as check:
            assert check.execute("SELECT idempotency_key FROM orders").fetchall() == [("k-0",)]

    with tiny_tmpfs() as mount_point:
        remount(mount_point, "ro")
        try:
            run(main(mount_point))
        finally:
            remount(mount_point, "rw")
