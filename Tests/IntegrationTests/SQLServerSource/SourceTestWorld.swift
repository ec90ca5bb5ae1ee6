import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource

/// A fresh CDC-enabled database per test on the local world's "staging" SQL Server, a connector
/// configuration with a unique topic prefix, and readers for the topics it writes.
struct SourceTestWorld {
    let database: String
    let prefix: String
    let staging: SQLServerConfiguration

    static let logger: Logger = {
        var logger = Logger(label: "sluice.source.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    /// Creates the database and its tables (`name: column definitions`), enables CDC on each.
    static func make(_ what: String, tables: [(String, String)], beforeCDC: [String] = [],
                     allowSnapshotIsolation: Bool = true) async throws -> SourceTestWorld {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let database = "SrcTest_\(what)_\(suffix)"
        var staging = try SQLServerConfiguration(url: LocalWorld.env("SLUICE_STAGING_URL"))
        staging.database = "master"
        let master = try await SQLServerConnection.connect(configuration: staging, logger: logger)
        try await master.execute("CREATE DATABASE \(identifier: database)")
        if allowSnapshotIsolation {
            try await master.execute("ALTER DATABASE \(identifier: database) SET ALLOW_SNAPSHOT_ISOLATION ON")
        }
        await master.close()
        let world = SourceTestWorld(database: database, prefix: "t\(suffix)", staging: staging)
        try await world.withConnection { conn in
            for (name, columns) in tables {
                try await conn.execute("CREATE TABLE \(identifier: "dbo", name) (\(unsafeRaw: columns))")
            }
            for sql in beforeCDC { try await conn.execute(SQLServerQuery(sql: sql)) }
            try await conn.execute("EXEC sys.sp_cdc_enable_db")
            for (name, _) in tables {
                try await conn.execute("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = \(name), @role_name = NULL")
            }
        }
        return world
    }

    @discardableResult
    func withConnection<T>(isolation: isolated (any Actor)? = #isolation, _ body: (SQLServerConnection) async throws -> T) async throws -> T {
        var configuration = staging
        configuration.database = database
        return try await SQLServerConnection.withConnection(configuration: configuration, logger: Self.logger, body)
    }

    /// The connector file's keys for this world; `extra` overrides or adds.
    func properties(_ extra: [String: String] = [:]) throws -> [String: String] {
        var values: [String: String] = [
            "connector.class": "sqlserver-source",
            "database.hostname": staging.host, "database.port": String(staging.port),
            "database.user": staging.username, "database.password": staging.password,
            "database.names": database, "topic.prefix": prefix,
            "kafka.bootstrap.servers": try LocalWorld.env("SLUICE_KAFKA_BOOTSTRAP"),
            "poll.interval.ms": "100", "provide.transaction.metadata": "true",
            "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "true",
            "retry.backoff.initial.ms": "200", "retry.backoff.max.ms": "1000",
        ]
        for (k, v) in extra { values[k] = v }
        return values
    }

    func configuration(_ extra: [String: String] = [:]) throws -> SQLServerSourceConfiguration {
        try SQLServerSourceConfiguration(ConnectorProperties(name: "src-\(prefix)", origin: "test", values: properties(extra)))
    }

    func topic(_ table: String) -> String { TopicNamer(prefix: prefix).dataTopic(TableID(database: database, schema: "dbo", table: table)) }

    /// Runs the connector in a service group while `body` runs, then shuts it down gracefully.
    func withConnector<T: Sendable>(
        _ configuration: SourceConfigurationBox, health: HealthRegistry = HealthRegistry(),
        _ body: @Sendable (HealthRegistry) async throws -> T
    ) async throws -> T {
        let connector = SQLServerSourceConnector(configuration: configuration.value, health: health, logger: Self.logger)
        let group = ServiceGroup(configuration: .init(services: [connector], logger: Self.logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask { try await group.run(); return nil }
            let value: T
            do {
                value = try await body(health)
            } catch {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        }
    }
}

/// Sendable wrapper (the configuration holds only value types).
struct SourceConfigurationBox: @unchecked Sendable {
    let value: SQLServerSourceConfiguration
}

/// Reads topics from the beginning with a fresh consumer group.
final class TopicReader: Sendable {
    let consumer: KafkaConsumer

    /// Creates the topics first: a consumer subscribed to a missing topic only sees it after a
    /// metadata refresh (minutes).
    init(topics: [String]) async throws {
        let connection = KafkaConnectionConfiguration(bootstrapServers: try LocalWorld.env("SLUICE_KAFKA_BOOTSTRAP"), clientID: "sluice-tests")
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: connection), logger: SourceTestWorld.logger)
        for topic in topics { _ = try await admin.ensureTopic(KafkaTopicSpecification(name: topic, partitions: 1)) }
        await admin.shutdown()
        consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                connection: KafkaConnectionConfiguration(bootstrapServers: try LocalWorld.env("SLUICE_KAFKA_BOOTSTRAP"), clientID: "sluice-tests"),
                groupID: "reader-\(UUID().uuidString)", sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500),
                assignmentStrategy: .range, offsetReset: .earliest),
            logger: SourceTestWorld.logger)
        try consumer.subscribe(topics: topics)
    }

    /// Polls until `done(messages)` holds or `timeout` passes; returns every message read.
    func read(timeout: Duration = .seconds(60), until done: ([KafkaMessage]) -> Bool) async throws -> [KafkaMessage] {
        let deadline = ContinuousClock.now + timeout
        var messages: [KafkaMessage] = []
        while !done(messages) && ContinuousClock.now < deadline {
            messages += try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200))
        }
        return messages
    }

    func close() async { await consumer.close() }
}

extension KafkaMessage {
    /// The change event in this message (nil for a tombstone).
    func event() throws -> ChangeEvent? {
        guard let value else { return nil }
        return try DebeziumEnvelope.decode(key: key, value: value)
    }
}

/// Waits until `condition` holds, polling every 100 ms, up to `timeout`.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}
