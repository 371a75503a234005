"""Pure parts of the run: measured experience, the closed loop's QoE lists, validity, commands."""

from __future__ import annotations

import http.server
import threading

import numpy as np
import pytest

from livelab.errors import ConfigError, TargetError
from loadgen.locust.samples import SampleBook, percentile, read_samples
from loadgen.run.closed_loop import MAX_SAMPLES, measured_qoe, scenario_with_qoe
from loadgen.run.commands import LocustSpec, locust_commands, panel_command
from loadgen.run.finish import validity
from loadgen.run.measured import experience, market_of_profile
from loadgen.run.progress import Status
from loadgen.run.target import HealthMonitor, check_allowed, wait_healthy
from scenarios import load_scenario


def _book() -> SampleBook:
    book = SampleBook()
    for v in (10.0, 20.0, 30.0):
        book.add("chat_rtt_ms", "ID", "ID-4g", v, True, 1.0)
    book.add("chat_rtt_ms", "GB", "GB-wifi", 100.0, True, 2.0)
    book.add("join_ms", "GB", "GB-wifi", 5.0, True, 0.5)
    book.add("order_ms", "GB", "GB-wifi", 0.0, False, 3.0)
    book.add("start_lag_ms", "GB", "GB-wifi", 3.0, True, 0.5)  # health: not a request
    return book


def test_percentile_matches_numpy():
    data = [5.0, 1.0, 3.0, 10.0, 7.5]
    for q in (0, 50, 95, 99, 100):
        assert percentile(data, q) == pytest.approx(np.percentile(data, q))
    assert np.isnan(percentile([], 50))


def test_sample_book_ships_each_row_once_and_round_trips(tmp_path):
    book = _book()
    assert len(book.take_new()) == 7 and book.take_new() == []
    book.add("join_ms", "ID", "ID-4g", 1.0, True, 9.0)
    assert [r[3] for r in book.take_new()] == [1.0]
    book.save(tmp_path / "s.json")
    again = read_samples(tmp_path / "s.json")
    assert again.rows == book.rows
    assert again.p95s() == {"chat_rtt_ms": pytest.approx(percentile([10, 20, 30, 100], 95), 0.01),
                            "join_ms": 4.8}  # fmt: skip


def test_experience_overall_market_profile_and_error_rate():
    exp = experience(_book(), ["ID", "GB"])
    chat = exp["overall"]["chat_rtt_ms"]
    assert chat["n"] == 4 and chat["p50"] == 25.0 and chat["mean"] == 40.0
    assert exp["markets"]["ID"]["chat_rtt_ms"]["p50"] == 20.0
    # 6 requests (the start lag is generator health), 1 failed order.
    assert exp["overall"]["error_rate"]["value"] == pytest.approx(1 / 6)
    assert exp["markets"]["GB"]["error_rate"]["value"] == pytest.approx(1 / 3)
    assert "order_ms" not in exp["overall"]  # only failures: no latency distribution
    assert set(exp["profiles"]) == {"ID-4g", "GB-wifi"}


def test_experience_merges_panel_figures_per_profile_and_market():
    panel_metrics = {
        "overall": {"g2g_latency_ms": {"p50": 90.0, "p95": 120.0, "p99": 130.0, "mean": 95.0,
                                       "n": 40}},
        "profiles": {"ID-4g": {"g2g_latency_ms": {"p50": 80.0}, "freeze_ratio": {"value": 0.01}}},
    }  # fmt: skip
    panel = {"viewers": [
        {"profile": "ID-4g", "stats": {"g2g_latency_ms": {"p50": 70.0}, "first_frame_ms": 300.0}},
        {"profile": "ID-4g", "stats": {"g2g_latency_ms": {"p50": 90.0}, "first_frame_ms": 500.0}},
        {"profile": "GB-wifi", "stats": {"g2g_latency_ms": {"p50": 200.0}}},
    ]}  # fmt: skip
    exp = experience(_book(), ["ID", "GB"], panel_metrics, panel)
    assert exp["overall"]["g2g_latency_ms"]["p95"] == 120.0
    assert exp["profiles"]["ID-4g"]["freeze_ratio"] == {"value": 0.01}
    assert exp["markets"]["ID"]["g2g_latency_ms"]["p50"] == 80.0
    assert exp["markets"]["ID"]["first_frame_ms"]["n"] == 2
    assert exp["markets"]["GB"]["g2g_latency_ms"]["n"] == 1


