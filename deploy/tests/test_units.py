"""deploy/systemd: `systemd-analyze verify` prints nothing for each unit (it exits 0 even on unknown
keys, so any output fails), `systemd-analyze security --offline=yes` scores each at most 2.0, and the
units keep the settings the operations rely on. Each process has its own operations port."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DEPLOY

SYSTEMD = DEPLOY / "systemd"
CONNECTORS = sorted(p.stem for p in (SYSTEMD / "connectors").glob("*.json"))
UNITS = [f"sluice@{name}.service" for name in CONNECTORS] + ["sluice-app.service"]


@pytest.fixture(scope="module")
def lint_root(tmp_path_factory) -> Path:
    """A root for systemd-analyze --root: the host's own system units (sysinit.target & co), the
    shipped units, and a stand-in /usr/local/bin/sluice (verify checks ExecStart= is executable)."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze missing: run scripts/bootstrap")
    root = tmp_path_factory.mktemp("lint-root")
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    binary = root / "usr/local/bin/sluice"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (root / "etc/sluice").mkdir(parents=True)
    (root / "etc/sluice/sluice.env").write_text((SYSTEMD / "sluice.env").read_text())
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for item in SYSTEMD.iterdir():
        if item.name.endswith(".service"):
            shutil.copy2(item, target / item.name)
        elif item.name.endswith(".service.d"):
            shutil.copytree(item, target / item.name)
    return root


def verify(root: Path, unit: str) -> str:
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit], capture_output=True, text=True)
    return (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("unit", UNITS)
def test_verify_prints_nothing(lint_root, unit):
    assert verify(lint_root, unit) == ""


def test_verify_would_catch_a_bad_key(lint_root):
    unit = lint_root / "etc/systemd/system/sluice-app.service"
    original = unit.read_text()
    try:
        unit.write_text(original.replace("[Service]\n", "[Service]\nWatchdogSecs=30s\n"))
        assert "Unknown key 'WatchdogSecs'" in verify(lint_root, "sluice-app.service")
    finally:
        unit.write_text(original)


@pytest.mark.parametrize("unit", UNITS)
def test_security_exposure_at_most_2(lint_root, unit):
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={lint_root}", "--no-pager", unit],
                            capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def settings(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", ["sluice@.service", "sluice-app.service"])
def test_liveness_identity_and_secrets(unit):
    s = settings(SYSTEMD / unit)
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["on-failure"]
    assert s["WatchdogSec"] and s["StartLimitBurst"] and s["StartLimitIntervalSec"]
    assert s["DynamicUser"] == ["yes"] and s["StateDirectory"]
    assert s["ExecStart"][0].startswith(entrypoint() + " ")
    # No password in a unit or its environment: only LoadCredential= (in the unit or its drop-ins).
    assert not any("PASSWORD" in v.upper() or "_pw" in v for v in s.get("Environment", []))


def entrypoint() -> str:
    return subprocess.run([str(DEPLOY / "container/runtime"), "entrypoint"], capture_output=True, text=True, check=True).stdout.strip()


def test_each_process_has_its_own_port_and_credentials():
    ports = {}
    for name in CONNECTORS:
        s = settings(SYSTEMD / f"sluice@{name}.service.d" / "sluice.conf")
        port = [v.split("=", 1)[1] for v in s["Environment"] if v.startswith("SLUICE_HTTP_PORT=")]
        assert len(port) == 1, name
        ports[name] = port[0]
        credential = s["LoadCredential"][0].split(":", 1)[0]
        connector = (SYSTEMD / "connectors" / f"{name}.json").read_text()
        assert "${file:${CREDENTIALS_DIRECTORY}/%s}" % credential in connector, name
    app = settings(SYSTEMD / "sluice-app.service")
    ports["app"] = [v.split("=", 1)[1] for v in app["Environment"] if v.startswith("SLUICE_HTTP_PORT=")][0]
    assert len(set(ports.values())) == len(ports), ports


def test_deploy_connector_files_hold_no_secret():
    for path in (SYSTEMD / "connectors").glob("*.json"):
        text = path.read_text()
        assert "Sluice_pw1" not in text and "sluice:sluice@" not in text, path
    env = [l for l in (SYSTEMD / "sluice.env").read_text().splitlines() if l and not l.startswith("#")]
    assert not any("PASSWORD" in l.upper() for l in env), env


def test_deploy_connector_files_validate_with_credentials(tmp_path):
    """The connector files the units run are valid with the unit's environment and credential
    directory, and name the missing credential file when LoadCredential= is absent."""
    from conftest import sluice_binary

    env = {"PATH": "/usr/bin:/bin"}
    for line in (SYSTEMD / "sluice.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in CONNECTORS:
        for value in settings(SYSTEMD / f"sluice@{name}.service.d" / "sluice.conf")["LoadCredential"]:
            (credentials / value.split(":", 1)[0]).write_text("secret\n")
    files = [str(SYSTEMD / "connectors" / f"{name}.json") for name in CONNECTORS]
    ok = subprocess.run([str(sluice_binary()), "validate", *files], capture_output=True, text=True,
                        env={**env, "CREDENTIALS_DIRECTORY": str(credentials)})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    missing = subprocess.run([str(sluice_binary()), "validate", files[0]], capture_output=True, text=True,
                             env={**env, "CREDENTIALS_DIRECTORY": str(tmp_path / "none")})
    assert missing.returncode != 0
    assert "cannot be read: No such file or directory" in missing.stdout + missing.stderr
    assert "LoadCredential=" in missing.stdout + missing.stderr


def test_app_unit_config_reads_its_credentials(tmp_path):
    """sluice-app.service runs `sluice app --config /etc/sluice/app.json`: with the unit's environment
    file and credential directory the app reaches the replica (it lists the demo users), and without
    the credential files it names the missing file."""
    from urllib.parse import urlparse

    from conftest import sluice_binary, world_env

    replica = urlparse(world_env("SLUICE_PG_URL"))
    unit = settings(SYSTEMD / "sluice-app.service")
    assert unit["ExecStart"] == ["/usr/local/bin/sluice app --config /etc/sluice/app.json"]
    env = {"PATH": "/usr/bin:/bin"}
    for line in (SYSTEMD / "sluice.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    env["SLUICE_PG_HOST"], env["SLUICE_PG_PORT"] = replica.hostname, str(replica.port)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for value in unit["LoadCredential"]:
        name = value.split(":", 1)[0]
        (credentials / name).write_text((replica.password if name == "replica-password" else "secret") + "\n")
    config = str(SYSTEMD / "app.json")
    ok = subprocess.run([str(sluice_binary()), "app", "users", "list", "--config", config], capture_output=True,
                        text=True, env={**env, "CREDENTIALS_DIRECTORY": str(credentials)}, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "alice.kern" in ok.stdout
    assert replica.password not in ok.stdout + ok.stderr
    missing = subprocess.run([str(sluice_binary()), "app", "users", "list", "--config", config], capture_output=True,
                             text=True, env={**env, "CREDENTIALS_DIRECTORY": str(tmp_path / "none")}, timeout=60)
    assert missing.returncode != 0
    assert "cannot be read: No such file or directory" in missing.stdout + missing.stderr
