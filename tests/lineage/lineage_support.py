"""Helpers of the lineage tests: a local OpenLineage HTTP endpoint, `sluice run` as a child process, the
local world's addresses, and connector files under the tests' own names and topic prefixes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SLUICE = Path(os.environ.get("SLUICE_BINARY", ROOT / ".build" / "debug" / "sluice"))


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    """Polls `condition` until it returns a truthy value (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class LineageEndpoint:
    """A stand-in for Marquez's `POST /api/v1/lineage` on 127.0.0.1 (a kernel-picked port): records each
    request's path, content type and JSON body and answers 201 as Marquez does."""

    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with endpoint.lock:
                    endpoint.requests.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                              "body": json.loads(body)})
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SluiceRun:
    """`sluice run <files>` started by the test, stopped with SIGTERM by its PID."""

    def __init__(self, files: list[Path], log: Path, env: dict, http_port: int = 0):
        assert SLUICE.is_file(), f"{SLUICE} is missing: swift build --product sluice (make test builds it first)"
        self.log = log
        self.handle = log.open("wb")
        self.process = subprocess.Popen([str(SLUICE), "run", *map(str, files), "--http-port", str(http_port)],
                                        stdout=self.handle, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)

    def tail(self, lines: int = 30) -> str:
        self.handle.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"sluice run did not stop within {timeout}s of SIGTERM:\n{self.tail()}")
        self.handle.close()
        return self.process.returncode


def connector(directory: Path, template: str, name: str, drop: list[str] = (), **config) -> Path:
    """connectors/<template>.json under another name, without the `drop` keys, with `config` overriding
    its keys (`a__b` stands for `a.b`)."""
    data = json.loads((ROOT / "connectors" / f"{template}.json").read_text())
    data["name"] = name
    for key in drop:
        data["config"].pop(key)
    data["config"].update({k.replace("__", "."): v for k, v in config.items()})
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def parse_url(url: str) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(url)


def ready_components(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except OSError:
        return {}
