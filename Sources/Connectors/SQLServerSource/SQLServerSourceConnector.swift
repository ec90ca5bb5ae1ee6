import Logging
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceKafka

/// The SQL Server CDC source connector: one `Service` capturing every database of `database.names`
/// concurrently (each its own session, offsets and backoff), until graceful shutdown.
public struct SQLServerSourceConnector: Service {
    public let configuration: SQLServerSourceConfiguration
    let health: HealthRegistry
    let logger: Logger
    let threadPool: NIOThreadPool
    let lineage: LineageRun?
    let signals: SourceSignalInbox?

    /// - Parameters:
    ///   - lineage: receives the captured tables (START, RUNNING at a capture-instance switch) and a
    ///     database's fatal error (FAIL); nil emits no lineage.
    ///   - signals: where `POST /signals` leaves signals for this connector's databases (nil: none).
    public init(configuration: SQLServerSourceConfiguration, health: HealthRegistry, logger: Logger,
                threadPool: NIOThreadPool = .singleton, lineage: LineageRun? = nil, signals: SourceSignalInbox? = nil) {
        self.configuration = configuration
        self.signals = signals
        for database in configuration.databases { signals?.register(database: database) }
        self.lineage = lineage
        self.health = health
        var logger = logger
        logger[metadataKey: SourceLoggingKeys.connector] = "\(configuration.name)"
        self.logger = logger
        self.threadPool = threadPool
    }

    public func run() async throws {
        var connection = KafkaConnectionConfiguration(bootstrapServers: configuration.kafkaBootstrapServers,
                                                      clientID: "sluice-\(configuration.name)")
        for (key, value) in configuration.kafkaProperties { connection.additionalProperties[key] = value }
        let kafka = connection
        logger.info("Source connector starting", metadata: [
            SourceLoggingKeys.databases: "\(configuration.databases)", SourceLoggingKeys.topicPrefix: "\(configuration.topicPrefix)",
            SourceLoggingKeys.snapshotMode: "\(configuration.snapshotMode.rawValue)",
        ])
        // Running means a member of the liveness group (SourceLivenessMember): joined before any
        // position is loaded, left after the last one is stored.
        let liveness = SourceLivenessMember(configuration: configuration, connection: kafka, health: health, logger: logger)
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask { await liveness.run() }
            if await liveness.waitUntilJoined() {
                await withTaskGroup(of: Void.self) { group in
                    for database in configuration.databases {
                        let streamer = DatabaseStreamer(configuration: configuration, database: database, kafka: kafka,
                                                        health: health, logger: logger, threadPool: threadPool, lineage: lineage,
                                                        signals: signals)
                        group.addTask { await streamer.run() }
                    }
                }
                // A database stopped by a fatal problem keeps its reason in health until the process is told
                // to stop: no crash loop, and the operator can read why.
                if !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await gracefulShutdown()
                }
            }
            liveness.stop()
        }
        logger.info("Source connector stopped")
    }
}
