"""The Sluice processes of the run, each a separate `sluice run` as under systemd: started, killed
(SIGKILL or SIGTERM) and restarted after a delay; a process that exits on its own is restarted too and
counted. A sampler records each process's peak VmRSS from /proc/<pid>/status."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from world import ROOT, http_status

# Every process a run starts, one "pid<TAB>connector file" line each: a run that dies before it stops
# them (a SIGKILLed harness) leaves them running, still writing the shared warehouse; the next run kills
# them first (`reap_leftovers`). Found the hard way: seed 31's warehouse sink met the versions a
# leftover warehouse sink of an aborted run kept writing into dw.
REGISTRY = ROOT / ".run/chaos/processes"


def register(pid: int, connector: Path) -> None:
    REGISTRY.parent.mkdir(parents=True, exist_ok=True)
    with open(REGISTRY, "a") as f:
        f.write(f"{pid}\t{connector}\n")


def reap_leftovers(log) -> int:
    """SIGKILLs the processes earlier runs registered that still run with their connector (or app) file
    (a pid that was reused by anything else is left alone). Returns how many were killed."""
    killed = 0
    try:
        lines = REGISTRY.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        pid_text, _, connector = line.partition("\t")
        try:
            pid = int(pid_text)
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (ValueError, OSError):
            continue
        if connector.encode() in argv:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
                log(f"killed a leftover of an earlier run: pid {pid} ({connector})")
            except OSError:
                pass
    REGISTRY.write_text("")
    return killed


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class SluiceProcess:
    def __init__(self, name: str, binary: Path, connector: Path, port: int, log: Path, environ: dict, app: bool = False):
        """`connector`: the connector file of `sluice run`, or with `app` the --config file of `sluice app`."""
        self.name, self.binary, self.connector, self.port, self.log = name, binary, connector, port, log
        self.app = app
        self.environ = environ
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.expected_down = False
        self.closed = False  # stopped for good: a fault or the supervisor must not start it again
        self.starts = 0
        self.unexpected_exits: list[tuple[float, int, subprocess.Popen]] = []
        self.peak_rss_kib = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, replacing: subprocess.Popen | None = None) -> None:
        """Starts the process unless it is closed or one of its processes still runs (never two at once:
        the second would hold the port and the group membership untracked). `replacing`: the supervisor's
        restart of that dead process, skipped if a fault has started or is stopping it meanwhile."""
        with self.lock:
            if self.closed:
                return
            if replacing is not None and (self.proc is not replacing or self.expected_down):
                return
            if self.proc is not None and self.proc.poll() is None:
                return
            handle = open(self.log, "ab")
            argv = ([str(self.binary), "app", "--http-port", str(self.port), "--config", str(self.connector)] if self.app
                    else [str(self.binary), "run", "--http-port", str(self.port), str(self.connector)])
            self.proc = subprocess.Popen(argv,
                                         cwd=ROOT, env=self.environ, stdout=handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            self.log_offset = handle.tell()
            handle.close()
            register(self.proc.pid, self.connector)
            self.starts += 1
            self.expected_down = False

    def pid(self) -> int | None:
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    def signal(self, sig: int, wait: float = 60.0) -> int | None:
        """Sends `sig` and waits for the exit (SIGKILL after `wait` s); the exit status."""
        with self.lock:
            self.expected_down = True
            p = self.proc
        if p is None or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        try:
            return p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None

    def stop(self, final: bool = False) -> int | None:
        """SIGTERM and wait; `final`: never started again (the end of the run)."""
        if final:
            with self.lock:
                self.closed = True
        return self.signal(signal.SIGTERM, wait=60)

    def wait_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while http_status(self.url + "/health/live") != 200:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer /health/live within {timeout:.0f} s")
            time.sleep(0.2)

    def poll(self) -> None:
        """Samples RSS; restarts the process (after 2 s, as systemd's RestartSec) if it died on its own."""
        with self.lock:
            p = self.proc
        if p is None:
            return
        if p.poll() is None:
            rss = rss_kib(p.pid)
            if rss:
                self.peak_rss_kib = max(self.peak_rss_kib, rss)
            return
        with self.lock:
            # The process that died must still be the current one: a fault may have started the next one
            # since (seed 300 counted that live process as an exit and started a second beside it).
            if self.proc is not p or self.expected_down or self.closed:
                return
            self.unexpected_exits.append((time.time(), p.returncode, p))
        time.sleep(2)
        self.start(replacing=p)

    def wait_for_log(self, text: str, timeout: float) -> bool:
        """Until the current process's log (what it wrote since its start) contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.log, "rb") as f:
                    f.seek(getattr(self, "log_offset", 0))
                    if text.encode() in f.read():
                        return True
            except OSError:
                pass
            time.sleep(0.5)
        return False

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Supervisor:
    """Polls every process every second (RSS, unexpected exits) on a thread of its own."""

    def __init__(self, processes: list[SluiceProcess]):
        self.processes = processes
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="supervisor", daemon=True)

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            for p in self.processes:
                p.poll()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
