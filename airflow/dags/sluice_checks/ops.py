"""Reads a `sluice run` process's operations endpoints: /health/ready and /metrics.

/health/ready answers `{"status": "up|not_ready", "components": {"<name>": {"status", "reason"}}}`
(200 when every component is up, 503 otherwise); the replica sink's component is
`sink.<connector name>`. /metrics has `sluice_sink_consumer_lag{connector,topic,partition}`: messages
the sink has not applied yet.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

LAG = re.compile(r'^sluice_sink_consumer_lag\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class SinkStatus:
    healthy: bool
    lag: float | None     # summed over the connector's partitions; None when the metric is absent
    detail: str


def fetch(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def consumer_lag(metrics_text: str, connector: str) -> float | None:
    total, seen = 0.0, False
    for line in metrics_text.splitlines():
        m = LAG.match(line.strip())
        if not m:
            continue
        labels = dict(LABEL.findall(m.group("labels")))
        if labels.get("connector") == connector:
            total += float(m.group("value"))
            seen = True
    return total if seen else None


def sink_status(base_url: str, connector: str = "replica-postgres") -> SinkStatus:
    """The sink's health component and lag. Healthy when its component is `up` (another component,
    e.g. the warehouse sink, being degraded does not hold the replica's marts back)."""
    base = base_url.rstrip("/")
    try:
        code, body = fetch(base + "/health/ready")
    except OSError as e:
        return SinkStatus(False, None, f"{base}/health/ready unreachable: {e}")
    try:
        components = json.loads(body).get("components", {})
    except ValueError:
        return SinkStatus(False, None, f"{base}/health/ready answered {code} with a body that is not JSON")
    name = f"sink.{connector}"
    component = components.get(name)
    if component is None:
        return SinkStatus(False, None, f"{base}/health/ready has no component {name!r} (components: {sorted(components)})")
    try:
        _, metrics = fetch(base + "/metrics")
    except OSError as e:
        return SinkStatus(False, None, f"{base}/metrics unreachable: {e}")
    lag = consumer_lag(metrics, connector)
    healthy = component.get("status") == "up"
    detail = f"{name} {component.get('status')}" + (f" ({component['reason']})" if component.get("reason") else "")
    detail += f", lag {'unknown' if lag is None else int(lag)} messages"
    return SinkStatus(healthy, lag, detail)
