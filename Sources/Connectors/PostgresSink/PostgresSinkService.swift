import Logging
import PostgresNIO
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// The Postgres replica sink as one `Service`: runs the Postgres connection pool and the consumer
/// runtime together, shutting both down when either ends.
public final class PostgresSinkService: Service, Sendable {
    public let runtime: SinkRuntime
    public let target: PostgresSinkTarget
    let client: PostgresClient

    public init(configuration: PostgresSinkConfiguration, runtimeConfiguration: SinkRuntimeConfiguration,
                health: HealthRegistry? = nil, logger: Logger) {
        self.client = PostgresClient(configuration: PostgresSinkConnector.clientConfiguration(configuration), backgroundLogger: logger)
        self.target = PostgresSinkTarget(configuration: configuration, client: client, logger: logger)
        self.runtime = SinkRuntime(configuration: runtimeConfiguration, target: target, health: health, logger: logger)
    }

    public func run() async throws {
        let client = self.client
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await runtime.run()
        }
    }
}
