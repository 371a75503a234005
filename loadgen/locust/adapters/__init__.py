"""Interaction adapters shipped with livelab (see `loadgen.locust.adapter` and docs/adapters.md).

- `reference:ReferenceAdapter` — livelab's own protocol (docs/protocol.md), the default;
- `socket_io:SocketIOAdapter` — a Socket.IO chat-and-order API (python-socketio client).

Nothing is imported here: each adapter module pulls in its own client libraries (gevent,
requests, python-socketio) only inside the Locust process that loads it.
"""

DEFAULT_ADAPTER = "loadgen.locust.adapters.reference:ReferenceAdapter"

__all__ = ["DEFAULT_ADAPTER"]
