"""FrameBuffer: the panel's time-bounded jitter buffer, fed with explicit times (no sleeping)."""

from __future__ import annotations

import pytest

from loadgen.panel.receiver import FrameBuffer, ReceiverPolicy
from loadgen.panel.vp8desc import parse_vp8_descriptor

POLICY = ReceiverPolicy(min_wait_ms=150.0, initial_rtt_ms=50.0, reorder_ms=10.0, keep_data=True)


def frame_packets(seq: int, ts: int, n: int, key: bool) -> list[tuple[int, int, bool, bool, bool]]:
    """(seq, ts, marker, start, keyframe) for one frame of n packets."""
    return [(seq + i, ts, i == n - 1, i == 0, key and i == 0) for i in range(n)]


def stream(frames: int, per_frame: int = 3, key_every: int = 30, seq0: int = 100):
    out = []
    seq = seq0
    for f in range(frames):
        out.append(frame_packets(seq, f * 6000, per_frame, f % key_every == 0))
        seq += per_frame
    return out


def push_all(buf, pkts, now):
    outs = []
    for seq, ts, marker, start, key in pkts:
        outs.append(buf.push(seq & 0xFFFF, ts, marker, start, key, b"x", now))
    return outs


def test_clean_stream_emits_every_frame_in_order_without_feedback():
    buf = FrameBuffer(POLICY)
    got = []
    for i, fr in enumerate(stream(10)):
        for o in push_all(buf, fr, 1000.0 + i * 66.7):
            got += [f.timestamp for f in o.frames]
            assert o.nack == [] and not o.pli
    assert got == [f * 6000 for f in range(10)]
    assert buf.counters.frames_out == 10 and buf.counters.keyframes_out == 1
    assert buf.next_deadline() is None


def test_frame_data_is_payloads_joined():
    buf = FrameBuffer(POLICY)
    outs = [
        buf.push(1, 0, False, True, True, b"ab", 0.0),
        buf.push(2, 0, True, False, False, b"cd", 1.0),
    ]
    assert outs[0].frames == [] and outs[1].frames[0].data == b"abcd"
    assert outs[1].frames[0].size == 4 and outs[1].frames[0].done_ms == 1.0


def test_reordered_packet_within_allowance_is_not_nacked():
    buf = FrameBuffer(POLICY)
    frames = stream(3)
    push_all(buf, frames[0], 0.0)
    a, b, c = frames[1]
    buf.push(a[0], a[1], a[2], a[3], a[4], b"x", 66.0)
    out = buf.push(c[0], c[1], c[2], c[3], c[4], b"x", 67.0)  # b missing now
    assert out.nack == []
    assert buf.next_deadline() == 77.0  # reorder allowance 10 ms
    out = buf.push(b[0], b[1], b[2], b[3], b[4], b"x", 70.0)  # arrives 3 ms late
    assert [f.timestamp for f in out.frames] == [6000]
    assert buf.poll(100.0).nack == [] and buf.counters.nacks_sent == 0


def test_real_gap_nacked_after_allowance_and_repeated_every_rtt_then_given_up():
    buf = FrameBuffer(POLICY)
    frames = stream(2)
    push_all(buf, frames[0], 0.0)
    a, _b, c = frames[1]
    buf.push(a[0], a[1], a[2], a[3], a[4], b"x", 66.0)
    buf.push(c[0], c[1], c[2], c[3], c[4], b"x", 67.0)
    assert buf.poll(76.9).nack == []
    assert buf.poll(77.0).nack == [104]
    # repeat every max(1.5 × 50, 30) = 75 ms
    assert buf.next_deadline() == 152.0
    assert buf.poll(152.0).nack == [104]
    assert buf.counters.nacks_sent == 2 and buf.counters.nacked_seqs == 2


def test_retransmission_recovers_frame_and_measures_rtt():
    buf = FrameBuffer(POLICY)
    frames = stream(2)
    push_all(buf, frames[0], 0.0)
    a, b, c = frames[1]
    buf.push(a[0], a[1], a[2], a[3], a[4], b"x", 66.0)
    buf.push(c[0], c[1], c[2], c[3], c[4], b"x", 67.0)
    assert buf.poll(77.0).nack == [104]
    out = buf.push(b[0], b[1], b[2], b[3], b[4], b"x", 157.0, retransmission=True)
    assert [f.timestamp for f in out.frames] == [6000]
    assert buf.rtt_ms == 50.0 + (80.0 - 50.0) / 8
    assert buf.counters.recovered == 1 and buf.counters.skips == 0


def test_lost_packet_waits_150ms_then_skips_to_next_keyframe():
    """The stock buffer would hold every later frame until 512 packets pass; this one waits
    max(2 × RTT, 150 ms) = 150 ms, then drops the broken delta frames and resumes at a key."""
    buf = FrameBuffer(POLICY)
    frames = stream(5, key_every=3)  # keyframes at frames 0 and 3
    push_all(buf, frames[0], 0.0)
    lost = frames[1][1]
    emitted = []
    for fr, t in zip(frames[1:], (66.0, 100.0, 150.0, 200.0), strict=True):
        for p in fr:
            if p != lost:
                emitted += [f.timestamp for f in buf.push(*p, b"x", t).frames]
    assert emitted == []  # everything waits behind the gap noticed at 66 ms
    assert buf.next_deadline() == 66.0 + 150.0  # noticed at 66 ms, waited 150 ms
    assert buf.poll(215.9).frames == []
    out = buf.poll(216.0)
    assert [f.timestamp for f in out.frames] == [3 * 6000, 4 * 6000]
    assert buf.counters.skips == 1
    assert buf.counters.frames_dropped == 2  # frames 1 and 2 never shown
    assert not out.pli  # a keyframe was already there: no need to ask


