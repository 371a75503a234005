"""The order and referral ledger: SQLite in WAL mode with synchronous=FULL.

An order is acknowledged (`201`) only after its INSERT has committed, and with WAL +
synchronous=FULL a commit is fsynced before `commit()` returns, so `kill -9` right after the
response loses nothing. All SQLite work runs on one dedicated thread (one connection, calls in
order) so the event loop never waits on fsync.

When the disk cannot take a write (full, read-only, I/O error), SQLite rolls the statement back
and the ledger raises `LedgerUnavailable`: the caller answers `503 ledger_unavailable`, never
`201`, and every row committed before stays readable. Writes succeed again once the disk does.

A ledger whose disk refuses writes already when it opens (a read-only mount, a full disk that
cannot take the WAL index) opens read-only instead and is `degraded`: reads go on, writes raise
`LedgerUnavailable`, and each write first tries read-write again (at most every
`REOPEN_EVERY_S`), so the ledger takes writes again once the disk does, with no restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["IdempotencyConflict", "Ledger", "LedgerUnavailable", "Order"]

# SQLite primary result codes that mean "the disk will not take this write now": SQLITE_READONLY,
# SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN. Anything else is a bug and stays an error.
_DISK_FAULT_CODES = frozenset({8, 10, 13, 14})
# While degraded (opened read-only because the disk refused writes), a write tries read-write
# again at most this often, s: the retry is one open and a rolled-back probe, cheap but not free.
REOPEN_EVERY_S = 1.0

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    viewer_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (room, viewer_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS referral_codes (
    code TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    viewer_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (room, viewer_id)
);
CREATE TABLE IF NOT EXISTS attributions (
    room TEXT NOT NULL,
    viewer_id TEXT NOT NULL,
    code TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (room, viewer_id)
);
"""


@dataclass(frozen=True)
class Order:
    order_id: str
    room: str
    viewer_id: str
    sku: str
    qty: int
    price_cents: int
    created_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "room": self.room,
            "viewer_id": self.viewer_id,
            "sku": self.sku,
            "qty": self.qty,
            "price_cents": self.price_cents,
            "created_ms": self.created_ms,
            "status": "confirmed",
        }


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used before with a different order body."""


class LedgerUnavailable(Exception):
    """The ledger's disk refused a write (full, read-only, I/O error); nothing was stored."""


