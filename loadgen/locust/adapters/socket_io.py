"""A Socket.IO chat-and-order API as a target: the worked example of docs/adapters.md.

The API it speaks (tests/loadgen/sio_server.py serves it; a team's own will differ, so copy
this class and change the event names and payloads):

- connect to the Socket.IO endpoint at the target URL, with `auth` {viewer_id, market, room};
- `join` {room, viewer_id, market, referral_code?} → ack {"ok": true, "poll_id": str | null};
- `chat` {id, text}: the server broadcasts `chat` {id, ...} to the room, the sender included;
- `like` {count}: not acknowledged;
- `question` {id, text}: the host's `answer` {question_id} arrives later, to the asker;
- `poll` {poll_id} announces a poll; `vote` {poll_id, option} → ack {"ok": bool, "error"?};
- `order` {sku, qty, price_cents, idempotency_key} → ack {"order_id", "replay": bool} or
  {"error"}; the same key twice is one order (the second ack says `replay`);
- `share` {channel} → ack {"code"} (a referral code).

The client is `socketio.Client` with the websocket-client transport: under Locust, gevent has
patched sockets and threads, so its background reader runs as a greenlet.
"""

from __future__ import annotations

import itertools
from typing import Any

import socketio

from loadgen.locust.adapter import Adapter, AdapterContext, describe

__all__ = ["ACK_TIMEOUT_S", "SocketIOAdapter"]

ACK_TIMEOUT_S = 10.0  # longest wait for an acknowledgement, s (then the action failed)
_ids = itertools.count()


class SocketIOAdapter(Adapter):
    """One viewer on a Socket.IO API (see the module docstring for its events)."""

    def __init__(self, ctx: AdapterContext) -> None:
        super().__init__(ctx)
        self.sio = socketio.Client(reconnection=False)
        self.poll_id: str | None = None
        self.sio.on("chat", self._on_chat)
        self.sio.on("answer", self._on_answer)
        self.sio.on("poll", self._on_poll)
        self.sio.on("disconnect", self._on_disconnect)

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{self.script.id}-{next(_ids)}"

    # --- events from the server (run in the client's reader greenlet) ----------------------
    def _on_chat(self, msg: dict[str, Any]) -> None:
        self.resolve(f"chat:{msg.get('id')}")

    def _on_answer(self, msg: dict[str, Any]) -> None:
        self.resolve(f"question:{msg.get('question_id')}")

    def _on_poll(self, msg: dict[str, Any]) -> None:
        self.poll_id = str(msg.get("poll_id"))

    def _on_disconnect(self, *reason: Any) -> None:
        self.disconnects += 1

    # --- the script ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    def join(self) -> bool:
        """Connect and join: `join_ms` covers the Socket.IO handshake and the join ack."""
        body: dict[str, Any] = {
            "room": self.ctx.room,
            "viewer_id": self.script.id,
            "market": self.script.market,
        }
        if self.script.referred and self.codes:
            body["referral_code"] = self.codes[-1]
        with self.timed("join_ms") as timing:
            if not self.sio.connected:
                self.sio.connect(
                    self.ctx.base_url, transports=["websocket"], auth=body, wait_timeout=10
                )
            ack = self.sio.call("join", body, timeout=ACK_TIMEOUT_S) or {}
            if not ack.get("ok"):
                timing.fail(f"join refused: {ack.get('error')}")
                return False
            self.poll_id = ack.get("poll_id") or self.poll_id
        return True

    def connect(self) -> bool:
        return self.join()  # one channel: joining opens it

    def _require(self) -> None:
        if not self.sio.connected:
            raise ConnectionError("Socket.IO not connected")

    def chat(self) -> None:
        self._require()  # before expect(): a failed send must not also expire as a failure
        cid = self._id("c")
        self.expect(f"chat:{cid}", "chat_rtt_ms")
        self.sio.emit("chat", {"id": cid, "text": "hi from livelab"})

    def like(self) -> None:
        self.sio.emit("like", {"count": 1})

    def question(self) -> None:
        self._require()
        qid = self._id("q")
        self.expect(f"question:{qid}", "answer_ms")
        self.sio.emit("question", {"id": qid, "text": "does it ship to me?"})

    def vote(self) -> bool:
        if self.poll_id is None:
            return False
        with self.timed("vote_ack_ms") as timing:
            ack = self.sio.call(
                "vote", {"poll_id": self.poll_id, "option": "A"}, timeout=ACK_TIMEOUT_S
            )
            if not (ack or {}).get("ok"):
                timing.fail(f"vote refused: {(ack or {}).get('error')}")
        return True

    def order(self, price_cents: int, idempotency_key: str) -> None:
        body = {"sku": "sku-plan", "qty": 1, "price_cents": max(int(price_cents), 0),
                "idempotency_key": idempotency_key}  # fmt: skip
        with self.timed("order_ms") as timing:
            ack = self.sio.call("order", body, timeout=ACK_TIMEOUT_S) or {}
            if "order_id" not in ack:
                timing.fail(f"order refused: {ack.get('error')}")
            self.replays += bool(ack.get("replay"))

    def share(self) -> None:
        with self.timed("referral_ms") as timing:
            ack = self.sio.call("share", {"channel": "link"}, timeout=ACK_TIMEOUT_S) or {}
            if "code" not in ack:
                timing.fail(f"share refused: {ack.get('error')}")
                return
        self.codes.append(str(ack["code"]))

    def leave(self) -> None:
        try:
            self.sio.disconnect()
        except (OSError, socketio.exceptions.SocketIOError) as exc:
            self.record("adapter_error", 0.0, False, describe(exc))
