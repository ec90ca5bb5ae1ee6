"""credit_marts' gate (sluice_checks/ops.py) against a stub operations endpoint: the replica sink's
health component and its consumer lag from /metrics decide."""
from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
from sluice_checks.ops import consumer_lag, sink_status  # noqa: E402

METRICS = """# TYPE sluice_sink_consumer_lag gauge
sluice_sink_consumer_lag{connector="warehouse-scd2",topic="credit.CreditStaging.dbo.customers",partition="0"} 900.0
sluice_sink_consumer_lag{connector="replica-postgres",topic="credit.CreditStaging.dbo.customers",partition="0"} 3.0
sluice_sink_consumer_lag{connector="replica-postgres",topic="credit.CreditStaging.dbo.repayments",partition="0"} 4
"""


@pytest.fixture()
def endpoint():
    state = {"code": 200, "health": {}, "metrics": METRICS}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(state["health"]) if self.path == "/health/ready" else state["metrics"]
            self.send_response(state["code"] if self.path == "/health/ready" else 200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_lag_sums_the_connectors_partitions_only() -> None:
    assert consumer_lag(METRICS, "replica-postgres") == 7.0
    assert consumer_lag(METRICS, "warehouse-scd2") == 900.0
    assert consumer_lag(METRICS, "other") is None


def test_healthy_replica_with_its_lag(endpoint) -> None:
    state, url = endpoint
    # The warehouse sink degraded makes /health/ready 503, but the replica's own component is up.
    state["code"] = 503
    state["health"] = {"status": "not_ready", "components": {
        "sink.replica-postgres": {"status": "up"}, "sink.warehouse-scd2": {"status": "degraded", "reason": "down"}}}
    s = sink_status(url)
    assert s.healthy and s.lag == 7.0, s


def test_degraded_replica_is_not_healthy(endpoint) -> None:
    state, url = endpoint
    state["code"] = 503
    state["health"] = {"status": "not_ready", "components": {
        "sink.replica-postgres": {"status": "degraded", "reason": "Postgres refused the connection"}}}
    s = sink_status(url)
    assert not s.healthy and "Postgres refused the connection" in s.detail


def test_missing_component_or_unreachable_endpoint(endpoint) -> None:
    state, url = endpoint
    state["health"] = {"status": "up", "components": {"source.credit-source.CreditStaging": {"status": "up"}}}
    assert not sink_status(url).healthy
    assert not sink_status("http://127.0.0.1:9").healthy