def test_skip_without_keyframe_sends_pli_and_repeats_it_until_a_keyframe_comes():
    buf = FrameBuffer(POLICY)
    frames = stream(6, key_every=100)
    push_all(buf, frames[0], 0.0)
    lost = frames[1][0]
    for i, fr in enumerate(frames[1:4], start=1):
        for p in fr:
            if p != lost:
                buf.push(p[0], p[1], p[2], p[3], p[4], b"x", i * 66.0)
    out = buf.poll(66.0 + 150.0)
    assert out.pli and out.frames == []
    assert buf.counters.plis_sent == 1
    assert buf.poll(66.0 + 150.0 + 299.0).pli is False
    assert buf.poll(66.0 + 150.0 + 300.0).pli is True
    # delta frames keep coming and are dropped; a keyframe restarts output
    for p in frames[4]:
        o = buf.push(p[0], p[1], p[2], p[3], p[4], b"x", 600.0)
        assert o.frames == []
    key = frame_packets(frames[5][0][0], 5 * 6000, 3, True)
    outs = push_all(buf, key, 620.0)
    assert [f.timestamp for f in outs[-1].frames] == [5 * 6000]
    assert buf.poll(2000.0).pli is False


def test_wait_grows_with_measured_rtt():
    buf = FrameBuffer(ReceiverPolicy(initial_rtt_ms=200.0))
    assert buf.wait_ms == 400.0
    assert FrameBuffer(ReceiverPolicy(initial_rtt_ms=20.0)).wait_ms == 150.0


def test_joining_mid_frame_drops_until_first_keyframe():
    buf = FrameBuffer(POLICY)
    frames = stream(40, key_every=30)
    pkts = [p for fr in frames for p in fr][2:]  # start in the middle of frame 0
    got = []
    for o in push_all(buf, pkts, 0.0):
        got += [f.timestamp for f in o.frames]
    assert got == [f * 6000 for f in range(30, 40)]


def test_sequence_wrap_is_transparent():
    buf = FrameBuffer(POLICY)
    frames = stream(5, seq0=65530)
    got = []
    for fr in frames:
        for o in push_all(buf, fr, 0.0):
            got += [f.timestamp for f in o.frames]
    assert got == [f * 6000 for f in range(5)]


def test_late_and_duplicate_packets_counted_not_emitted():
    buf = FrameBuffer(POLICY)
    fr = stream(1)[0]
    push_all(buf, fr, 0.0)
    o = buf.push(fr[0][0], 0, False, True, True, b"x", 1.0)
    assert o.frames == [] and buf.counters.late_packets == 1


def test_vp8_descriptor():
    # S=1 PID=0, no extension, VP8 header P=0 (keyframe)
    assert parse_vp8_descriptor(bytes([0x10, 0x00])) == (True, True, 1)
    # S=1, X with I and 15-bit picture id, P=1 (delta)
    assert parse_vp8_descriptor(bytes([0x90, 0x80, 0x81, 0x23, 0x01])) == (True, False, 4)
    # continuation packet
    assert parse_vp8_descriptor(bytes([0x80, 0x80, 0x05, 0x00])) == (False, False, 3)
    assert parse_vp8_descriptor(b"") is None


def test_stream_counter_loss_jitter_and_wrap():
    from loadgen.panel.rtpstats import StreamCounter

    c = StreamCounter(1234)
    # seqs 65534..3 with 65535 and 2 lost; constant 10 ms spacing matched by RTP (no jitter)
    for i, seq in enumerate([65534, 0, 1, 3]):
        step = [0, 2, 3, 5][i]
        c.add(seq, step * 900, 1000.0 + step * 10.0, 100)
    snap = c.snapshot()
    assert (snap.packets_received, snap.packets_expected, snap.packets_lost) == (4, 6, 2)
    assert snap.jitter_ms == 0.0 and snap.bytes_received == 400
    # one packet 16 ms late: J = 16/16 ms after one sample (RFC 3550 A.8)
    c.add(4, 6 * 900, 1000.0 + 6 * 10.0 + 16.0, 100)
    assert c.snapshot().jitter_ms == pytest.approx(1.0)


def test_sender_restart_far_away_resets_and_waits_for_keyframe():
    buf = FrameBuffer(POLICY)
    push_all(buf, stream(2)[0], 0.0)
    delta = frame_packets(30000, 99 * 6000, 2, False)
    outs = push_all(buf, delta, 10.0)
    assert buf.counters.restarts == 1 and all(o.frames == [] for o in outs)
    assert outs[0].pli  # asks for the keyframe it now needs
    key = frame_packets(30002, 100 * 6000, 2, True)
    assert [f.timestamp for f in push_all(buf, key, 20.0)[-1].frames] == [100 * 6000]
