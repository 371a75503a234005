"""Mutated SDP offers for fuzzing WHEP and WHIP (`benchmarks.fuzz_inputs`).

Starts from a real offer (as aiortc writes it for a recvonly VP8 viewer, trimmed) so that most
mutants still parse and reach aiortc's negotiation, where the interesting failures are.
Needs the dev extra (hypothesis).
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["OFFER_LINES", "mutated_offers"]

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)

# A recvonly VP8 offer as aiortc writes it, trimmed (one codec pair, one fingerprint).
OFFER_LINES = [
    "v=0",
    "o=- 4005169791 4005169791 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=msid-semantic:WMS *",
    "m=video 45626 UDP/TLS/RTP/SAVPF 97 98",
    "c=IN IP4 127.0.0.1",
    "a=recvonly",
    "a=mid:0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=rtcp-mux",
    "a=rtpmap:97 VP8/90000",
    "a=rtcp-fb:97 nack",
    "a=rtcp-fb:97 nack pli",
    "a=rtpmap:98 rtx/90000",
    "a=fmtp:98 apt=97",
    "a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 45626 typ host",
    "a=end-of-candidates",
    "a=ice-ufrag:N2Pn",
    "a=ice-pwd:aKPmduxyG3fKTvj38Z3btL",
    "a=fingerprint:sha-256 BA:BC:C3:1D:5F:16:55:2E:70:EE:50:0F:7E:3E:A6:C1:73:8C:7E:A9:45:6C:6F:"
    "AB:13:0F:D3:4E:1D:3C:8E:1E",
    "a=setup:actpass",
]
_LINE_JUNK = st.one_of(
    _TEXT,
    st.sampled_from(
        ["m=audio 9 RTP/AVP 0", "a=rtpmap:97 H264/90000", "m=video 0 X 97", "a=setup:", "c=", "="]
    ),
)


def mutated_offers(direction: str) -> st.SearchStrategy[bytes]:
    """OFFER_LINES with `direction` ("recvonly" or "sendonly") and up to four line edits (drop,
    duplicate, replace the value, insert junk), either line ending, maybe truncated, maybe with
    junk bytes after."""
    edit = st.tuples(
        st.sampled_from(["drop", "dup", "value", "insert", "keep"]),
        st.integers(0, len(OFFER_LINES) - 1),
        _LINE_JUNK,
    )

    def build(edits: list[tuple[str, int, str]], sep: str, cut: int | None, tail: bytes) -> bytes:
        lines = [line.replace("a=recvonly", f"a={direction}") for line in OFFER_LINES]
        for op, at, junk in edits:
            at %= max(len(lines), 1)
            if op == "drop" and lines:
                del lines[at]
            elif op == "dup" and lines:
                lines.insert(at, lines[at])
            elif op == "value" and lines:
                head = lines[at].split(":", 1)[0] if ":" in lines[at] else lines[at][:2]
                lines[at] = f"{head}:{junk}"
            elif op == "insert":
                lines.insert(at, junk)
        data = (sep.join(lines) + sep).encode()
        if cut is not None:
            data = data[:cut]
        return data + tail

    return st.builds(
        build,
        st.lists(edit, max_size=4),
        st.sampled_from(["\r\n", "\n"]),
        st.one_of(st.none(), st.integers(0, 700)),
        st.one_of(st.just(b""), st.just(b""), st.binary(max_size=20)),
    )
