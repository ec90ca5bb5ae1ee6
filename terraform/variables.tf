# Inputs of the Sluice deployment. Secrets are `sensitive` and have no default: pass them with
# TF_VAR_<name> or a *.tfvars file kept out of git (see README.md).

variable "docker_host" {
  description = "Docker engine to deploy to (the provider's `host`)."
  type        = string
  default     = "unix:///var/run/docker.sock"
}

variable "name_prefix" {
  description = "Prefix of every container, volume and network name, so two deployments can share one engine."
  type        = string
  default     = "sluice"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold only lower-case letters, digits and '-' (at most 31 characters)."
  }
}

variable "bind_address" {
  description = "Host address the published ports listen on. 127.0.0.1 keeps everything on the laptop; 0.0.0.0 exposes it."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.bind_address}/32", 0))
    error_message = "bind_address must be an IPv4 address, e.g. 127.0.0.1."
  }
}

variable "mssql_image" {
  description = "SQL Server image of the staging and warehouse servers."
  type        = string
  default     = "mcr.microsoft.com/mssql/server:2022-latest"
}

variable "mssql_pid" {
  description = "SQL Server edition (MSSQL_PID): Developer, Express, Standard, Enterprise or a product key. CDC needs SQL Server Agent, which Express lacks."
  type        = string
  default     = "Developer"

  validation {
    condition     = var.mssql_pid != "Express"
    error_message = "CDC needs SQL Server Agent, which the Express edition does not have: use Developer (or a licensed edition)."
  }
}

variable "mssql_sa_password" {
  description = "Password of the `sa` login on both SQL Servers (used only by the init step). SQL Server's policy: at least 8 characters from three of upper case, lower case, digits and symbols."
  type        = string
  sensitive   = true

  validation {
    condition = length(var.mssql_sa_password) >= 8 && length([
      for class in ["[A-Z]", "[a-z]", "[0-9]", "[^A-Za-z0-9]"] : class if can(regex(class, var.mssql_sa_password))
    ]) >= 3
    error_message = "mssql_sa_password must have at least 8 characters from three of: upper case, lower case, digits, symbols (SQL Server refuses weaker ones)."
  }
}

variable "sluice_db_password" {
  description = "Password of the `sluice` SQL Server login the init step creates on both servers; the source and the warehouse sink connect with it. Same policy as mssql_sa_password."
  type        = string
  sensitive   = true

  validation {
    condition = length(var.sluice_db_password) >= 8 && length([
      for class in ["[A-Z]", "[a-z]", "[0-9]", "[^A-Za-z0-9]"] : class if can(regex(class, var.sluice_db_password))
    ]) >= 3
    error_message = "sluice_db_password must have at least 8 characters from three of: upper case, lower case, digits, symbols."
  }
  validation {
    condition     = !can(regex("['\"@/:?#%]", var.sluice_db_password))
    error_message = "sluice_db_password must not contain quotes or the URL characters @ / : ? # % (it travels inside mssql:// URLs and a T-SQL literal)."
  }
}

variable "postgres_image" {
  description = "Postgres image of the replica database."
  type        = string
  default     = "postgres:15"
}

variable "postgres_password" {
  description = "Password of the `sluice` Postgres user (owner of credit_app, the replica)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.postgres_password) >= 8 && !can(regex("['\"@/:?#%]", var.postgres_password))
    error_message = "postgres_password must have at least 8 characters and no quotes or URL characters @ / : ? # %."
  }
}

variable "kafka_image" {
  description = "Kafka image (KRaft mode, no ZooKeeper)."
  type        = string
  default     = "apache/kafka:3.9.1"
}

variable "kafka_brokers" {
  description = "Number of Kafka brokers: 1 (a laptop) or 3 (replication factor 3, min.insync.replicas 2)."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 3], var.kafka_brokers)
    error_message = "kafka_brokers must be 1 or 3."
  }
}

variable "kafka_cluster_id" {
  description = "KRaft cluster id (22 characters of base64url, e.g. from `kafka-storage.sh random-uuid`). Changing it on existing volumes makes the brokers refuse to start."
  type        = string
  default     = "bGW8h3yzS9aQ1sTTZcAnYw"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{22}$", var.kafka_cluster_id))
    error_message = "kafka_cluster_id must be 22 base64url characters (kafka-storage.sh random-uuid prints one)."
  }
}

variable "host_ports" {
  description = "Host ports published on bind_address: each Sluice process has its own (/metrics and /health), the servers are reachable for tools (sqlcmd, psql, kcat)."
  type = object({
    source         = number
    replica        = number
    warehouse_sink = number
    app            = number
    staging        = number
    warehouse      = number
    postgres       = number
    kafka          = number # the first broker; broker N listens on kafka + N - 1
    prometheus     = number
    alertmanager   = number
  })
  default = {
    source         = 8083
    replica        = 8084
    warehouse_sink = 8085
    app            = 8080
    staging        = 1433
    warehouse      = 1434
    postgres       = 5432
    kafka          = 19092
    prometheus     = 9090
    alertmanager   = 9093
  }

  validation {
    condition     = alltrue([for p in values(var.host_ports) : p >= 1024 && p <= 65535])
    error_message = "host_ports must be between 1024 and 65535."
  }
  validation {
    condition     = length(distinct(values(var.host_ports))) == length(values(var.host_ports))
    error_message = "host_ports must all differ (two processes cannot share a port)."
  }
}

variable "sluice_log_level" {
  description = "SLUICE_LOG_LEVEL of the Sluice containers."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["trace", "debug", "info", "notice", "warning", "error"], var.sluice_log_level)
    error_message = "sluice_log_level must be one of trace, debug, info, notice, warning, error."
  }
}

variable "monitoring" {
  description = "Also run Prometheus and Alertmanager with deploy/prometheus and deploy/alertmanager."
  type        = bool
  default     = true
}

variable "prometheus_image" {
  description = "Prometheus image (monitoring = true)."
  type        = string
  default     = "prom/prometheus:v2.55.1"
}

variable "alertmanager_image" {
  description = "Alertmanager image (monitoring = true)."
  type        = string
  default     = "prom/alertmanager:v0.28.1"
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL Alertmanager posts to (monitoring = true); empty sends nowhere (Alertmanager logs a failed notification)."
  type        = string
  sensitive   = true

  validation {
    condition     = var.slack_webhook_url == "" || can(regex("^https://", var.slack_webhook_url))
    error_message = "slack_webhook_url must be an https:// URL (https://hooks.slack.com/services/...) or empty."
  }
}
