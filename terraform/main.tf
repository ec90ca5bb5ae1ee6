# Sluice on one Docker engine: SQL Server "staging" (the CDC source) and "warehouse", Postgres (the
# replica), Kafka in KRaft mode, an init step loading db-init/, the Sluice image built from
# deploy/container/Containerfile, the source, both sinks and the app, and optionally Prometheus and
# Alertmanager with deploy/prometheus and deploy/alertmanager. See README.md.

locals {
  repo_root = abspath("${path.module}/..")

  # Container names double as host names on the network.
  hosts = {
    staging      = "${var.name_prefix}-mssql-staging"
    warehouse    = "${var.name_prefix}-mssql-warehouse"
    postgres     = "${var.name_prefix}-postgres"
    db_init      = "${var.name_prefix}-db-init"
    prometheus   = "${var.name_prefix}-prometheus"
    alertmanager = "${var.name_prefix}-alertmanager"
  }

  # Ports inside the containers (fixed by the images, or chosen here once).
  container_ports = {
    mssql            = 1433
    postgres         = 5432
    kafka            = 19092 # brokers among themselves and for the Sluice containers
    kafka_host       = 9092  # the listener published to the host
    kafka_controller = 29093
    prometheus       = 9090
    alertmanager     = 9093
  }

  kafka_hosts      = [for i in range(var.kafka_brokers) : "${var.name_prefix}-kafka-${i + 1}"]
  kafka_bootstrap  = join(",", [for h in local.kafka_hosts : "${h}:${local.container_ports.kafka}"])
  kafka_voters     = join(",", [for i, h in local.kafka_hosts : "${i + 1}@${h}:${local.container_ports.kafka_controller}"])
  kafka_replicas   = var.kafka_brokers >= 3 ? 3 : 1
  kafka_min_insync = var.kafka_brokers >= 3 ? 2 : 1

  staging_url   = "mssql://sluice:${var.sluice_db_password}@${local.hosts.staging}:${local.container_ports.mssql}/CreditStaging"
  warehouse_url = "mssql://sluice:${var.sluice_db_password}@${local.hosts.warehouse}:${local.container_ports.mssql}/CreditWarehouse"
  postgres_url  = "postgres://sluice:${var.postgres_password}@${local.hosts.postgres}:${local.container_ports.postgres}/credit_app"

  connectors_dir = "/etc/sluice/connectors"

  # The Sluice processes: one connector file each (or the app), each on its own port (README "Alerts":
  # the Prometheus targets use the same ports), each given only the addresses it needs.
  sluice_processes = {
    source = {
      command   = ["run", "${local.connectors_dir}/credit-source.json"]
      port      = 8083
      host_port = var.host_ports.source
      env       = ["SLUICE_STAGING_URL=${local.staging_url}", "SLUICE_KAFKA_BOOTSTRAP=${local.kafka_bootstrap}"]
    }
    replica = {
      command   = ["run", "${local.connectors_dir}/replica-postgres.json"]
      port      = 8084
      host_port = var.host_ports.replica
      env       = ["SLUICE_PG_URL=${local.postgres_url}", "SLUICE_KAFKA_BOOTSTRAP=${local.kafka_bootstrap}"]
    }
    warehouse = {
      command   = ["run", "${local.connectors_dir}/warehouse-scd2.json"]
      port      = 8085
      host_port = var.host_ports.warehouse_sink
      env       = ["SLUICE_WAREHOUSE_URL=${local.warehouse_url}", "SLUICE_KAFKA_BOOTSTRAP=${local.kafka_bootstrap}"]
    }
    app = {
      command   = ["app"]
      port      = 8080
      host_port = var.host_ports.app
      env       = ["SLUICE_PG_URL=${local.postgres_url}", "SLUICE_KAFKA_BOOTSTRAP=${local.kafka_bootstrap}"]
    }
  }

  mssql_servers = {
    staging   = { name = local.hosts.staging, host_port = var.host_ports.staging }
    warehouse = { name = local.hosts.warehouse, host_port = var.host_ports.warehouse }
  }
}

# --- Network and volumes ---------------------------------------------------------------------------

resource "docker_network" "sluice" {
  name   = "${var.name_prefix}-net"
  driver = "bridge"
}

