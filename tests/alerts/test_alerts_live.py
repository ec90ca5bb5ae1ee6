"""Live alerting: Debian's Prometheus scrapes a running `sluice run` (connectors/credit-source.json against the
local world) with the shipped rules (SluiceComponentNotReady's `for:` shortened), the test stops the source's SQL Server
(the staging emulator of the local world), SluiceComponentNotReady fires, Alertmanager (the shipped routing and
inhibition) delivers a Slack-shaped message to a stub webhook, the resolved
message arrives once the server is started again. A second test drives Alertmanager's grouping and inhibition directly."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting_support import ROOT, Daemon, Prometheus, free_port, http_json, wait_until

SLUICE = Path(os.environ.get("SLUICE_BINARY", ROOT / ".build" / "debug" / "sluice"))
STAGING_PID = ROOT / ".run" / "staging.pid"
NAME = "alerts-live-source"
COMPONENT = f"source.{NAME}.CreditStaging"


def source_connector(directory: Path) -> Path:
    """connectors/credit-source.json under its own name and topic prefix, with a short retry backoff so the
    server's return is noticed within a second."""
    connector = json.loads((ROOT / "connectors" / "credit-source.json").read_text())
    connector["name"] = NAME
    connector["config"].update({
        "topic.prefix": "alerts-live",
        "retry.backoff.initial.ms": 200,
        "retry.backoff.max.ms": 1000,
    })
    path = directory / "source.json"
    path.write_text(json.dumps(connector, indent=2))
    return path