def _disk_fault(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DISK_FAULT_CODES


class Ledger:
    """Durable orders, referral codes and attributions. `path` ':memory:' for a throwaway one.
    `clock_s` (monotonic seconds) paces the read-write retries of a degraded ledger."""

    def __init__(self, path: str, clock_s: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._db: sqlite3.Connection | None = None
        self._clock_s = clock_s
        self.read_only = False  # the `ledger_read_only` fault
        self.degraded = False  # the disk refused read-write at the last open: serving read-only
        self._retry_at = 0.0

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        """Open read-write; if the disk refuses that, read-only and `degraded` (module doc)."""
        try:
            self._db = self._connect_read_write()
            if self.degraded:
                log.warning("ledger %s: the disk takes writes again", self.path)
            self.degraded = False
        except sqlite3.Error as exc:
            if not _disk_fault(exc):
                raise
            if not self.degraded:
                log.warning("ledger %s: the disk refuses writes (%s); serving it read-only, "
                            "orders answer 503 until it takes writes", self.path, exc)  # fmt: skip
            self._db = self._connect_read_only()
            self.degraded = True
            self._retry_at = self._clock_s() + REOPEN_EVERY_S

    def _connect_read_write(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            if self.path != ":memory:":
                # SQLite opens a file it cannot write read-only without a word (on a read-only
                # mount whose -wal and -shm files exist, after a crash), and BEGIN IMMEDIATE
                # still succeeds there; rewriting the header's user_version inside a
                # rolled-back transaction is a real write that stores nothing.
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(f"PRAGMA user_version={version}")
                finally:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
        except BaseException:
            db.close()
            raise
        return db

    def _connect_read_only(self) -> sqlite3.Connection:
        """The ledger file for reading on a disk that refuses writes. `mode=ro` reads the WAL
        too but needs its -shm index to exist; without one (a clean shutdown removes both),
        `immutable=1`, which skips the WAL, is safe only while no WAL file holds rows. No file
        at all: an empty ledger that refuses writes. The last SQLite error when none fits."""
        quoted = "file:" + urllib.parse.quote(self.path)
        wal = Path(self.path + "-wal")
        options = ["mode=ro"]
        if not (wal.exists() and wal.stat().st_size > 0):
            options.append("mode=ro&immutable=1")
        last: sqlite3.Error | None = None
        for option in options:
            try:
                db = sqlite3.connect(f"{quoted}?{option}", uri=True, check_same_thread=False,
                                     isolation_level=None)  # fmt: skip
            except sqlite3.Error as exc:  # mode=ro on a missing file fails here already
                if not _disk_fault(exc):
                    raise
                last = exc
                continue
            try:
                db.execute("SELECT COUNT(*) FROM orders").fetchone()
                return db
            except sqlite3.Error as exc:
                db.close()
                if not _disk_fault(exc):
                    raise
                last = exc
        if not Path(self.path).exists():
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            db.executescript(SCHEMA)
            db.execute("PRAGMA query_only=ON")  # writes fail with SQLITE_READONLY
            return db
        assert last is not None  # "mode=ro" was tried and failed
        raise last

    def _retry_writable(self) -> None:
        """Before a write: a degraded ledger (not the read-only fault) tries read-write again,
        at most every REOPEN_EVERY_S."""
        if self.degraded and not self.read_only and self._clock_s() >= self._retry_at:
            self._close()
            self._open()

    async def set_read_only(self, read_only: bool) -> None:
        """Reopen the ledger file read-only (SQLite `mode=ro`: every write then fails inside
        SQLite with SQLITE_READONLY, like a read-only disk) or read-write again. The
        `ledger_read_only` fault; a no-op if already in that mode. ValueError for ':memory:'
        (reopening would start an empty ledger)."""
        if read_only == self.read_only:
            return
        if self.path == ":memory:":
            raise ValueError("ledger_read_only needs a file ledger (--db PATH), not :memory:")
        await self._run(self._reopen, read_only)

    def _reopen(self, read_only: bool) -> None:
        self._close()
        if read_only:
            self._db = self._connect_read_only()
        else:
            self._open()
        self.read_only = read_only

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._close)
        self._pool.shutdown(wait=True)

    def _close(self) -> None:
        assert self._db is not None  # internal invariant: open() ran
        try:
            if not self.degraded:  # a read-only connection has nothing to checkpoint
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            # A full or read-only disk cannot take the checkpoint; the committed rows stay in
            # the WAL file, which the next open replays.
            if not _disk_fault(exc):
                raise
        self._db.close()
        self._db = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except sqlite3.Error as exc:
            if _disk_fault(exc):
                raise LedgerUnavailable(str(exc)) from exc
            raise

    # orders ---------------------------------------------------------------------------------
    async def place_order(
        self, room: str, viewer: str, key: str, body: dict[str, Any], now_ms: int
    ) -> tuple[Order, bool]:
        """(order, created). Same key + same body → the stored order, created=False."""
        result: tuple[Order, bool] = await self._run(self._place, room, viewer, key, body, now_ms)
        return result

    def _place(
        self, room: str, viewer: str, key: str, body: dict[str, Any], now_ms: int
    ) -> tuple[Order, bool]:
        self._retry_writable()
        db = self._require()
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        row = db.execute(
            "SELECT order_id, request_hash FROM orders"
            " WHERE room=? AND viewer_id=? AND idempotency_key=?",
            (room, viewer, key),
        ).fetchone()
        if row is not None:
            if row[1] != digest:
                raise IdempotencyConflict(key)
            order = self._get(row[0])
            assert order is not None  # just read it
            return order, False
        order = Order(
            order_id="ord_" + secrets.token_hex(8),
            room=room,
            viewer_id=viewer,
            sku=body["sku"],
            qty=body["qty"],
            price_cents=body["price_cents"],
            created_ms=now_ms,
        )
        # isolation_level=None: this statement is its own transaction, committed (and, with
        # synchronous=FULL, fsynced) before execute() returns.
        db.execute(
            "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?)",
            (
                order.order_id,
                room,
                viewer,
                key,
                digest,
                order.sku,
                order.qty,
                order.price_cents,
                now_ms,
            ),
        )
        return order, True

    async def get_order(self, order_id: str) -> Order | None:
        result: Order | None = await self._run(self._get, order_id)
        return result

    def _get(self, order_id: str) -> Order | None:
        row = (
            self._require()
            .execute(
                "SELECT order_id, room, viewer_id, sku, qty, price_cents, created_ms"
                " FROM orders WHERE order_id=?",
                (order_id,),
            )
            .fetchone()
        )
        return Order(*row) if row else None

    async def order_count(self) -> int:
        result: int = await self._run(
            lambda: self._require().execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        )
        return result

    # referrals ------------------------------------------------------------------------------
    async def referral_code(self, room: str, viewer: str, now_ms: int) -> str:
        """The viewer's code in `room` (created on first call)."""
        result: str = await self._run(self._code, room, viewer, now_ms)
        return result

    def _code(self, room: str, viewer: str, now_ms: int) -> str:
        self._retry_writable()
        db = self._require()
        row = db.execute(
            "SELECT code FROM referral_codes WHERE room=? AND viewer_id=?", (room, viewer)
        ).fetchone()
        if row:
            return str(row[0])
        code = secrets.token_urlsafe(6)
        db.execute("INSERT INTO referral_codes VALUES (?,?,?,?)", (code, room, viewer, now_ms))
        return code

    async def attribute(self, room: str, viewer: str, code: str, now_ms: int) -> str:
        """Record that `viewer` joined `room` through `code`: 'recorded', 'unknown', 'self' or
        'already' (a viewer is attributed once, to the first code it came with)."""
        result: str = await self._run(self._attribute, room, viewer, code, now_ms)
        return result

    def _attribute(self, room: str, viewer: str, code: str, now_ms: int) -> str:
        self._retry_writable()
        db = self._require()
        row = db.execute(
            "SELECT viewer_id FROM referral_codes WHERE code=? AND room=?", (code, room)
        ).fetchone()
        if row is None:
            return "unknown"
        if row[0] == viewer:
            return "self"
        cur = db.execute(
            "INSERT OR IGNORE INTO attributions VALUES (?,?,?,?)", (room, viewer, code, now_ms)
        )
        return "recorded" if cur.rowcount else "already"

    async def leaderboard(self, room: str, limit: int = 10) -> list[dict[str, Any]]:
        """Top referrers in `room`: [{rank, viewer_id, code, referred}] by referred desc."""
        result: list[dict[str, Any]] = await self._run(self._leaderboard, room, limit)
        return result

    def _leaderboard(self, room: str, limit: int) -> list[dict[str, Any]]:
        rows = (
            self._require()
            .execute(
                "SELECT r.viewer_id, r.code, COUNT(a.viewer_id) AS n FROM referral_codes r"
                " JOIN attributions a ON a.code = r.code AND a.room = r.room"
                " WHERE r.room=? GROUP BY r.code ORDER BY n DESC, r.viewer_id LIMIT ?",
                (room, limit),
            )
            .fetchall()
        )
        return [
            {"rank": i + 1, "viewer_id": v, "code": c, "referred": n}
            for i, (v, c, n) in enumerate(rows)
        ]

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("ledger is not open")
        return self._db
