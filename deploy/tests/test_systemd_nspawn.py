"""The shipped units under a real systemd: a Debian 12 root (scripts/systemd-root, cached under .run/)
booted with systemd-nspawn, the statically linked sluice (scripts/build-static) and
deploy/systemd/sluice@.service with the credit-source drop-in, against the local world on the host's
loopback (nspawn shares the host's network). Checks that systemd reports the unit active after READY,
restarts it after kill -9 and after a watchdog timeout (the staging SQL Server frozen with SIGSTOP, so
the source wedges and its pings stop: Result=watchdog), and that the password reached the connector
through LoadCredential= and ${file:${CREDENTIALS_DIRECTORY}/staging-password}, never the environment.

Needs root, debootstrap and systemd-container (scripts/bootstrap installs them)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DEPLOY, REPO, http_get, url_parts, wait_until, world_env, world_pid

UNIT = "sluice@credit-source.service"
HTTP_PORT = 18310
WATCHDOG_SEC = 3


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def root() -> Path:
    if os.geteuid() != 0:
        pytest.skip("systemd-nspawn needs root")
    if not shutil.which("systemd-nspawn"):
        pytest.fail("systemd-nspawn missing: run scripts/bootstrap")
    return Path(run(str(REPO / "scripts" / "systemd-root"), timeout=900).stdout.strip())


@pytest.fixture(scope="module")
def static_sluice() -> Path:
    return Path(run(str(REPO / "scripts" / "build-static"), timeout=1800).stdout.strip())


def install(root: Path, binary: Path):
    staging = url_parts("SLUICE_STAGING_URL")
    broker = world_env("SLUICE_KAFKA_BOOTSTRAP")
    shutil.copy2(binary, root / "usr/local/bin/sluice")
    system = root / "etc/systemd/system"
    shutil.copy2(DEPLOY / "systemd/sluice@.service", system / "sluice@.service")
    dropins = system / f"{UNIT}.d"
    shutil.rmtree(dropins, ignore_errors=True)
    shutil.copytree(DEPLOY / f"systemd/{UNIT}.d", dropins)
    # The test's own port and a short watchdog, progress timeout and restart delay.
    (dropins / "zz-test.conf").write_text(
        "[Service]\n"
        f"Environment=SLUICE_HTTP_PORT={HTTP_PORT}\n"
        "Environment=SLUICE_PROGRESS_TIMEOUT=10\n"
        f"WatchdogSec={WATCHDOG_SEC}s\n"
        "RestartSec=2s\n")
    wants = system / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / UNIT
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to("/etc/systemd/system/sluice@.service")

    etc = root / "etc/sluice"
    shutil.rmtree(etc, ignore_errors=True)
    (etc / "connectors").mkdir(parents=True)
    shutil.copy2(DEPLOY / "systemd/connectors/credit-source.json", etc / "connectors/credit-source.json")
    env = (DEPLOY / "systemd/sluice.env").read_text()
    env = env.replace("SLUICE_KAFKA_BOOTSTRAP=127.0.0.1:19092", f"SLUICE_KAFKA_BOOTSTRAP={broker}")
    env = env.replace("SLUICE_STAGING_PORT=21433", f"SLUICE_STAGING_PORT={staging.port}")
    assert staging.password not in env
    (etc / "sluice.env").write_text(env)
    credentials = etc / "credentials"
    credentials.mkdir(mode=0o700)
    secret = credentials / "staging-password"
    secret.write_text(staging.password + "\n")
    secret.chmod(0o600)


class Machine:
    """The booted container; commands run inside it through nsenter into its PID 1."""

    def __init__(self, root: Path, log: Path):
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(root), "-b", "--register=no", "--keep-unit", "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.leader = wait_until(self._leader, 30, "the container's init")

    def _leader(self):
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        for pid in children:
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue  # a short-lived helper nspawn forked (before it execs init) is already gone
            if comm == "systemd":
                return int(pid)
        return None

    def sh(self, command: str, check: bool = True) -> str:
        result = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-p", "-r", "-w", "sh", "-c", command],
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{command}: exit {result.returncode}\n{result.stdout}{result.stderr}")
        return result.stdout

    def show(self, *properties: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {UNIT} " + " ".join(f"-p {p}" for p in properties), check=False)
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def poweroff(self):
        if self.proc.poll() is None:
            subprocess.run(["kill", "-RTMIN+4", str(self.leader)])  # systemd: poweroff
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_state(machine: Machine, timeout: float, what: str, **expected: str) -> dict[str, str]:
    def matches():
        state = machine.show("ActiveState", "SubState", "Result", "NRestarts", "MainPID", "StatusText")
        return state if all(state.get(k) == v for k, v in expected.items()) else None
    try:
        return wait_until(matches, timeout, what, interval=0.2)
    except AssertionError:
        journal = machine.sh(f"journalctl -u {UNIT} --no-pager | tail -n 40", check=False)
        raise AssertionError(f"{what}: state {machine.show('ActiveState', 'SubState', 'Result', 'NRestarts')}\n{journal}")


def test_units_under_real_systemd(root, static_sluice, tmp_path):
    install(root, static_sluice)
    staging_pid = world_pid("staging")
    started = time.monotonic()
    machine = Machine(root, tmp_path / "nspawn.log")
    try:
        # Active (Type=notify: only after READY=1), and /health/ready answers 200 on the host's loopback.
        state = wait_state(machine, 120, "active after READY", ActiveState="active", SubState="running")
        assert state["StatusText"].startswith("ready:"), state
        assert http_get(HTTP_PORT, "/health/ready")[0] == 200
        boot_to_ready = time.monotonic() - started

        # The credential reached the connector (it logged in to staging with it) and nothing else holds it.
        password = url_parts("SLUICE_STAGING_URL").password
        main_pid = state["MainPID"]
        assert password not in machine.sh(f"tr '\\0' '\\n' </proc/{main_pid}/environ")
        assert password not in machine.sh(f"systemctl cat {UNIT}")
        assert machine.sh(f"cat /run/credentials/{UNIT}/staging-password").strip() == password
        user = machine.sh(f"stat -c %U /proc/{main_pid}").strip()
        assert user not in ("root", ""), user  # DynamicUser

        # kill -9: systemd restarts it (Restart=on-failure) and it is active again.
        machine.sh(f"kill -9 {main_pid}")
        state = wait_state(machine, 90, "restarted after kill -9", ActiveState="active", SubState="running", NRestarts="1")
        assert state["MainPID"] != main_pid

        # Wedge the source: pings stop, the watchdog fires (Result=watchdog), systemd restarts it.
        os.kill(staging_pid, signal.SIGSTOP)
        try:
            wait_state(machine, 40, "a watchdog timeout", Result="watchdog")
        finally:
            os.kill(staging_pid, signal.SIGCONT)
        state = wait_state(machine, 120, "active again after the watchdog restart", ActiveState="active", SubState="running", NRestarts="2")
        journal = machine.sh(f"journalctl -u {UNIT} --no-pager")
        assert "Watchdog timeout" in journal
        assert "Watchdog pings stopped: no progress from source.credit-source.CreditStaging" in journal
        print(f"boot to READY {boot_to_ready:.1f} s; whole test {time.monotonic() - started:.1f} s")
    finally:
        machine.poweroff()