def parse_time(text: str) -> datetime:
    """Prometheus's RFC 3339 times carry up to nanoseconds; datetime takes microseconds."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert match, text
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def not_ready_messages(slack, status: str) -> list[dict]:
    return [a for a in slack.attachments() if a.get("title", "").startswith(f"SluiceComponentNotReady ({status}")]


@pytest.fixture
def sluice_source(tmp_path, world_env):
    assert SLUICE.is_file(), f"{SLUICE} is missing: swift build --product sluice (make test builds it first)"
    port = free_port()
    daemon = Daemon("sluice", [str(SLUICE), "run", str(source_connector(tmp_path)), "--http-port", str(port)],
                    tmp_path / "sluice.log", env=world_env)
    yield daemon, port
    daemon.stop()


class StagingServer:
    """The local world's staging SQL Server (the emulator scripts/services started): stopped by its PID,
    started again by `scripts/services up`, which starts only what is not running."""

    def __init__(self, env: dict):
        self.env = env

    def stop(self):
        pid = int(STAGING_PID.read_text())
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not pid_alive(pid), 30, f"the staging emulator (pid {pid}) to stop")

    def start(self):
        subprocess.run([str(ROOT / "scripts" / "services"), "up"], env=self.env, check=True, timeout=120,
                       stdout=subprocess.DEVNULL)


def pid_alive(pid: int) -> bool:
    """True while the process runs (a zombie waiting for its parent counts as stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def staging_server(world_env):
    """Always running again at the end, whatever the test did to it."""
    assert STAGING_PID.is_file() and pid_alive(int(STAGING_PID.read_text())), "the staging emulator is not running: scripts/services up"
    server = StagingServer(world_env)
    yield server
    server.start()


def test_source_not_ready_alert_reaches_slack_and_resolves(tmp_path, slack, alertmanager, sluice_source, staging_server):
    daemon, port = sluice_source

    def source_ready():
        daemon.check_running()
        return http_status(f"http://127.0.0.1:{port}/health/ready") == 200

    # Scraping starts once the source has finished starting (its snapshot): in production `for: 5m`
    # covers a start, here the shortened `for:` would not.
    wait_until(source_ready, 120, f"sluice run to be ready\n{daemon.tail()}")
    prometheus = Prometheus(tmp_path / "prometheus", [{"targets": [f"127.0.0.1:{port}"], "labels": {"process": "source"}}],
                            f"127.0.0.1:{alertmanager.port}", shortened={"SluiceComponentNotReady": "3s"})
    try:
        def component_up():
            daemon.check_running()
            result = prometheus.query(f'sluice_component_up{{component="{COMPONENT}"}}')
            return result and result[0]["value"][1]

        # Healthy: scraped, ready, and after several evaluations past the shortened `for:` nothing fires
        # (the other rules keep their shipped `for:` and cannot fire within this test).
        wait_until(lambda: component_up() == "1", 30, f"{COMPONENT} to be scraped as ready\n{daemon.tail()}")
        assert prometheus.query('up{job="sluice"}')[0]["value"][1] == "1"
        healthy_since = datetime.now(timezone.utc)
        wait_until(lambda: all(parse_time(g["lastEvaluation"]) > healthy_since + timedelta(seconds=5)
                               for g in http_json(prometheus.url + "/api/v1/rules")["data"]["groups"]),
                   30, "rule evaluations 5 s after the source became ready")
        assert [a for a in prometheus.alerts() if a["state"] == "firing"] == []
        assert slack.payloads() == []

        # The source's SQL Server stops: the session fails, reconnecting is refused, the source is down.
        staging_server.stop()
        wait_until(lambda: component_up() == "0", 60, f"{COMPONENT} to be scraped as not ready\n{daemon.tail()}")
        firing = wait_until(lambda: not_ready_messages(slack, "firing"), 60,
                            f"the firing Slack message; Prometheus alerts: {prometheus.alerts()}")[0]
        assert firing["color"] == "danger"
        assert f"{COMPONENT} on 127.0.0.1:{port} has not been ready for 5 minutes" in firing["text"]
        assert "Runbook: curl http://" in firing["text"] and "bring it back" in firing["text"]
        payload = next(p for p in slack.payloads() if firing in p["attachments"])
        assert payload["username"] and isinstance(payload["attachments"], list)

        # Repaired: the server runs again, the source reconnects, the alert resolves.
        staging_server.start()
        wait_until(lambda: component_up() == "1", 90, f"{COMPONENT} to be ready again\n{daemon.tail()}")
        resolved = wait_until(lambda: not_ready_messages(slack, "resolved"), 60, "the resolved Slack message")[0]
        assert resolved["color"] == "good"
        assert f"resolved: *{COMPONENT} on 127.0.0.1:{port}" in resolved["text"] and "Runbook" not in resolved["text"]
        # One outage, one firing message: nothing else was sent.
        assert len(not_ready_messages(slack, "firing")) == 1
        assert {a["title"].split(" ")[0] for a in slack.attachments()} == {"SluiceComponentNotReady"}
    finally:
        prometheus.stop()


def test_grouping_and_inhibition_send_one_message_per_cause(slack, alertmanager):
    """A process down inhibits its own not-ready alert; other instances' not-ready alerts share one message."""
    now = datetime.now(timezone.utc)
    starts = now.isoformat().replace("+00:00", "Z")

    def alert(name, instance, **labels):
        return {"labels": {"alertname": name, "instance": instance, "job": "sluice", "severity": "critical", **labels},
                "annotations": {"summary": f"{name} {instance}", "runbook": f"fix {instance}"}, "startsAt": starts}

    alertmanager.post_alerts([
        alert("SluiceProcessDown", "x:8083", process="source"),
        alert("SluiceComponentNotReady", "x:8083", component="source.credit-source.CreditStaging"),
        alert("SluiceComponentNotReady", "y:8084", component="sink.replica-postgres"),
        alert("SluiceComponentNotReady", "z:8085", component="sink.sluice-warehouse"),
    ])
    wait_until(lambda: len(slack.attachments()) >= 2, 30, f"two Slack messages, got {slack.payloads()}")
    by_title = {a["title"]: a for a in slack.attachments()}
    assert set(by_title) == {"SluiceProcessDown (firing, 1)", "SluiceComponentNotReady (firing, 2)"}, by_title
    not_ready = by_title["SluiceComponentNotReady (firing, 2)"]["text"]
    assert "SluiceComponentNotReady y:8084" in not_ready and "SluiceComponentNotReady z:8085" in not_ready
    assert "x:8083" not in not_ready
    assert "Runbook: fix y:8084" in not_ready
    # Alertmanager itself reports the inhibited alert as suppressed by the process-down alert.
    suppressed = [a for a in http_json(alertmanager.url + "/api/v2/alerts") if a["status"]["state"] == "suppressed"]
    assert [(a["labels"]["alertname"], a["labels"]["instance"]) for a in suppressed] == [("SluiceComponentNotReady", "x:8083")]
