"""Helpers and fixtures for the alerting tests: a stub Slack webhook, test copies of deploy/prometheus and
deploy/alertmanager rendered with short intervals, and Debian's Prometheus and Alertmanager on loopback."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def free_port() -> int:
    """A port the kernel picks (as port 0 does) for a server that must be told its port up front."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.25):
    """Polls `condition` until it returns a truthy value (which is returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, ValueError, KeyError, IndexError) as error:  # a server still starting refuses or answers half
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def http_json(url: str, data: object | None = None, timeout: float = 5):
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


class SlackStub:
    """A local stand-in for a Slack incoming webhook: records each JSON payload POSTed to it, answers `ok`."""

    def __init__(self):
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length))
                with stub.lock:
                    stub.messages.append({"path": self.path, "payload": payload})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0000/B0000/stub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict]:
        with self.lock:
            return [m["payload"] for m in self.messages]

    def attachments(self) -> list[dict]:
        return [a for p in self.payloads() for a in p.get("attachments", [])]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    stub = SlackStub()
    yield stub
    stub.close()


class Daemon:
    """A server process this test started; stopped by its PID."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict | None = None):
        self.name, self.log = name, log
        self.handle = log.open("wb")
        self.process = subprocess.Popen(argv, stdout=self.handle, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)

    def check_running(self):
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        self.handle.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


def render_rules(target: Path, shortened: dict[str, str]):
    """deploy/prometheus/rules as they ship, except the `for:` of the rules named in `shortened`, so the
    live test fires within seconds and nothing else can fire during it."""
    target.mkdir(parents=True)
    found = set()
    for source in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        document = yaml.safe_load(source.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in shortened:
                    rule["for"] = shortened[rule["alert"]]
                    found.add(rule["alert"])
        (target / source.name).write_text(yaml.safe_dump(document, sort_keys=False))
    assert found == set(shortened), f"no such rules: {set(shortened) - found}"


def render_alertmanager(directory: Path, webhook_url: str) -> Path:
    """deploy/alertmanager/alertmanager.yml with the webhook URL file in `directory` and short grouping times."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    url_file = directory / "slack-webhook-url"
    url_file.write_text(webhook_url + "\n")
    url_file.chmod(0o400)
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(url_file)
    config["route"].update(group_wait="1s", group_interval="2s", repeat_interval="1h")
    for route in config["route"].get("routes", []):
        route["repeat_interval"] = "1h"
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Alertmanager:
    def __init__(self, directory: Path, webhook_url: str):
        directory.mkdir(parents=True, exist_ok=True)
        config = render_alertmanager(directory, webhook_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        assert binary, "prometheus-alertmanager is not installed: run scripts/bootstrap"
        self.daemon = Daemon("alertmanager", [
            binary, f"--config.file={config}", f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
        ], directory / "alertmanager.log")
        wait_until(self.ready, 30, "Alertmanager to be ready")

    def ready(self) -> bool:
        self.daemon.check_running()
        with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
            return r.status == 200

    def post_alerts(self, alerts: list[dict]):
        http_json(self.url + "/api/v2/alerts", alerts)

    def stop(self):
        self.daemon.stop()


@pytest.fixture
def alertmanager(tmp_path, slack):
    am = Alertmanager(tmp_path / "alertmanager", slack.url)
    yield am
    am.stop()


class Prometheus:
    def __init__(self, directory: Path, targets: list[dict], alertmanager_address: str, shortened: dict[str, str]):
        directory.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        render_rules(directory / "rules", shortened)
        (directory / "targets").mkdir()
        (directory / "targets" / "sluice.yml").write_text(yaml.safe_dump(targets))
        (directory / "targets" / "alertmanager.yml").write_text(yaml.safe_dump([{"targets": [alertmanager_address]}]))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed: run scripts/bootstrap"
        self.daemon = Daemon("prometheus", [
            binary, f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--rules.alert.resend-delay=1s",
        ], directory / "prometheus.log")
        wait_until(self.ready, 30, "Prometheus to be ready")

    def ready(self) -> bool:
        self.daemon.check_running()
        with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
            return r.status == 200

    def query(self, expr: str) -> list[dict]:
        answer = http_json(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def alerts(self) -> list[dict]:
        return http_json(self.url + "/api/v1/alerts")["data"]["alerts"]

    def stop(self):
        self.daemon.stop()


@pytest.fixture
def world_env() -> dict:
    """The local world's addresses (make test, or `eval "$(scripts/services env)"`)."""
    env = dict(os.environ)
    missing = [k for k in ("SLUICE_STAGING_URL", "SLUICE_KAFKA_BOOTSTRAP") if not env.get(k)]
    if missing:
        pytest.fail(f"{', '.join(missing)} unset: start the local world (scripts/services up && eval \"$(scripts/services env)\")")
    return env