def test_market_of_profile_prefers_the_longest_code():
    assert market_of_profile("US-E-4g", ["US", "US-E"]) == "US-E"
    assert market_of_profile("ID-wifi", ["ID", "GB"]) == "ID"
    assert market_of_profile("delay 10ms", ["ID"]) is None


def test_measured_qoe_adds_the_modelled_path_and_caps_lists():
    book = _book()
    rtts = {"ID-4g": np.array([50.0, 50.0]), "GB-wifi": np.array([200.0])}
    panel = {
        "viewers": [
            {
                "profile": "ID-4g",
                "first_frame_ms": 400.0,
                "stats": {"g2g_latency_ms": {"p50": 60.0}, "freeze_ratio": 2.0},
            }
        ]
    }
    profiles = ["ID-wifi", "ID-4g", "GB-wifi", "SA-4g"]
    qoe = measured_qoe(book, profiles, path_rtt_ms=rtts, panel=panel, add_path=True,
                       host_delay_ms=500.0, seed=1)  # fmt: skip
    assert qoe["ID-4g"]["chat_rtt_ms"] == [60.0, 70.0, 80.0]
    assert qoe["GB-wifi"] == {"chat_rtt_ms": [300.0]}
    assert qoe["ID-4g"]["g2g_latency_ms"] == [560.0]  # synthetic host + the declared pipeline
    assert qoe["ID-4g"]["rebuffer_ratio"] == [1.0]  # clipped to a ratio
    assert qoe["ID-4g"]["startup_ms"] == [400.0]
    assert "SA-4g" not in qoe and "ID-wifi" not in qoe  # unmeasured: the model is kept
    plain = measured_qoe(book, ["ID-4g"], path_rtt_ms=rtts, panel=None, add_path=False,
                         host_delay_ms=0.0, seed=1)  # fmt: skip
    assert plain["ID-4g"]["chat_rtt_ms"] == [10.0, 20.0, 30.0]
    big = SampleBook()
    for i in range(MAX_SAMPLES * 3):
        big.add("chat_rtt_ms", "ID", "ID-4g", float(i), True, 0.0)
    capped = measured_qoe(big, ["ID-4g"], path_rtt_ms={}, panel=None, add_path=False,
                          host_delay_ms=0.0, seed=1)["ID-4g"]["chat_rtt_ms"]  # fmt: skip
    assert len(capped) == MAX_SAMPLES and capped[0] == 0.0 and capped[-1] == MAX_SAMPLES * 3 - 1


def test_scenario_with_qoe_sets_lists_per_profile_and_keeps_other_markets():
    scenario = load_scenario("scenarios/demo.toml")
    again = scenario_with_qoe(scenario, {"ID-4g": {"chat_rtt_ms": [900.0, 950.0]}})
    qoe = again.market("ID").qoe
    assert qoe.profiles["ID-4g"].chat_rtt_ms == [900.0, 950.0]
    assert qoe.chat_rtt_ms is None  # the market's other profiles keep the model
    assert again.market("GB").qoe == scenario.market("GB").qoe
    assert again.load == scenario.load


def test_validity_names_every_reason():
    book = _book()
    assert validity(book, None, max_start_lag_ms=2000, interrupted=False) == (True, [])
    book.notes = {"start_lag_p95_ms": 2500.0, "cpu_warning": True, "cpu_max": 97.0}
    valid, notes = validity(book, {"meta": {"valid": False, "notes": ["cpu 99 %"]}},
                            max_start_lag_ms=2000, interrupted=True)  # fmt: skip
    assert not valid
    assert [n.split()[0] for n in notes] == ["interrupted", "Locust", "Locust", "media"]
    assert validity(SampleBook(), None, max_start_lag_ms=1, interrupted=False) == (
        False, ["no measurements were taken"])  # fmt: skip