resource "docker_volume" "mssql" {
  for_each = local.mssql_servers
  name     = "${var.name_prefix}-${each.key}-data"
}

resource "docker_volume" "postgres" {
  name = "${var.name_prefix}-postgres-data"
}

resource "docker_volume" "kafka" {
  count = var.kafka_brokers
  name  = "${local.kafka_hosts[count.index]}-data"
}

resource "docker_volume" "prometheus" {
  count = var.monitoring ? 1 : 0
  name  = "${var.name_prefix}-prometheus-data"
}

# --- SQL Server 2022: staging (CDC source) and warehouse ----------------------------------------------

resource "docker_image" "mssql" {
  name         = var.mssql_image
  keep_locally = true
}

resource "docker_container" "mssql" {
  for_each = local.mssql_servers
  name     = each.value.name
  image    = docker_image.mssql.image_id
  restart  = "unless-stopped"

  env = [
    "ACCEPT_EULA=Y",
    "MSSQL_PID=${var.mssql_pid}",
    "MSSQL_SA_PASSWORD=${var.mssql_sa_password}",
    "MSSQL_AGENT_ENABLED=true", # SQL Server Agent runs the CDC capture and cleanup jobs
  ]

  networks_advanced {
    name    = docker_network.sluice.id
    aliases = [each.key]
  }

  ports {
    internal = local.container_ports.mssql
    external = each.value.host_port
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.mssql[each.key].name
    container_path = "/var/opt/mssql"
  }

  healthcheck {
    # The password stays in the container's environment, not in the check's command line.
    test         = ["CMD-SHELL", "/opt/mssql-tools18/bin/sqlcmd -S localhost -U sa -P \"$MSSQL_SA_PASSWORD\" -C -b -Q 'SELECT 1' >/dev/null"]
    interval     = "10s"
    timeout      = "5s"
    retries      = 10
    start_period = "30s"
  }
  wait         = true
  wait_timeout = 300
}

# --- Postgres 15: the replica (db-init/postgres runs on first start) -----------------------------------

resource "docker_image" "postgres" {
  name         = var.postgres_image
  keep_locally = true
}

resource "docker_container" "postgres" {
  name    = local.hosts.postgres
  image   = docker_image.postgres.image_id
  restart = "unless-stopped"

  env = [
    "POSTGRES_USER=sluice",
    "POSTGRES_PASSWORD=${var.postgres_password}",
    "POSTGRES_DB=postgres",
  ]

  networks_advanced {
    name    = docker_network.sluice.id
    aliases = ["postgres"]
  }

  ports {
    internal = local.container_ports.postgres
    external = var.host_ports.postgres
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.postgres.name
    container_path = "/var/lib/postgresql/data"
  }

  volumes {
    host_path      = "${local.repo_root}/db-init/postgres"
    container_path = "/docker-entrypoint-initdb.d"
    read_only      = true
  }

  healthcheck {
    test         = ["CMD-SHELL", "pg_isready -U sluice -d credit_app"]
    interval     = "5s"
    timeout      = "5s"
    retries      = 12
    start_period = "10s"
  }
  wait         = true
  wait_timeout = 120
}

# --- Kafka (KRaft: each broker is also a controller) ---------------------------------------------------

resource "docker_image" "kafka" {
  name         = var.kafka_image
  keep_locally = true
}

