"""The Locust viewer's co-host actions against the real stack (its own process, gevent's world):
raise a hand, get the invitation, accept, leave; a second viewer sees the broadcasts unharmed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stack.testing import start_stack_process, stop_stack_process

pytestmark = pytest.mark.slow

# Runs in its own interpreter: the viewer client is gevent code (Locust's world).
_COHOST = """
import sys
from gevent import monkey
monkey.patch_all()
import gevent
from loadgen.locust.client import ViewerClient
from loadgen.plan.document import Script

def script(i):
    return Script(id=f"v{i}", market="ID", access="4g", profile="ID-4g", referred=False,
                  carried=False, start_s=0.0, end_s=5.0, actions=())

rows = []
clients = [ViewerClient(sys.argv[1], "demo", script(i), lambda *row: rows.append(row))
           for i in range(3)]
for c in clients:
    assert c.join() and c.connect()
guest, other, late = clients
guest.cohost()
for _ in range(100):
    if any(r[0] == "cohost_accept_ms" for r in rows):
        break
    gevent.sleep(0.05)
late.cohost()  # the one slot is taken: an error frame answers the raised hand
gevent.sleep(1.0)
guest.cohost_leave()
guest.cohost_leave()  # twice: nothing left to leave is not a failure
other.chat()
gevent.sleep(1.0)
for name in ("cohost_invite_ms", "cohost_accept_ms", "chat_rtt_ms"):
    print(name, sorted({(r[2], r[3]) for r in rows if r[0] == name}))
print("connected", other.connected, guest.connected)
for c in clients:
    c.close(0.0, lambda: True)
"""


def test_locust_viewer_goes_on_air_and_others_tolerate_it() -> None:
    proc, url = start_stack_process(["--host", "none", "--max-guests", "1"], timeout_s=30)
    try:
        run = subprocess.run(
            [sys.executable, "-c", _COHOST, url],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        stop_stack_process(proc)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.strip().splitlines())
    # The guest's invitation and acceptance succeeded; the late hand was refused (slots full).
    assert (
        lines["cohost_invite_ms"]
        == "[(False, 'guest_slots_full: all 1 guest slots taken'), (True, None)]"
    )
    assert lines["cohost_accept_ms"] == "[(True, None)]"
    assert lines["chat_rtt_ms"] == "[(True, None)]"
    assert lines["connected"] == "True True"
