"""Live alerting: Debian's Prometheus scrapes a running `sluice run` (connectors/credit-source.json against the
local world) with the shipped rules (their `for:` shortened), the test stops the source's SQL Server
(SIGSTOP of the staging emulator), SluiceComponentNotReady fires, Alertmanager (the shipped routing and
inhibition) delivers a Slack-shaped message to a stub webhook, the server is resumed and the resolved
message arrives. A second test drives Alertmanager's grouping and inhibition directly."""
from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting_support import ROOT, Daemon, Prometheus, free_port, http_json, wait_until

SLUICE = Path(os.environ.get("SLUICE_BINARY", ROOT / ".build" / "debug" / "sluice"))
STAGING_PID = ROOT / ".run" / "staging.pid"
NAME = "alerts-live-source"
COMPONENT = f"source.{NAME}.CreditStaging"


def source_connector(directory: Path) -> Path:
    """connectors/credit-source.json under its own name and topic prefix, with short SQL Server timeouts and
    backoff so a stopped server turns the source `down` within seconds and its return is noticed as fast."""
    connector = json.loads((ROOT / "connectors" / "credit-source.json").read_text())
    connector["name"] = NAME
    config = connector["config"]
    assert config["database.url"] == "${SLUICE_STAGING_URL}"
    config.update({
        "database.url": "${SLUICE_STAGING_URL}?queryTimeout=3&loginTimeout=3",
        "topic.prefix": "alerts-live",
        "retry.backoff.initial.ms": 200,
        "retry.backoff.max.ms": 1000,
    })
    path = directory / "source.json"
    path.write_text(json.dumps(connector, indent=2))
    return path


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


@pytest.fixture
def staging_emulator():
    """The staging emulator's PID; always resumed at the end, whatever the test did to it."""
    pid = int(STAGING_PID.read_text())
    os.kill(pid, 0)
    yield pid
    os.kill(pid, signal.SIGCONT)


def test_source_not_ready_alert_reaches_slack_and_resolves(tmp_path, slack, alertmanager, sluice_source, staging_emulator):
    daemon, port = sluice_source
    prometheus = Prometheus(tmp_path / "prometheus", [{"targets": [f"127.0.0.1:{port}"], "labels": {"process": "source"}}],
                            f"127.0.0.1:{alertmanager.port}")
    try:
        def component_up():
            daemon.check_running()
            result = prometheus.query(f'sluice_component_up{{component="{COMPONENT}"}}')
            return result and result[0]["value"][1]

        # Healthy: scraped, ready, and after several evaluations past the shortened `for:` nothing fires.
        wait_until(lambda: component_up() == "1", 120, f"{COMPONENT} to be scraped as ready\n{daemon.tail()}")
        assert prometheus.query('up{job="sluice"}')[0]["value"][1] == "1"
        healthy_since = datetime.now(timezone.utc)
        wait_until(lambda: all(datetime.fromisoformat(g["lastEvaluation"].replace("Z", "+00:00")[:26] + "+00:00")
                               > healthy_since + timedelta(seconds=5)
                               for g in http_json(prometheus.url + "/api/v1/rules")["data"]["groups"]),
                   30, "rule evaluations 5 s after the source became ready")
        assert [a for a in prometheus.alerts() if a["state"] == "firing"] == []
        assert slack.payloads() == []

        # The source's SQL Server stops answering: its queries time out, the source goes down.
        os.kill(staging_emulator, signal.SIGSTOP)
        wait_until(lambda: component_up() == "0", 60, f"{COMPONENT} to be scraped as not ready\n{daemon.tail()}")
        firing = wait_until(lambda: not_ready_messages(slack, "firing"), 60,
                            f"the firing Slack message; Prometheus alerts: {prometheus.alerts()}")[0]
        assert firing["color"] == "danger"
        assert f"{COMPONENT} on 127.0.0.1:{port} has not been ready for 5 minutes" in firing["text"]
        assert "Runbook: curl http://" in firing["text"] and "bring it back" in firing["text"]
        payload = next(p for p in slack.payloads() if firing in p["attachments"])
        assert payload["username"] and isinstance(payload["attachments"], list)

        # Repaired: the server answers again, the source reconnects, the alert resolves.
        os.kill(staging_emulator, signal.SIGCONT)
        wait_until(lambda: component_up() == "1", 90, f"{COMPONENT} to be ready again\n{daemon.tail()}")
        resolved = wait_until(lambda: not_ready_messages(slack, "resolved"), 60, "the resolved Slack message")[0]
        assert resolved["color"] == "good"
        assert COMPONENT in resolved["text"] and "Runbook" not in resolved["text"]
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
