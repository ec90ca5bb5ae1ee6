import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import Prometheus
import SluiceCore
import Testing
@testable import SluiceOperations

@Suite struct OperationsServerTests {
    func app(_ registry: PrometheusCollectorRegistry, _ health: HealthRegistry) -> some ApplicationProtocol {
        OperationsServer.application(host: "127.0.0.1", port: 0, registry: registry, health: health,
                                     logger: Logger(label: "test"))
    }

    @Test func readinessFollowsComponentHealth() async throws {
        let health = HealthRegistry()
        health.set("source.CreditStaging", .starting)
        try await app(PrometheusCollectorRegistry(), health).test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains(#""source.CreditStaging":{"status":"starting"}"#))
            }
            health.set("source.CreditStaging", .up)
            try await client.execute(uri: "/health/ready", method: .get) { #expect($0.status == .ok) }
            health.set("source.CreditStaging", .degraded("capture job not harvesting for 60 s"))
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("capture job not harvesting"))
            }
        }
    }

    @Test func metricsAreServedInPrometheusFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        Counter(label: "sluice_source_events_total", dimensions: [("table", "dbo.customers")],
                factory: PrometheusMetricsFactory(registry: registry)).increment(by: 3)
        try await app(registry, HealthRegistry()).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains(#"sluice_source_events_total{table="dbo.customers"} 3"#))
            }
        }
    }
}
