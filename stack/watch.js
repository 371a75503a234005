// The livelab watch page's client: join, WHEP video, chat, votes, buy, countdown board.
//
// Plain browser JavaScript (no build step). `LivelabWatch.start({stack, room, market})` joins the
// room on the stack at `stack` (an origin; another origin works: the stack sends CORS headers),
// plays its video over WHEP and wires the page's elements (ids `ll-*`, see watch.html). It
// returns an object whose methods the page's buttons use, and tests call too:
//   ready           promise: resolves once joined and the WebSocket is open
//   sendChat(text)  promise: resolves with the server's echo of this message (the round trip)
//   vote(option)    sends a vote in the open poll
//   buy()           promise: resolves with the order JSON (201/200), rejects on an error answer
//   framesDecoded() promise: the video receiver's framesDecoded (getStats)
// Times from the server are epoch milliseconds.
"use strict";

const LivelabWatch = (() => {
  const $ = (id) => document.getElementById(id);
  const uid = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));

  async function joinRoom(stack, room, market) {
    // The stack's join is open (the load generator joins the same way): it issues a token
    // scoped to this room and viewer. A deployment with accounts puts its login in front of it.
    const viewerId = "web-" + uid().slice(0, 8);
    const res = await fetch(`${stack}/api/rooms/${encodeURIComponent(room)}/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ viewer_id: viewerId, market }),
    });
    if (!res.ok) throw new Error(`join: HTTP ${res.status} ${await res.text()}`);
    return { viewerId, ...(await res.json()) };
  }

  async function playWhep(whepUrl, video) {
    // Non-trickle WHEP: gather first (loopback host candidates are instant), then POST once.
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.ontrack = (ev) => {
      stream.addTrack(ev.track);
      video.srcObject = stream;
      video.play().catch(() => {}); // muted autoplay; a user gesture plays it otherwise
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, 2000); // send what we have after 2 s
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      };
    });
    const res = await fetch(whepUrl, {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw new Error(`WHEP: HTTP ${res.status} ${await res.text()}`);
    const location = new URL(res.headers.get("Location"), whepUrl).href;
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    addEventListener("pagehide", () => fetch(location, { method: "DELETE", keepalive: true }));
    return pc;
  }

  function start({ stack, room, market = "web" }) {
    const status = (text) => { $("ll-status").textContent = text; };
    const pendingChats = new Map(); // chat id -> resolve
    const board = new Map(); // event_id -> countdown message
    let session = null;
    let socket = null;
    let pc = null;
    let poll = null;
    let deal = null;

    function addChat(msg) {
      const li = document.createElement("li");
      const who = document.createElement("b");
      who.textContent = msg.from === session.viewerId ? "you" : msg.from;
      li.append(who, ": " + msg.text);
      $("ll-chat-log").append(li);
      li.scrollIntoView({ block: "end" });
    }

    function showPoll(msg) {
      poll = msg;
      const box = $("ll-poll");
      box.textContent = msg.question + " ";
      for (const option of msg.options) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = option;
        button.onclick = () => api.vote(option);
        box.append(button);
      }
    }

    function showBoard() {
      const list = $("ll-board");
      list.replaceChildren();
      const now = Date.now();
      for (const [id, msg] of board) {
        const left = Math.round((msg.at - now) / 1000);
        if (left < -5) { board.delete(id); continue; }
        const li = document.createElement("li");
        li.textContent = left > 0 ? `${msg.event} in ${left} s` : `${msg.event} now`;
        list.append(li);
      }
      if (!list.children.length) list.innerHTML = "<li>nothing announced yet</li>";
    }

    function onMessage(msg) {
      switch (msg.type) {
        case "batch": msg.messages.forEach(onMessage); break;
        case "welcome": if (msg.poll) showPoll(msg.poll); break;
        case "chat": {
          addChat(msg);
          const resolve = pendingChats.get(msg.id);
          if (resolve) { pendingChats.delete(msg.id); resolve(msg); }
          break;
        }
        case "poll": showPoll(msg); break;
        case "countdown": board.set(msg.event_id, msg); showBoard(); break;
        case "flash_deal":
          deal = msg;
          $("ll-deal").textContent =
            `${msg.sku}: ${(msg.price_cents / 100).toFixed(2)} (${msg.stock} left)`;
          break;
        case "viewers": status(`live · ${msg.count} watching`); break;
        case "error": status(`error: ${msg.code} ${msg.message}`); break;
      }
    }

    const api = {
      ready: null,
      async sendChat(text) {
        await api.ready;
        const id = uid();
        const echoed = new Promise((resolve) => pendingChats.set(id, resolve));
        socket.send(JSON.stringify({ type: "chat", id, text }));
        return echoed;
      },
      vote(option) {
        if (poll && socket) socket.send(JSON.stringify({ type: "vote", poll_id: poll.poll_id, option }));
      },
      async buy() {
        await api.ready;
        // One key per click: a retried request is the same order, a new click a new one.
        const body = deal ? { sku: deal.sku, qty: 1, price_cents: deal.price_cents }
                          : { sku: "live-item", qty: 1 };
        const res = await fetch(`${stack}/api/rooms/${encodeURIComponent(room)}/orders`, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            Authorization: `Bearer ${session.token}`,
            "Idempotency-Key": uid(),
          },
          body: JSON.stringify(body),
        });
        const answer = await res.json();
        if (!res.ok) throw new Error(`order: HTTP ${res.status} ${JSON.stringify(answer)}`);
        $("ll-order").textContent = `order ${answer.order_id} ${answer.status}`;
        return answer;
      },
      async framesDecoded() {
        if (!pc) return 0;
        let frames = 0;
        (await pc.getStats()).forEach((s) => {
          if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
        });
        return frames;
      },
    };

    api.ready = (async () => {
      session = await joinRoom(stack, room, market);
      socket = new WebSocket(session.ws_url);
      socket.onmessage = (ev) => onMessage(JSON.parse(ev.data));
      socket.onclose = (ev) => status(`chat closed (${ev.code})`);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("WebSocket failed"));
      });
      status("live");
    })();
    api.playing = api.ready.then(async () => { pc = await playWhep(session.whep_url, $("ll-video")); });
    api.playing.catch((err) => status(String(err)));
    setInterval(() => {
      showBoard();
      const now = Date.now();
      if (poll && poll.closes_at <= now) { poll = null; $("ll-poll").textContent = "no poll open"; }
      if (deal && deal.ends_at <= now) { deal = null; $("ll-deal").textContent = "no flash deal right now"; }
    }, 1000);

    $("ll-buy").onclick = () => api.buy().catch((err) => { $("ll-order").textContent = String(err); });
    $("ll-chat-form").onsubmit = (ev) => {
      ev.preventDefault();
      const text = $("ll-chat-text").value.trim();
      if (text) api.sendChat(text);
      $("ll-chat-text").value = "";
    };
    return api;
  }

  return { start };
})();
