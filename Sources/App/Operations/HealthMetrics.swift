import NIOConcurrencyHelpers
import Prometheus
import SluiceCore

/// Publishes the `HealthRegistry` as gauges, refreshed on every scrape of `/metrics`, so alert rules can
/// see readiness:
/// - `sluice_component_up{component}` — 1 while the component is `up`, 0 when `starting`, `degraded` or `down`;
/// - `sluice_component_status{component,status}` — 1 for the component's current status, 0 for the others
///   (`starting`, `up`, `degraded`, `down`), so a rule can tell a degraded component from a down one.
///
/// A component removed from the registry disappears from the output at the next scrape.
public final class HealthMetrics: Sendable {
    /// `sluice_component_up` (computed: the descriptor type is not `Sendable`)
    public static var up: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "component", metricName: "up", unitName: "",
                             helpText: "1 while the component is up (ready), 0 otherwise")
    }
    /// `sluice_component_status`
    public static var status: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", subsystem: "component", metricName: "status", unitName: "",
                             helpText: "1 for the component's current health status (starting, up, degraded, down), 0 for the others")
    }
    static let statuses = ["starting", "up", "degraded", "down"]

    private let registry: PrometheusCollectorRegistry
    private let health: HealthRegistry
    /// The gauges exported at the last refresh, by component, so removed components can be unregistered.
    private let exported = NIOLockedValueBox<[String: [Gauge]]>([:])

    public init(registry: PrometheusCollectorRegistry, health: HealthRegistry) {
        self.registry = registry
        self.health = health
    }

    /// Sets the gauges from the registry's current snapshot; called before each emission.
    public func refresh() {
        let snapshot = health.snapshot
        exported.withLockedValue { exported in
            for (component, gauges) in exported where snapshot[component] == nil {
                gauges.forEach(registry.unregisterGauge)
                exported[component] = nil
            }
            for (component, status) in snapshot {
                let up = registry.makeGauge(descriptor: Self.up, labels: [("component", component)])
                up.set(to: status == .up ? 1 : 0)
                var gauges = [up]
                for name in Self.statuses {
                    let gauge = registry.makeGauge(descriptor: Self.status, labels: [("component", component), ("status", name)])
                    gauge.set(to: status.name == name ? 1 : 0)
                    gauges.append(gauge)
                }
                exported[component] = gauges
            }
        }
    }
}
