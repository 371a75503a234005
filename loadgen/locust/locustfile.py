"""livelab's locustfile: viewer users replaying a plan, and the plan's load shape.

Run by `livelab run` (and by hand, e.g. for a Kubernetes worker fleet):

    locust -f loadgen/locust/locustfile.py --headless --host http://127.0.0.1:8080 \\
        --livelab-plan plan.json --livelab-out out/locust --csv out/locust/stats

Every measurement is a Locust request event whose *type* is the viewer's market and whose
*name* is the metric (`join_ms`, `ws_connect_ms`, `chat_rtt_ms`, `answer_ms`, `vote_ack_ms`,
`order_ms`, `referral_ms`), so Locust's tables read per market; exact samples go to
`samples.json` (see `loadgen.locust.samples`). With `--livelab-metrics-port`, the master serves
live Prometheus metrics (see `loadgen.locust.live_metrics`).
"""

from loadgen.locust import abort as _abort  # noqa: F401  (abortOnFail gates: --livelab-abort)
from loadgen.locust import live_metrics as _live_metrics  # noqa: F401  (--livelab-metrics-port)
from loadgen.locust import runtime as _runtime  # noqa: F401  (registers options and events)
from loadgen.locust.shape import PlanShape
from loadgen.locust.viewer import Viewer

__all__ = ["PlanShape", "Viewer"]
