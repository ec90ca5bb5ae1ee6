"""deploy/container/Containerfile, checked without a container engine (none runs here): its
instructions, and that its runtime stage, the real-systemd test root and these tests share one
definition (deploy/container/runtime) of the runtime packages and the entrypoint."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import DEPLOY, REPO, sluice_binary

CONTAINERFILE = DEPLOY / "container" / "Containerfile"
RUNTIME = DEPLOY / "container" / "runtime"


def runtime(verb: str) -> str:
    return subprocess.run([str(RUNTIME), verb], capture_output=True, text=True, check=True).stdout.strip()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in CONTAINERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


def test_multi_stage_swift_build_then_debian_slim():
    build, final = stages()
    assert re.fullmatch(r"\S*swift:6\.3-bookworm AS build", build[0][1]), build[0]
    assert re.fullmatch(r"\S*debian:bookworm-slim", final[0][1]), final[0]
    runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "scripts/bootstrap librdkafka" in runs
    assert "--static-swift-stdlib" in runs and "-c release" in runs
    # bootstrap really has that step.
    assert "install_librdkafka()" in (REPO / "scripts" / "bootstrap").read_text()


def test_runtime_stage_uses_the_shared_runtime_definition():
    final = stages()[1]
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert "deploy/container/runtime /usr/local/lib/sluice/runtime" in copies
    assert "--from=build /usr/local/lib/librdkafka.so.1 /usr/local/lib/librdkafka.so.1" in copies
    runs = [rest for keyword, rest in final if keyword == "RUN"]
    assert any(r.startswith("/usr/local/lib/sluice/runtime install") for r in runs), runs
    # No package list of its own: apt-get appears only inside the runtime script.
    assert not any("apt-get" in r for r in runs)
    # The systemd test root installs the same script.
    assert "runtime install" in (REPO / "scripts" / "systemd-root").read_text()


def test_non_root_healthcheck_entrypoint_and_mounts():
    final = dict()
    for keyword, rest in stages()[1]:
        final.setdefault(keyword, []).append(rest)
    user = final["USER"][-1].split(":")[0]
    assert user not in ("0", "root")
    assert "useradd" in " ".join(final["RUN"]) and f"--uid {user}" in " ".join(final["RUN"])
    healthcheck = final["HEALTHCHECK"][-1]
    assert "/health/ready" in healthcheck and "CMD" in healthcheck
    assert json.loads(final["ENTRYPOINT"][-1]) == [runtime("entrypoint")]
    assert any(c.endswith(f" {runtime('entrypoint')}") for c in final["COPY"])
    volumes = json.loads(final["VOLUME"][-1])
    assert "/etc/sluice/connectors" in volumes and "/run/secrets" in volumes
    # Connector files and secrets are mounted, never baked in.
    for keyword, rest in instructions():
        if keyword in ("COPY", "ADD"):
            assert "connectors" not in rest and "secret" not in rest and "credentials" not in rest, rest
    env = " ".join(final["ENV"])
    assert "SLUICE_HTTP_HOST=0.0.0.0" in env  # reachable through a published port
    assert "SLUICE_HTTP_PORT" in env and "${SLUICE_HTTP_PORT}" in healthcheck


def test_runtime_packages_exist_in_debian_12():
    packages = runtime("packages").split()
    assert "libsybdb5" in packages and "curl" in packages
    policy = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, check=True).stdout
    for package in packages:
        block = policy.split(f"{package}:", 1)[1].split("\n")[2]
        assert "Candidate:" in block and "(none)" not in block, f"{package} has no candidate: {block}"


def test_runtime_packages_cover_the_binarys_libraries():
    """Every shared library sluice loads (except the Swift runtime, linked in statically for the root
    and the image, and librdkafka >= 2.2, copied into /usr/local/lib) comes from a runtime package or
    from Debian's essential base (libc6 & co)."""
    static = REPO / ".run" / "sluice-static"
    binary = static if static.exists() else sluice_binary()
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    packages = set(runtime("packages").split())
    base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
    closure = set(packages)
    depends = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                              "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
                             capture_output=True, text=True, check=True).stdout
    closure |= {line.strip().split(":")[-1].strip() for line in depends.splitlines() if line and not line.startswith(" ")}
    for line in ldd.splitlines():
        match = re.search(r"=> (/\S+)", line)
        if not match:
            continue
        path = Path(match.group(1)).resolve()
        if "swift" in str(path) or path.name.startswith("librdkafka"):
            continue
        owner = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
        if owner.returncode != 0:  # usrmerge: the package owns the /lib path
            owner = subprocess.run(["dpkg", "-S", str(path).replace("/usr/lib/", "/lib/", 1)], capture_output=True, text=True)
        package = owner.stdout.split(":")[0]
        assert package in closure or package in base, f"{path} comes from {package}, which deploy/container/runtime does not install"