resource "docker_container" "kafka" {
  count   = var.kafka_brokers
  name    = local.kafka_hosts[count.index]
  image   = docker_image.kafka.image_id
  restart = "unless-stopped"

  env = [
    "CLUSTER_ID=${var.kafka_cluster_id}",
    "KAFKA_NODE_ID=${count.index + 1}",
    "KAFKA_PROCESS_ROLES=broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS=${local.kafka_voters}",
    "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
    "KAFKA_LISTENERS=CONTROLLER://:${local.container_ports.kafka_controller},PLAINTEXT://:${local.container_ports.kafka},PLAINTEXT_HOST://:${local.container_ports.kafka_host}",
    "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://${local.kafka_hosts[count.index]}:${local.container_ports.kafka},PLAINTEXT_HOST://localhost:${var.host_ports.kafka + count.index}",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
    "KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=${local.kafka_replicas}",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=${local.kafka_replicas}",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=${local.kafka_min_insync}",
    "KAFKA_DEFAULT_REPLICATION_FACTOR=${local.kafka_replicas}",
    "KAFKA_MIN_INSYNC_REPLICAS=${local.kafka_min_insync}",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
    "KAFKA_LOG_DIRS=/var/lib/kafka/data",
  ]

  networks_advanced {
    name    = docker_network.sluice.id
    aliases = ["kafka-${count.index + 1}"]
  }

  ports {
    internal = local.container_ports.kafka_host
    external = var.host_ports.kafka + count.index
    ip       = var.bind_address
  }

  volumes {
    volume_name    = docker_volume.kafka[count.index].name
    container_path = "/var/lib/kafka/data"
  }

  healthcheck {
    test         = ["CMD-SHELL", "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:${local.container_ports.kafka} >/dev/null"]
    interval     = "10s"
    timeout      = "10s"
    retries      = 12
    start_period = "20s"
  }
  lifecycle {
    precondition {
      condition = length(setintersection(
        toset(range(var.host_ports.kafka, var.host_ports.kafka + var.kafka_brokers)),
        toset([for name, port in var.host_ports : port if name != "kafka"]),
      )) == 0
      error_message = "The brokers' host ports (host_ports.kafka and the next ones, one per broker) overlap another host port: move host_ports.kafka."
    }
  }

  # A broker of three is healthy only with a quorum: wait for all of them after creation, not one by one.
  wait         = var.kafka_brokers == 1
  wait_timeout = 180
}

# --- Init step: db-init/ into both SQL Servers, the `sluice` login ------------------------------------

resource "docker_container" "db_init" {
  name     = local.hosts.db_init
  image    = docker_image.mssql.image_id
  must_run = false
  attach   = true # terraform waits for the step to finish
  logs     = true
  restart  = "no"

  entrypoint = ["/bin/bash", "/init/db-init.sh"]
  env = [
    "STAGING_HOST=${local.hosts.staging}",
    "WAREHOUSE_HOST=${local.hosts.warehouse}",
    "SQLCMDPASSWORD=${var.mssql_sa_password}",
    "SLUICE_PASSWORD=${var.sluice_db_password}",
  ]

  networks_advanced {
    name = docker_network.sluice.id
  }

  volumes {
    host_path      = "${local.repo_root}/db-init"
    container_path = "/db-init"
    read_only      = true
  }

  upload {
    file        = "/init/db-init.sh"
    source      = "${path.module}/init/db-init.sh"
    source_hash = filesha256("${path.module}/init/db-init.sh")
  }

  upload {
    file        = "/init/sluice-login.sql"
    source      = "${path.module}/init/sluice-login.sql"
    source_hash = filesha256("${path.module}/init/sluice-login.sql")
  }

  lifecycle {
    postcondition {
      condition     = self.exit_code == 0
      error_message = "The db-init step failed: docker logs ${local.hosts.db_init} shows which script and why."
    }
  }

  depends_on = [docker_container.mssql]
}

# --- Sluice ------------------------------------------------------------------------------------------

resource "docker_image" "sluice" {
  name = "${var.name_prefix}/sluice:local"

  build {
    context    = local.repo_root
    dockerfile = "deploy/container/Containerfile"
  }

  # Rebuild when the sources or the Containerfile change.
  triggers = {
    sources = sha1(join(",", [
      for f in sort(fileset(local.repo_root, "{Package.swift,Sources/**,deploy/container/**}")) : filesha1("${local.repo_root}/${f}")
    ]))
  }
  keep_locally = true
}

