"""Fixtures of the deployment tests (deploy/tests): the sluice binary, the local world's addresses,
a datagram listener standing in for systemd's notification socket, and a runner for `sluice run`.

Run them with the local world up (make test does):
    eval "$(scripts/services env)" && .venv/bin/pytest -q deploy/tests
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def sluice_binary() -> Path:
    for configuration in ("debug", "release"):
        path = REPO / ".build" / configuration / "sluice"
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail("no .build/debug/sluice: run `swift build` first (make test does)")


def world_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: start the local world and eval \"$(scripts/services env)\"")
    return value


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class DatagramListener:
    """A bound AF_UNIX SOCK_DGRAM socket (a path, or an abstract `@name`) collecting datagrams with
    their arrival times."""

    def __init__(self, directory: Path, abstract: bool = False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"sluice-notify-{uuid.uuid4().hex[:8]}"
        if abstract:
            self.address = "@" + name
            self.sock.bind("\0" + name)
        else:
            self.address = str(directory / name)
            self.sock.bind(self.address)
        self.sock.setblocking(False)
        self.received: list[tuple[float, str]] = []

    def poll(self) -> list[tuple[float, str]]:
        new = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            new.append((time.monotonic(), data.decode()))
        self.received += new
        return new

    def wait_for(self, predicate, timeout: float, what: str) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.poll():
                if predicate(item[1]):
                    return item
            time.sleep(0.01)
        raise AssertionError(f"no datagram {what} within {timeout} s; got {[m for _, m in self.received][-10:]}")

    def close(self):
        self.sock.close()
        if not self.address.startswith("@"):
            Path(self.address).unlink(missing_ok=True)


class SluiceRun:
    """`sluice run <files>` as a child process with its log in a file."""

    LISTENING = re.compile(r"Operations endpoints listening on http://[^:]+:(\d+)")

    def __init__(self, files: list[Path], log: Path, env: dict[str, str] | None = None, port: int = 0,
                 args: list[str] | None = None):
        self.log = log
        environment = dict(os.environ)
        environment.setdefault("SLUICE_LOG_LEVEL", "info")
        environment.update(env or {})
        self.handle = open(log, "ab")
        self.proc = subprocess.Popen(
            [str(sluice_binary()), "run", "--http-port", str(port), *(args or []), *map(str, files)],
            stdout=self.handle, stderr=subprocess.STDOUT, env=environment)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def port(self, timeout: float = 60) -> int:
        def found():
            if self.proc.poll() is not None:
                raise AssertionError(f"sluice exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            m = self.LISTENING.search(self.text())
            return int(m.group(1)) if m else None
        return wait_until(found, timeout, "the operations endpoints")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.handle.close()


@pytest.fixture
def listener(tmp_path):
    made = []

    def make(abstract: bool = False) -> DatagramListener:
        made.append(DatagramListener(tmp_path, abstract))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture
def sluice_runs():
    runs: list[SluiceRun] = []

    def start(*args, **kwargs) -> SluiceRun:
        runs.append(SluiceRun(*args, **kwargs))
        return runs[-1]

    yield start
    for run in runs:
        run.kill()


def http_get(port: int, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def world_pid(name: str) -> int:
    """The PID of a local-world service started by scripts/services (staging, warehouse, broker, pg)."""
    path = REPO / ".run" / f"{name}.pid"
    if not path.is_file():
        pytest.skip(f"{name} is not running from this checkout's .run/ (scripts/services up)")
    return int(path.read_text().strip())


def kafka_host_port() -> tuple[str, int]:
    host, port = world_env("SLUICE_KAFKA_BOOTSTRAP").rsplit(":", 1)
    return host, int(port)


def url_parts(variable: str):
    return urlparse(world_env(variable))
