// What the panel's two pages share (viewer.js, cohost.js): the wall clock, loopback-only
// non-trickle offers, and reading the frame barcode of every frame the compositor is about to
// show. All times are wall-clock ms since the epoch (the barcodes' clock).
"use strict";
const rtc = (() => {
  const wallNow = () => performance.timeOrigin + performance.now();
  const isLoopbackUdp = (line) => {
    const f = line.split(" ");
    return f[2].toLowerCase() === "udp" && f[4] === "127.0.0.1";
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

  // Chromium gathers loopback (with --allow-loopback-in-peer-connection) only for a page
  // allowed to capture; the fake camera grants that, and is stopped at once.
  async function allowLoopback() {
    const cam = await navigator.mediaDevices.getUserMedia({ video: true });
    cam.getTracks().forEach((t) => t.stop());
  }

  // The offer once every candidate is gathered (non-trickle). Chromium also gathers the
  // machine's other interfaces; the offer keeps only loopback UDP candidates (the panel checks
  // them again and refuses a join without any). Returns {offer, gathered: every candidate line}.
  async function loopbackOffer(pc) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 5000);
    const all = pc.localDescription.sdp.split("\r\n");
    return {
      gathered: all.filter((l) => l.startsWith("a=candidate:")),
      offer: all.filter((l) => !l.startsWith("a=candidate:") || isLoopbackUdp(l)).join("\r\n"),
    };
  }

  // POST an offer (WHEP or WHIP) to the page server; {answer, location, ms}. Throws on non-201.
  async function postOffer(path, offer, what) {
    const sent = wallNow();
    const resp = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/sdp" }, body: offer,
    });
    const answer = await resp.text();
    if (resp.status !== 201) throw new Error(`${what} POST: HTTP ${resp.status} ${answer.slice(0, 200)}`);
    return { answer, location: resp.headers.get("Location"), ms: wallNow() - sent };
  }

  // Read band 0 of every frame `video` is about to show (requestVideoFrameCallback);
  // onFrame(shown wall ms, barcode ms or null, received wall ms or undefined) per frame, until
  // stopped() is true.
  function readFrames(video, onFrame, stopped) {
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const each = (_now, meta) => {
      // expectedDisplayTime: when the compositor will show this frame (the "glass").
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      const w = meta.width, rows = 2 * barcodeBlockSize(meta.width);
      if (canvas.width !== w || canvas.height !== rows) { canvas.width = w; canvas.height = rows; }
      ctx.drawImage(video, 0, 0, w, rows, 0, 0, w, rows);
      const ts = decodeBarcode(ctx.getImageData(0, 0, w, rows).data, w, rows);
      // receiveTime: when the frame's last packet arrived.
      const received = meta.receiveTime === undefined ? undefined
        : performance.timeOrigin + meta.receiveTime;
      onFrame(shown, ts, received);
      if (!stopped()) video.requestVideoFrameCallback(each);
    };
    video.requestVideoFrameCallback(each);
  }

  // Chromium's own counters: the first `kind` entry of `type` in pc.getStats(), as plain JSON.
  async function statsEntry(pc, type, kind) {
    const report = await pc.getStats();
    let found = null;
    report.forEach((s) => { if (!found && s.type === type && s.kind === kind) found = s; });
    return found ? JSON.parse(JSON.stringify(found)) : null;
  }

  return { wallNow, allowLoopback, loopbackOffer, postOffer, readFrames, statsEntry };
})();