resource "docker_container" "sluice" {
  for_each = local.sluice_processes
  name     = "${var.name_prefix}-${each.key}"
  image    = docker_image.sluice.image_id
  restart  = "unless-stopped"

  command = concat(each.value.command, ["--http-host", "0.0.0.0", "--http-port", tostring(each.value.port)])
  env     = concat(each.value.env, ["SLUICE_LOG_LEVEL=${var.sluice_log_level}"])

  networks_advanced {
    name = docker_network.sluice.id
  }

  ports {
    internal = each.value.port
    external = each.value.host_port
    ip       = var.bind_address
  }

  volumes {
    host_path      = "${local.repo_root}/connectors"
    container_path = local.connectors_dir
    read_only      = true
  }

  healthcheck {
    test         = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:${each.value.port}/health/ready"]
    interval     = "10s"
    timeout      = "5s"
    retries      = 6
    start_period = "60s"
  }
  wait         = true
  wait_timeout = 300
  stop_timeout = 30 # SIGTERM drains: what was read is published, positions are stored

  depends_on = [docker_container.db_init, docker_container.kafka, docker_container.postgres]
}

# --- Monitoring (optional): Prometheus and Alertmanager with the repository's configuration ----------

resource "docker_image" "prometheus" {
  count        = var.monitoring ? 1 : 0
  name         = var.prometheus_image
  keep_locally = true
}

resource "docker_container" "prometheus" {
  count   = var.monitoring ? 1 : 0
  name    = local.hosts.prometheus
  image   = docker_image.prometheus[0].image_id
  restart = "unless-stopped"

  command = [
    "--config.file=/etc/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--web.listen-address=:${local.container_ports.prometheus}",
  ]

  networks_advanced {
    name = docker_network.sluice.id
  }

  ports {
    internal = local.container_ports.prometheus
    external = var.host_ports.prometheus
    ip       = var.bind_address
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/prometheus/prometheus.yml"
    container_path = "/etc/prometheus/prometheus.yml"
    read_only      = true
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/prometheus/rules"
    container_path = "/etc/prometheus/rules"
    read_only      = true
  }

  volumes {
    volume_name    = docker_volume.prometheus[0].name
    container_path = "/prometheus"
  }

  # The targets of this deployment: the Sluice containers by name (deploy/prometheus/targets/ lists
  # the one-host systemd layout instead).
  upload {
    file = "/etc/prometheus/targets/sluice.yml"
    content = yamlencode([
      for key, p in local.sluice_processes : { targets = ["${docker_container.sluice[key].name}:${p.port}"], labels = { process = key } }
    ])
  }

  upload {
    file    = "/etc/prometheus/targets/alertmanager.yml"
    content = yamlencode([{ targets = ["${local.hosts.alertmanager}:${local.container_ports.alertmanager}"] }])
  }

  healthcheck {
    test     = ["CMD", "wget", "-qO", "/dev/null", "http://127.0.0.1:${local.container_ports.prometheus}/-/ready"]
    interval = "10s"
    timeout  = "5s"
    retries  = 6
  }
  wait = true

  depends_on = [docker_container.alertmanager]
}

resource "docker_image" "alertmanager" {
  count        = var.monitoring ? 1 : 0
  name         = var.alertmanager_image
  keep_locally = true
}

resource "docker_container" "alertmanager" {
  count   = var.monitoring ? 1 : 0
  name    = local.hosts.alertmanager
  image   = docker_image.alertmanager[0].image_id
  restart = "unless-stopped"

  command = [
    "--config.file=/etc/alertmanager/alertmanager.yml",
    "--storage.path=/alertmanager",
    "--web.listen-address=:${local.container_ports.alertmanager}",
    "--cluster.listen-address=",
  ]

  networks_advanced {
    name = docker_network.sluice.id
  }

  ports {
    internal = local.container_ports.alertmanager
    external = var.host_ports.alertmanager
    ip       = var.bind_address
  }

  volumes {
    host_path      = "${local.repo_root}/deploy/alertmanager/alertmanager.yml"
    container_path = "/etc/alertmanager/alertmanager.yml"
    read_only      = true
  }

  # The webhook URL, where alertmanager.yml's api_url_file expects it. Readable by the image's
  # unprivileged user (nobody); the file exists only inside this container.
  upload {
    file        = "/etc/alertmanager/slack-webhook-url"
    content     = var.slack_webhook_url
    permissions = "0444"
  }

  healthcheck {
    test     = ["CMD", "wget", "-qO", "/dev/null", "http://127.0.0.1:${local.container_ports.alertmanager}/-/ready"]
    interval = "10s"
    timeout  = "5s"
    retries  = 6
  }
  wait = true
}
