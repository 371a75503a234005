// One browser viewer: WHEP join (non-trickle: the offer carries every candidate), then read the
// frame barcode of every frame the compositor is about to show (requestVideoFrameCallback), and
// keep the samples until the panel drains them over the DevTools protocol (window.livelab).
// All times are wall-clock ms since the epoch (the host's barcode clock); phases are ms since
// the join started.
"use strict";
const livelab = (() => {
  const st = {
    t0: null, phases: {}, frames: [], g2g: [], parts: [], unreadable: 0, error: null,
    offer: null, gathered: [], location: null, pc: null, left: false,
  };
  const isLoopbackUdp = (line) => {
    const f = line.split(" ");
    return f[2].toLowerCase() === "udp" && f[4] === "127.0.0.1";
  };
  const wallNow = () => performance.timeOrigin + performance.now();
  const phase = (name, atMs) => {
    if (st.phases[name] === undefined) st.phases[name] = (atMs ?? wallNow()) - st.t0;
  };

  function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ICE gathering not done in ${timeoutMs} ms`)),
        timeoutMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  function watchFrames(video) {
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const onFrame = (_now, meta) => {
      // expectedDisplayTime: when the compositor will show this frame (the "glass").
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      phase("first_frame_ms", shown);
      st.frames.push(shown);
      const w = meta.width, rows = 2 * barcodeBlockSize(meta.width);
      if (canvas.width !== w || canvas.height !== rows) { canvas.width = w; canvas.height = rows; }
      ctx.drawImage(video, 0, 0, w, rows, 0, 0, w, rows);
      const ts = decodeBarcode(ctx.getImageData(0, 0, w, rows).data, w, rows);
      if (ts === null) { st.unreadable++; } else {
        st.g2g.push([shown, shown - ts]);
        // receiveTime: when the frame's last packet arrived. It splits g2g into the path
        // (capture → received: encoder, relay, network) and the browser's own hold (received
        // → shown: jitter buffer, decode, render).
        if (meta.receiveTime !== undefined) {
          const received = performance.timeOrigin + meta.receiveTime;
          st.parts.push([shown, received - ts, shown - received]);
        }
      }
      if (!st.left) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  async function join(whepPath) {
    st.t0 = wallNow();
    try {
      // Chromium gathers loopback (with --allow-loopback-in-peer-connection) only for a page
      // allowed to capture; the fake camera grants that, and is stopped at once.
      const cam = await navigator.mediaDevices.getUserMedia({ video: true });
      cam.getTracks().forEach((t) => t.stop());
      st.t0 = wallNow();  // the join starts here: permission is the browser's set-up, not the join
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
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 5000);
      // Chromium also gathers the machine's other interfaces; the offer keeps only loopback
      // UDP candidates (the panel checks them again and refuses a join without any).
      const all = pc.localDescription.sdp.split("\r\n");
      st.gathered = all.filter((l) => l.startsWith("a=candidate:"));
      st.offer = all.filter((l) => !l.startsWith("a=candidate:") || isLoopbackUdp(l)).join("\r\n");
      const sent = wallNow();
      const resp = await fetch(whepPath, {
        method: "POST", headers: { "Content-Type": "application/sdp" }, body: st.offer,
      });
      const answer = await resp.text();
      if (resp.status !== 201) throw new Error(`WHEP POST: HTTP ${resp.status} ${answer.slice(0, 200)}`);
      st.phases.signalling_ms = wallNow() - sent;
      st.location = resp.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
      watchFrames(video);
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

  // Chromium's own counters: the video inbound-rtp entry and the selected candidate pair.
  async function stats() {
    if (!st.pc) return null;
    const report = await st.pc.getStats();
    let inbound = null, pair = null;
    const byId = new Map();
    report.forEach((s) => {
      byId.set(s.id, s);
      if (s.type === "inbound-rtp" && s.kind === "video") inbound = s;
    });
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
    });
    const addr = (id) => { const c = id && byId.get(id); return c ? `${c.address}:${c.port}` : null; };
    return {
      inbound: inbound ? JSON.parse(JSON.stringify(inbound)) : null,
      local: pair ? addr(pair.localCandidateId) : null,
      remote: pair ? addr(pair.remoteCandidateId) : null,
    };
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
