output "sluice_urls" {
  description = "Each Sluice process's operations endpoints on the host (/metrics, /health/live, /health/ready) and the app."
  value = {
    for key, p in local.sluice_processes : key => "http://${var.bind_address}:${p.host_port}"
  }
}

output "prometheus_url" {
  description = "Prometheus (alerts at /alerts); null when monitoring = false."
  value       = var.monitoring ? "http://${var.bind_address}:${var.host_ports.prometheus}" : null
}

output "alertmanager_url" {
  description = "Alertmanager; null when monitoring = false."
  value       = var.monitoring ? "http://${var.bind_address}:${var.host_ports.alertmanager}" : null
}

output "kafka_bootstrap" {
  description = "Kafka bootstrap servers for host tools (kcat -b …)."
  value       = join(",", [for i in range(var.kafka_brokers) : "localhost:${var.host_ports.kafka + i}"])
}

output "staging_server" {
  description = "SQL Server \"staging\" (CreditStaging) for sqlcmd/tsql on the host; login sluice (password: var.sluice_db_password)."
  value       = "${var.bind_address},${var.host_ports.staging}"
}

output "warehouse_server" {
  description = "SQL Server \"warehouse\" (CreditWarehouse) for sqlcmd/tsql on the host; login sluice."
  value       = "${var.bind_address},${var.host_ports.warehouse}"
}

output "postgres_url" {
  description = "The replica for psql on the host, without the password (PGPASSWORD = var.postgres_password)."
  value       = "postgres://sluice@${var.bind_address}:${var.host_ports.postgres}/credit_app"
}
