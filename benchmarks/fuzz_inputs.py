"""Hypothesis strategies for every input a client can send the stack (see docs/protocol.md).

Each strategy builds plain, frozen descriptions of one input — a WebSocket frame (`WsInput`),
an HTTP request (`HttpInput`) or raw request bytes (`RawInput`) — that
`benchmarks.fuzz_harness` sends to a live server. Tokens are described, not embedded (`Auth`),
because they exist only once the server is up: the harness turns ``Auth("viewer", "flip_sig")``
into a real token with one signature byte changed. Values mix valid ones (so requests get past
the first check and reach deeper code) with junk of every JSON type, oversized strings and
non-ASCII text.

Needs the dev extra (hypothesis); nothing in the server imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from benchmarks.fuzz_sdp import OFFER_LINES, mutated_offers
from stack.messages import CLIENT_TYPES

__all__ = [
    "BASE64URL",
    "HTTP_KINDS",
    "OFFER_LINES",
    "ROOM",
    "WS_KINDS",
    "Auth",
    "HttpInput",
    "RawInput",
    "WsInput",
    "http_inputs",
    "raw_inputs",
    "ws_inputs",
]

ROOM = "demo"  # the room the harness's viewers joined
OTHER_ROOM = "other"
# Valid room names stay few: every valid name a request uses opens a room, and the server
# refuses more than 1,000 rooms with 503 (a legitimate answer, but not what fuzzing looks for).
ROOMS = st.sampled_from([ROOM, ROOM, OTHER_ROOM, "r-1"])
# SKUs and keys from small pools, so the same key comes back with the same or another body.
SKUS = ["oud-1", "scarf-2", "tea-3"]
KEYS = ["k-1", "k-2", "k-3", "order-4"]


@dataclass(frozen=True)
class Auth:
    """Which token to send and how to spoil it.

    `base`: "none", "viewer" (a viewer joined to ROOM), "other_room" (a viewer of OTHER_ROOM),
    "admin" (the admin token), "junk" (`text` itself). `spoil`: "keep", "flip_sig" (change one
    signature character), "non_ascii_sig" (append `text` to the signature), "truncate", "append"
    (append `text`), "swap_parts". `where`: "header", "lower" (``bearer`` in lower case),
    "query" or "both".
    """

    base: str
    spoil: str = "keep"
    text: str = ""
    where: str = "header"


@dataclass(frozen=True)
class HttpInput:
    """One HTTP request: `kind` names the endpoint family (a key of HTTP_KINDS)."""

    kind: str
    method: str
    path: str
    auth: Auth
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    viewer: str = ""  # for orders: which of the harness's viewers the token belongs to


@dataclass(frozen=True)
class WsInput:
    """One WebSocket frame: `kind` is a client message type, "garbage" or "binary"."""

    kind: str
    text: str = ""
    data: bytes = b""


@dataclass(frozen=True)
class RawInput:
    """A request written byte for byte on a socket (headers an HTTP client would refuse)."""

    kind: str
    data: bytes


# -- values ---------------------------------------------------------------------------------

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # tokens, codes
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # no lone surrogates
_HEADER_TEXT = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\r\n"), max_size=40
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
JUNK: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=8,
)


def _str_field(limit: int) -> st.SearchStrategy[Any]:
    """A string field of 1..limit characters: valid, at the edges, just over, or junk."""
    return st.one_of(
        st.text(min_size=1, max_size=min(limit, 20), alphabet=st.characters(codec="utf-8")),
        st.sampled_from(["", "x" * limit, "x" * (limit + 1), "\u202e\U0001f600", "é" * limit]),
        JUNK,
    )


def _int_field(hi: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(0, hi + 1), st.sampled_from([-1, 2**63, 1.5, True]), JUNK)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- WebSocket ------------------------------------------------------------------------------


def _message(kind: str) -> st.SearchStrategy[WsInput]:
    spec = CLIENT_TYPES[kind]
    fields = {
        name: _int_field(limit) if typ is int else _str_field(limit)
        for name, (typ, _, limit) in spec.items()
    }
    optional = {**fields, "extra": JUNK, "id": _str_field(64)}
    body = st.fixed_dictionaries(
        {"type": st.just(kind)}, optional={k: v for k, v in optional.items()}
    )
    return body.map(lambda msg: WsInput(kind, text=_dump(msg)))


def _garbage() -> st.SearchStrategy[WsInput]:
    deep = st.integers(50, 3000).map(lambda n: "[" * n + "]" * n)
    big_int = st.integers(4000, 5000).map(lambda n: '{"type": "like", "count": ' + "9" * n + "}")
    wrong_type = st.fixed_dictionaries({"type": JUNK}, optional={"id": JUNK, "text": JUNK})
    texts = st.one_of(
        _TEXT,
        deep,
        big_int,
        wrong_type.map(_dump),
        JUNK.map(_dump),
        st.integers(4097, 9000).map(lambda n: _dump({"type": "chat", "id": "a", "text": "x" * n})),
        st.just(_dump({"type": "chat", "id": "a", "text": "x" * 70_000})),  # over the 64 KiB cap
    )
    return texts.map(lambda text: WsInput("garbage", text=text))


WS_KINDS = [*CLIENT_TYPES, "garbage", "binary"]


def ws_inputs(kind: str) -> st.SearchStrategy[WsInput]:
    """Frames of one kind: a client message type, "garbage" (not a valid message) or "binary"."""
    if kind in CLIENT_TYPES:
        return _message(kind)
    if kind == "garbage":
        return _garbage()
    if kind == "binary":
        return st.binary(max_size=200).map(lambda data: WsInput("binary", data=data))
    raise ValueError(f"unknown WebSocket input kind {kind!r}; one of {WS_KINDS}")


# -- HTTP -----------------------------------------------------------------------------------

_SPOILS = ["keep", "keep", "flip_sig", "non_ascii_sig", "truncate", "append", "swap_parts"]
_NON_ASCII = st.sampled_from(["é", "\u00ff", "\U0001f600", "\u202e", "ß€"])


def _auth(bases: list[str]) -> st.SearchStrategy[Auth]:
    return st.builds(
        Auth,
        base=st.sampled_from(bases),
        spoil=st.sampled_from(_SPOILS),
        text=st.one_of(_NON_ASCII, _HEADER_TEXT),
        where=st.sampled_from(["header", "header", "lower", "query", "both"]),
    )


def _room_segment() -> st.SearchStrategy[str]:
    bad = st.sampled_from(["", "x" * 65, "a b", "%2e%2e", "é", "..", "%00", "a%2Fb"])
    return st.one_of(ROOMS, ROOMS, bad, st.text("abc-_%é/?#", min_size=1, max_size=10))


def _json_body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    obj = st.fixed_dictionaries({}, optional={**fields, "extra": JUNK})
    return st.one_of(
        obj.map(lambda o: _dump(o).encode()),
        obj.map(lambda o: _dump(o).encode()),
        JUNK.map(lambda v: _dump(v).encode()),
        st.binary(max_size=80),
        st.just(b"{" * 5000),
        st.just(b'{"sku": "' + b"x" * 17_000 + b'"}'),  # over the 16 KiB body cap
    )


def _join() -> st.SearchStrategy[HttpInput]:
    body = _json_body(
        {"viewer_id": _str_field(64), "market": _str_field(16), "referral_code": _str_field(64)}
    )
    good = st.fixed_dictionaries(
        {"viewer_id": st.sampled_from(["v-1", "v-3", "é" * 64]), "market": st.just("ID")},
        optional={"referral_code": st.text(BASE64URL, min_size=1, max_size=8)},
    ).map(lambda o: _dump(o).encode())
    return st.builds(
        lambda room, body: HttpInput("join", "POST", f"/api/rooms/{room}/join", Auth("none"), body),
        st.one_of(ROOMS, _room_segment()),
        st.one_of(good, body),
    )


def _orders() -> st.SearchStrategy[HttpInput]:
    sku = st.one_of(st.sampled_from(SKUS), _str_field(64))
    body = _json_body({"sku": sku, "qty": _int_field(99), "price_cents": _int_field(10_000_000)})
    key = st.one_of(
        st.sampled_from(KEYS),
        st.sampled_from(["", "x" * 128, "x" * 129, "a b", "é"]),
        _HEADER_TEXT,
    )
    viewer = st.sampled_from(["v-1", "v-2"])

    def build(room: str, auth: Auth, body: bytes, key: str | None, viewer: str) -> HttpInput:
        headers = () if key is None else (("Idempotency-Key", key),)
        path = f"/api/rooms/{room}/orders"
        return HttpInput("orders", "POST", path, auth, body, headers=headers, viewer=viewer)

    fuzzed = st.builds(
        build,
        st.one_of(st.just(ROOM), _room_segment()),
        _auth(["viewer", "viewer", "viewer", "none", "other_room", "junk"]),
        body,
        st.one_of(st.none(), key),
        viewer,
    )
    # Half the orders are well formed, so the ledger sees creates, replays and conflicts.
    good_body = st.fixed_dictionaries(
        {"sku": st.sampled_from(SKUS)},
        optional={"qty": st.integers(1, 3), "price_cents": st.sampled_from([0, 990, 10_000_000])},
    ).map(lambda o: _dump(o).encode())
    good = st.builds(
        build,
        st.just(ROOM),
        st.builds(Auth, st.just("viewer"), where=st.sampled_from(["header", "lower", "query"])),
        good_body,
        st.one_of(st.sampled_from(KEYS), st.integers(0, 999).map(lambda n: f"gen-{n}")),
        viewer,
    )
    return st.one_of(good, fuzzed)


def _order_get() -> st.SearchStrategy[HttpInput]:
    # "known": the harness puts the id of an acknowledged order there.
    order_id = st.one_of(
        st.sampled_from(["known", "known", "ord_0000", "x" * 300]), st.text("ord_0a%é")
    )
    return st.builds(
        lambda room, oid, auth: HttpInput(
            "order_get", "GET", f"/api/rooms/{room}/orders/{oid}", auth
        ),
        st.one_of(st.just(ROOM), _room_segment()),
        order_id.filter(lambda s: s not in ("", ".", "..")),
        _auth(["viewer", "none", "other_room", "junk"]),
    )


def _referrals() -> st.SearchStrategy[HttpInput]:
    return st.builds(
        lambda room, auth, body: HttpInput(
            "referrals", "POST", f"/api/rooms/{room}/referrals", auth, body
        ),
        st.one_of(st.just(ROOM), _room_segment()),
        _auth(["viewer", "none", "other_room", "junk"]),
        _json_body({"code": _str_field(64)}),
    )


def _reads() -> st.SearchStrategy[HttpInput]:
    paths = st.one_of(
        _room_segment().map(lambda r: f"/api/rooms/{r}/leaderboard"),
        st.sampled_from(["/healthz", "/metrics", "/healthz?x=%ff", "/api/rooms/demo/nope"]),
        st.text("/abcz%?=&é.", max_size=20).map(lambda s: "/" + s),
    )
    method = st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"])
    return st.builds(
        lambda path, method, auth: HttpInput("reads", method, path, auth),
        paths,
        method,
        _auth(["none", "viewer", "junk"]),
    )


def _admin() -> st.SearchStrategy[HttpInput]:
    value = st.one_of(st.floats(-1, 70_000), st.integers(-5, 70_000), JUNK)
    keys = ["chat_delay_ms", "error_rate", "drop_ws"]
    fields: dict[str, st.SearchStrategy[Any]] = {k: value for k in keys}
    return st.builds(
        lambda method, auth, body: HttpInput("admin", method, "/admin/faults", auth, body),
        st.sampled_from(["GET", "POST", "POST"]),
        _auth(["admin", "admin", "none", "viewer", "junk"]),
        _json_body(fields),
    )


def _media(kind: str) -> st.SearchStrategy[HttpInput]:
    """WHEP (a recvonly offer) or WHIP (sendonly) POSTs: mutated offers, junk, oversized."""
    direction = "recvonly" if kind == "whep" else "sendonly"
    body = st.one_of(
        mutated_offers(direction),
        mutated_offers(direction),
        st.binary(max_size=100),
        st.just(b"v=0\r\n" + b"a=x\r\n" * 14_000),  # over the 64 KiB SDP cap
    )
    ctype = st.sampled_from(["application/sdp"] * 6 + ["text/plain", "application/json", None])
    return st.builds(
        lambda room, body, ctype: HttpInput(
            kind, "POST", f"/{kind}/{room}", Auth("none"), body, content_type=ctype
        ),
        _room_segment(),
        body,
        ctype,
    )


def _media_delete() -> st.SearchStrategy[HttpInput]:
    return st.builds(
        lambda kind, room, sid: HttpInput(
            "media_delete", "DELETE", f"/{kind}/{room}/{sid}", Auth("none")
        ),
        st.sampled_from(["whep", "whip"]),
        _room_segment(),
        st.one_of(
            st.text("0123456789abcdef", min_size=1, max_size=32), st.sampled_from(["x", "é"])
        ),
    )


_HTTP: dict[str, Any] = {
    "join": _join,
    "orders": _orders,
    "order_get": _order_get,
    "referrals": _referrals,
    "reads": _reads,
    "admin": _admin,
    "whep": lambda: _media("whep"),
    "whip": lambda: _media("whip"),
    "media_delete": _media_delete,
}
HTTP_KINDS = list(_HTTP)


def http_inputs(kind: str) -> st.SearchStrategy[HttpInput]:
    """Requests for one endpoint family (a name in HTTP_KINDS)."""
    if kind not in _HTTP:
        raise ValueError(f"unknown HTTP input kind {kind!r}; one of {HTTP_KINDS}")
    strategy: st.SearchStrategy[HttpInput] = _HTTP[kind]()
    return strategy


# -- raw requests ---------------------------------------------------------------------------

_RAW_HEADER_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"") or b"\xff"
)


def raw_inputs() -> st.SearchStrategy[RawInput]:
    """Requests with header or target bytes no HTTP client library would send (not UTF-8)."""
    targets = st.sampled_from(
        [
            b"POST /api/rooms/demo/orders",
            b"POST /api/rooms/demo/referrals",
            b"GET /admin/faults",
            b"GET /api/rooms/demo/ws",
            b"POST /api/rooms/demo/join",
        ]
    )

    def build(target: bytes, where: str, junk: bytes, token: bytes) -> RawInput:
        line = target
        headers = [b"Host: 127.0.0.1", b"Content-Length: 2", b"Content-Type: application/json"]
        if where == "auth":
            headers.append(b"Authorization: Bearer " + token + junk)
        elif where == "key":
            headers += [b"Authorization: Bearer " + token, b"Idempotency-Key: " + junk]
        elif where == "query":
            line += b"?token=" + token + junk.replace(b" ", b"%20")
        else:
            line += b"/" + junk.replace(b" ", b"")
        request = line + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\nConnection: close\r\n"
        return RawInput(where, request + b"\r\n{}")

    return st.builds(
        build,
        targets,
        st.sampled_from(["auth", "key", "query", "path"]),
        _RAW_HEADER_BYTES,
        st.sampled_from([b"", b"{token}"]),
    )
