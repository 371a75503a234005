// One browser viewer: WHEP join (non-trickle: the offer carries every candidate), then read the
// frame barcode of every frame the compositor is about to show (rtc.readFrames), and keep the
// samples until the panel drains them over the DevTools protocol (window.livelab).
// All times are wall-clock ms since the epoch (the host's barcode clock); phases are ms since
// the join started.
"use strict";
const livelab = (() => {
  const st = {
    t0: null, phases: {}, frames: [], g2g: [], parts: [], unreadable: 0, error: null,
    offer: null, gathered: [], location: null, pc: null, left: false,
  };
  const phase = (name, atMs) => {
    if (st.phases[name] === undefined) st.phases[name] = (atMs ?? rtc.wallNow()) - st.t0;
  };

  function onFrame(shown, ts, received) {
    phase("first_frame_ms", shown);
    st.frames.push(shown);
    if (ts === null) { st.unreadable++; return; }
    st.g2g.push([shown, shown - ts]);
    // receiveTime splits g2g into the path (capture → received: encoder, relay, network) and
    // the browser's own hold (received → shown: jitter buffer, decode, render).
    if (received !== undefined) st.parts.push([shown, received - ts, shown - received]);
  }

  async function join(whepPath) {
    st.t0 = rtc.wallNow();
    try {
      await rtc.allowLoopback();
      st.t0 = rtc.wallNow();  // the join starts here: permission is the browser's set-up, not the join
      const pc = new RTCPeerConnection({ iceServers: [] });  // no STUN: host candidates only
      st.pc = pc;
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addEventListener("iceconnectionstatechange", () => {
        const s = pc.iceConnectionState;
        if (s === "connected" || s === "completed") phase("ice_connected_ms");
        if (s === "failed" && !st.error) st.error = "ICE failed";
      });
      const video = document.getElementById("v");
      pc.addEventListener("track", (ev) => {
        video.srcObject = new MediaStream([ev.track]);
        video.play().catch((e) => { st.error = st.error || `play(): ${e}`; });
      });
      const { offer, gathered } = await rtc.loopbackOffer(pc);
      st.offer = offer; st.gathered = gathered;
      const { answer, location, ms } = await rtc.postOffer(whepPath, offer, "WHEP");
      st.phases.signalling_ms = ms;
      st.location = location;
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
      rtc.readFrames(video, onFrame, () => st.left);
    } catch (e) {
      st.error = st.error || `${e.name}: ${e.message}`;
    }
    return { t0: st.t0, error: st.error, gathered: st.gathered };
  }

  // Samples since the last drain (the panel accumulates them).
  function drain() {
    const out = {
      t0: st.t0, phases: st.phases, frames: st.frames, g2g: st.g2g, parts: st.parts,
      unreadable: st.unreadable, error: st.error,
      ice: st.pc ? st.pc.iceConnectionState : "new",
    };
    st.frames = []; st.g2g = []; st.parts = [];
    return out;
  }

  // Chromium's own counters: the video inbound-rtp entry.
  async function stats() {
    return st.pc ? { inbound: await rtc.statsEntry(st.pc, "inbound-rtp", "video") } : null;
  }

  async function leave() {
    st.left = true;
    if (st.location) {
      try { await fetch(st.location, { method: "DELETE" }); } catch (e) { /* the session ends with the pc */ }
    }
    if (st.pc) st.pc.close();
    return true;
  }

  return { join, drain, stats, leave };
})();
