import Logging
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// The Postgres replica sink as one `Service`: the consumer runtime over a `PostgresSinkTarget`; the
/// Postgres session is closed when the runtime ends.
public final class PostgresSinkService: Service, Sendable {
    public let runtime: SinkRuntime
    public let target: PostgresSinkTarget

    public init(configuration: PostgresSinkConfiguration, runtimeConfiguration: SinkRuntimeConfiguration,
                health: HealthRegistry? = nil, logger: Logger, lineage: LineageRun? = nil) {
        self.target = PostgresSinkTarget(configuration: configuration, logger: logger, lineage: lineage)
        self.runtime = SinkRuntime(configuration: runtimeConfiguration, target: target, health: health, logger: logger)
    }

    public func run() async throws {
        try await runtime.run(thenClose: target.close)
    }
}