def test_locust_commands_local_and_distributed(tmp_path):
    local = locust_commands(
        LocustSpec(host="http://127.0.0.1:1", plan=tmp_path / "p", out=tmp_path)
    )
    assert list(local) == ["locust"] and "--headless" in local["locust"]
    assert "--master" not in local["locust"]
    dist = locust_commands(LocustSpec(host="http://127.0.0.1:1", plan=tmp_path / "p",
                                      out=tmp_path, workers=2, web=True))  # fmt: skip
    assert list(dist) == ["locust", "locust-worker-0", "locust-worker-1"]
    master = dist["locust"]
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "2"
    assert "--autostart" in master and "--headless" not in master
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert "--worker" in dist["locust-worker-1"]
    assert dist["locust-worker-1"][dist["locust-worker-1"].index("--livelab-workers") + 1] == "2"
    cmd = panel_command("http://127.0.0.1:1/whep/demo", {"ID-4g": 2, "GB-wifi": 1}, 5, 60.0,
                        tmp_path, seed=3)  # fmt: skip
    assert cmd[cmd.index("--profiles") + 1] == "GB-wifi:1,ID-4g:2"
    assert cmd[cmd.index("--viewers") + 1] == "3" and cmd[cmd.index("--probes") + 1] == "3"


def test_check_allowed_and_unreachable_target():
    check_allowed("http://127.0.0.1:8080", allow_remote=False)
    check_allowed("http://localhost:8080", allow_remote=False)
    check_allowed("http://127.0.0.2:8080", allow_remote=False)  # all of 127.0.0.0/8 is loopback
    check_allowed("http://[::1]:8080", allow_remote=False)
    check_allowed("http://10.0.0.1:8080", allow_remote=True)
    for bad in ("http://10.0.0.1:8080", "ftp://127.0.0.1/", "nonsense"):
        with pytest.raises(ConfigError):
            check_allowed(bad, allow_remote=False)
    with socket_closed() as url, pytest.raises(TargetError, match="not answering"):
        wait_healthy(url, timeout_s=0.5)


class socket_closed:
    def __enter__(self) -> str:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{s.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        return None


class _Health(http.server.BaseHTTPRequestHandler):
    up = True

    def do_GET(self) -> None:
        self.send_response(200 if _Health.up else 503)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


def test_health_monitor_records_an_outage_window():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ticks = iter(range(1000))
    monitor = HealthMonitor(f"http://127.0.0.1:{server.server_port}", lambda: float(next(ticks)),
                            interval_s=0.02)  # fmt: skip
    try:
        monitor.start()
        _wait_for(lambda: monitor.checks >= 2)
        _Health.up = False
        _wait_for(lambda: monitor.down)
        _Health.up = True
        _wait_for(lambda: not monitor.down)
    finally:
        monitor.stop()
        server.shutdown()
        server.server_close()
        _Health.up = True
    assert len(monitor.outages) == 1
    start, end = monitor.outages[0]
    assert end is not None and end > start


def _wait_for(cond, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_status_line_reads_like_a_log_line():
    s = Status(phase="load", elapsed_s=12.4, remaining_s=30.0, users=5, active=3, scripts=9,
               started=4, panel_viewers=2, samples=10, errors=1,
               p95={"chat_rtt_ms": 12.3, "ws_connect_ms": 2.0})  # fmt: skip
    assert s.line() == (
        "[load] 12 s, 30 s left | users 5, viewers 3 active / 4 of 9 started, panel 2 | "
        "samples 10, errors 1 | p95 ms: chat_rtt=12"
    )


def test_progress_live_display_renders_to_a_console():
    import io

    from rich.console import Console

    from loadgen.run.progress import Progress

    status = Status(phase="load", p95={"chat_rtt_ms": 12.0})
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with Progress(status, clock=lambda: 0.0, live=True, console=console) as progress:
        progress.refresh()
        progress.say("hello")
    text = console.file.getvalue()
    assert "hello" in text and "chat_rtt_ms 12.0" in text


def test_the_report_is_written_in_process_and_recorded_in_the_index(tmp_path, monkeypatch):
    import reports
    from loadgen.run import finish
    from reports import RunIndex, new_document, write_metrics

    index = tmp_path / "index.sqlite"
    monkeypatch.setenv("LIVELAB_RUNS", str(index))
    out = tmp_path / "run"
    (out / "logs").mkdir(parents=True)
    write_metrics(out, new_document({"kind": "run", "valid": True, "notes": []}))
    html = finish._report(out)
    assert html == out / "report.html" and html.is_file() and (out / "summary.md").is_file()
    assert RunIndex(index).find_run(out) is not None
    assert (out / "logs" / "report.log").read_text().startswith(f"report: {html}")

    def broken(run_dir):  # a fault the real report cannot be made to produce
        raise KeyError("boom")

    monkeypatch.setattr(reports, "write_report", broken)
    assert finish._report(out) is None  # the run still writes run.json after this
    assert "no report: 'boom'" in (out / "logs" / "report.log").read_text()
