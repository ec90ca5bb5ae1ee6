import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import SluiceCore
import Testing
@testable import SluiceOperations

@Suite struct HealthMetricsTests {
    func scrape(_ client: some TestClientProtocol) async throws -> String {
        try await client.execute(uri: "/metrics", method: .get) { response in
            #expect(response.status == .ok)
            return String(buffer: response.body)
        }
    }

    @Test func componentHealthIsScrapedAsGauges() async throws {
        let health = HealthRegistry()
        let app = OperationsServer.application(host: "127.0.0.1", port: 0, registry: PrometheusCollectorRegistry(),
                                               health: health, logger: Logger(label: "test"))
        health.set("source.credit.CreditStaging", .starting)
        health.set("sink.replica-postgres", .up)
        try await app.test(.router) { client in
            var body = try await scrape(client)
            #expect(body.contains(#"sluice_component_up{component="source.credit.CreditStaging"} 0"#))
            #expect(body.contains(#"sluice_component_up{component="sink.replica-postgres"} 1"#))
            #expect(body.contains(#"sluice_component_status{component="source.credit.CreditStaging",status="starting"} 1"#))
            #expect(body.contains(#"sluice_component_status{component="source.credit.CreditStaging",status="up"} 0"#))
            #expect(body.contains("# TYPE sluice_component_up gauge"))
            #expect(body.contains("# HELP sluice_component_up 1 while the component is up (ready), 0 otherwise"))

            // The gauges follow the registry at each scrape, not at the first one.
            health.set("source.credit.CreditStaging", .up)
            health.set("sink.replica-postgres", .degraded("the target failed: connection refused"))
            body = try await scrape(client)
            #expect(body.contains(#"sluice_component_up{component="source.credit.CreditStaging"} 1"#))
            #expect(body.contains(#"sluice_component_up{component="sink.replica-postgres"} 0"#))
            #expect(body.contains(#"sluice_component_status{component="sink.replica-postgres",status="degraded"} 1"#))
            #expect(body.contains(#"sluice_component_status{component="sink.replica-postgres",status="up"} 0"#))
            #expect(body.contains(#"sluice_component_status{component="source.credit.CreditStaging",status="starting"} 0"#))

            // A removed component is no longer exported.
            health.remove("sink.replica-postgres")
            body = try await scrape(client)
            #expect(!body.contains("sink.replica-postgres"))
            #expect(body.contains(#"sluice_component_up{component="source.credit.CreditStaging"} 1"#))
        }
    }

    @Test func noComponentsExportsNoHealthSeries() async throws {
        let registry = PrometheusCollectorRegistry()
        HealthMetrics(registry: registry, health: HealthRegistry()).refresh()
        #expect(!registry.emitToString().contains("sluice_component_up{"))
    }
}
