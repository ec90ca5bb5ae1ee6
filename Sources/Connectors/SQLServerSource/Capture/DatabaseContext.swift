import Foundation
import Logging
import NIOPosix
import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// What every part of one database's capture shares (Debezium's "partition": server + database): the
/// configuration, the CDC catalog reader, the value mapping, topic names, the offset store, metrics,
/// health and the logger. Built once per database; the session, snapshot reader and stream loop read it.
struct DatabaseContext: Sendable {
    let configuration: SQLServerSourceConfiguration
    let database: String
    let kafka: KafkaConnectionConfiguration
    let health: HealthRegistry
    let logger: Logger
    let threadPool: NIOThreadPool
    let metrics: SourceMetrics
    let catalog: CDCCatalog
    let mapping: ChangeEventMapping
    let namer: TopicNamer
    let offsetStore: SourcePositionStore
    let lineage: LineageRun?
    /// Signals posted to `POST /signals` (nil when the process serves none).
    let signals: SourceSignalInbox?

    init(configuration: SQLServerSourceConfiguration, database: String, kafka: KafkaConnectionConfiguration,
         health: HealthRegistry, logger: Logger, threadPool: NIOThreadPool, lineage: LineageRun?, signals: SourceSignalInbox? = nil) {
        self.configuration = configuration
        self.signals = signals
        self.lineage = lineage
        self.database = database
        self.kafka = kafka
        self.health = health
        var logger = logger
        logger[metadataKey: SourceLoggingKeys.database] = "\(database)"
        self.logger = logger
        self.threadPool = threadPool
        self.metrics = SourceMetrics(database: database)
        let decimalMode = SQLServerTypeMapping.DecimalMode(rawValue: configuration.decimalHandlingMode.rawValue) ?? .string
        self.catalog = CDCCatalog(database: database, mapping: decimalMode, keyOverrides: configuration.messageKeyColumns)
        self.mapping = ChangeEventMapping(mapper: ValueMapper(decimalMode: decimalMode, binaryHex: configuration.binaryHandlingMode == .hex))
        self.namer = TopicNamer(prefix: configuration.topicPrefix)
        self.offsetStore = SourcePositionStore(topic: namer.offsetsTopic, server: configuration.topicPrefix, connection: kafka, logger: logger,
                                               replicationFactor: Int32(configuration.topicCreationDefaultReplicationFactor))
    }

    /// The health component: `source.<connector>.<database>`.
    var component: String { "source.\(configuration.name).\(database)" }

    var sqlServerConfiguration: SQLServerConfiguration {
        SQLServerConfiguration(
            host: configuration.host, port: configuration.port, username: configuration.user,
            password: configuration.password.value, database: database,
            options: .init(queryTimeout: (configuration.queryTimeoutMs + 999) / 1000,
                           applicationName: "sluice-source-\(configuration.name)"))
    }

    func connect() async throws -> SQLServerConnection {
        try await SQLServerConnection.connect(configuration: sqlServerConfiguration, logger: logger, threadPool: threadPool)
    }

    /// Stores `offset` durably (waits for the broker's acknowledgement).
    func store(_ offset: SourceOffset, producer: KafkaProducer) async throws {
        try await offsetStore.store(offset, database: database, producer: producer)
    }

    /// Wall-clock milliseconds since the epoch (`clock_gettime`: called per event, cheaper than `Date()`).
    static func nowMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
