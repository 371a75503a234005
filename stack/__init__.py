"""The reference streaming and interaction stack (`livelab stack serve`).

Light on import: the public names below load their modules on first use, and `stack.barcode`,
`stack.ready` and `stack.testing` pull in no aiortc, so media-panel and Locust processes can
import what they need. The server is `StackServer`, run by `run_server` (and by
`stack.serve.serve`, the `livelab stack serve` loop, not re-exported because it shares its
module's name); `WhipPublisher` is a WHIP client and `whep_offer`/`whep_leave` the WHEP
signalling core of every viewer (the test viewer is `loadgen.panel.WhepViewer`, on the panel's
receive path); `start_stack_process` and `running_stack` start one for a test. The modules behind
these names are internal;
`stack.standalone` publishes the synthetic host on its own (`livelab host`, WHIP or plain RTP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names

if TYPE_CHECKING:
    from stack.ice import (
        LOOPBACK,
        loopback_if_local,
        restore_ice_host_addresses,
        restrict_ice_to_loopback,
        rtc_configuration,
    )
    from stack.ledger import IdempotencyConflict, Ledger, Order
    from stack.metrics import LAG_BUCKETS_MS, Histogram, Registry
    from stack.options import FAULT_KEYS, StackOptions, parse_duration, parse_faults, parse_peaks
    from stack.ready import poll_until, read_ready, write_ready
    from stack.serve import run_server
    from stack.server import StackServer
    from stack.standalone import HostStream, RtpSender, publish_whip
    from stack.tasks import log_failure, spawn
    from stack.testing import (
        running_stack,
        running_stack_server,
        start_stack_process,
        stop_stack_process,
    )
    from stack.tokens import Claims, TokenError, TokenSigner
    from stack.whep_client import (
        WhipPublisher,
        whep_leave,
        whep_offer,
    )

__all__ = [
    "FAULT_KEYS",
    "LAG_BUCKETS_MS",
    "LOOPBACK",
    "Claims",
    "Histogram",
    "HostStream",
    "IdempotencyConflict",
    "Ledger",
    "Order",
    "Registry",
    "RtpSender",
    "StackOptions",
    "StackServer",
    "TokenError",
    "TokenSigner",
    "WhipPublisher",
    "log_failure",
    "loopback_if_local",
    "parse_duration",
    "parse_faults",
    "parse_peaks",
    "poll_until",
    "publish_whip",
    "read_ready",
    "restore_ice_host_addresses",
    "restrict_ice_to_loopback",
    "rtc_configuration",
    "run_server",
    "running_stack",
    "running_stack_server",
    "spawn",
    "start_stack_process",
    "stop_stack_process",
    "whep_leave",
    "whep_offer",
    "write_ready",
]

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "HostStream": "standalone",
    "RtpSender": "standalone",
    "publish_whip": "standalone",
    "LAG_BUCKETS_MS": "metrics",
    "Histogram": "metrics",
    "parse_peaks": "options",
    "StackServer": "server",
    "FAULT_KEYS": "options",
    "StackOptions": "options",
    "parse_duration": "options",
    "parse_faults": "options",
    "run_server": "serve",
    "running_stack": "testing",
    "running_stack_server": "testing",
    "start_stack_process": "testing",
    "stop_stack_process": "testing",
    "Claims": "tokens",
    "TokenError": "tokens",
    "TokenSigner": "tokens",
    "LOOPBACK": "ice",
    "loopback_if_local": "ice",
    "restore_ice_host_addresses": "ice",
    "restrict_ice_to_loopback": "ice",
    "rtc_configuration": "ice",
    "WhipPublisher": "whep_client",
    "whep_leave": "whep_client",
    "whep_offer": "whep_client",
    "poll_until": "ready",
    "read_ready": "ready",
    "write_ready": "ready",
    "IdempotencyConflict": "ledger",
    "Ledger": "ledger",
    "Order": "ledger",
    "Registry": "metrics",
    "log_failure": "tasks",
    "spawn": "tasks",
}


__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
