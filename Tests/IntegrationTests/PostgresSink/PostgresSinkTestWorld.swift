import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit

/// The Postgres sink against the local world: unique topics, groups and schemas per test.
enum PostgresSinkTestWorld {
    static var logger: Logger {
        var logger = Logger(label: "sluice.pgsink.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }

    /// The sink's configuration as a connector file would give it, for `topic` into schema `schema`.
    static func configuration(name: String, topics: [String], schema: String, batchSize: Int = 500, extra: String = "",
                              connectionURL: String = "${SLUICE_PG_URL}") throws -> PostgresSinkConfiguration {
        let json = """
            {"name": "\(name)", "config": {
              "connector.class": "postgres-sink", "topics": "\(topics.joined(separator: ","))", "group.id": "\(name)",
              "connection.url": "\(connectionURL)", "kafka.bootstrap.servers": "${SLUICE_KAFKA_BOOTSTRAP}",
              "table.name.format": "\(schema).${source.table}", "batch.size": \(batchSize),
              "retry.backoff.initial.ms": 100, "retry.backoff.max.ms": 1000, "statement.timeout.ms": 3000 \(extra)}}
            """
        let properties = try ConnectorProperties.parse(Array(json.utf8), origin: "\(name).json", environment: ProcessInfo.processInfo.environment)
        return try PostgresSinkConfiguration(properties)
    }

    /// The runtime configuration with the short session timeout Tansu needs to keep joins fast.
    static func runtimeConfiguration(_ configuration: PostgresSinkConfiguration) -> SinkRuntimeConfiguration {
        var runtime = PostgresSinkConnector.runtimeConfiguration(configuration)
        runtime.consumer.sessionTimeout = .seconds(6)
        runtime.consumer.heartbeatInterval = .milliseconds(500)
        runtime.pollTimeout = .milliseconds(100)
        return runtime
    }

    static func postgresConfiguration(url text: String? = nil) throws -> PostgresClient.Configuration {
        guard case .success(let url) = PostgresURL.parse(try text ?? LocalWorld.env("SLUICE_PG_URL")) else { throw LocalWorldMissing(variable: "SLUICE_PG_URL") }
        return PostgresClient.Configuration(host: url.host, port: url.port, username: url.user ?? "", password: url.password,
                                            database: url.database, tls: .disable)
    }

    /// Runs `body` with a Postgres client whose pool runs alongside.
    static func withPostgres<T: Sendable>(url: String? = nil, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try postgresConfiguration(url: url), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Runs `service` in a ServiceGroup while `body` runs; then shuts it down gracefully (or cancels it).
    static func whileRunning<T: Sendable>(_ service: any Service, graceful: Bool = true, _ body: @Sendable () async throws -> T) async throws -> T {
        let serviceGroup = ServiceGroup(configuration: .init(services: [service], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            do {
                let result = try await body()
                if graceful { await serviceGroup.triggerGracefulShutdown() } else { group.cancelAll() }
                try? await group.waitForAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Waits until the sink stored `offset` as the next offset of partition 0 of every topic.
    static func waitForStoredOffsets(_ client: PostgresClient, group: String, topics: [String: Int64], timeout: Duration = .seconds(30)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let stored = try await storedOffsets(client, group: group)
            if topics.allSatisfy({ stored[$0.key] == $0.value }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TimedOut(what: "stored offsets \(topics) for group \(group); have \(try await storedOffsets(client, group: group))")
    }

    static func storedOffsets(_ client: PostgresClient, group: String) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        let exists = try await client.query("SELECT to_regclass('sluice.sluice_offsets') IS NOT NULL").decode((Bool,).self)
        for try await (present,) in exists where !present { return [:] }
        for try await (topic, next) in try await client.query(
            "SELECT topic, next_offset FROM sluice.sluice_offsets WHERE group_id = \(group) AND \"partition\" = 0").decode((String, Int64).self) {
            result[topic] = next
        }
        return result
    }

    /// A fresh topic, replica schema and consumer group, and the messages of `changes` random changes
    /// to `accounts` (the first an insert: it creates the replica table) with the table they leave.
    struct Scenario: Sendable {
        let topic: String
        let schema: String
        let group: String
        let messages: [(key: [UInt8], value: [UInt8]?)]
        let expectedText: String
        var end: Int64 { Int64(messages.count) }

        init(_ name: String, changes: Int, ids: ClosedRange<Int>) async throws {
            topic = try await KafkaTestWorld.makeTopic(name)
            schema = PostgresSinkTestWorld.uniqueSchema()
            group = KafkaTestWorld.uniqueName(name)
            var source = AccountsSource()
            try source.insert(source.randomRow(id: ids.lowerBound))
            try source.randomChanges(changes, ids: ids)
            messages = source.messages
            expectedText = source.expectedText
        }

        /// Publishes every message to partition 0 and waits for the broker's acknowledgements.
        func publishAll() async throws {
            let producer = try KafkaTestWorld.makeProducer()
            do {
                for message in messages {
                    try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: 0)
                }
                try await producer.waitForAllDeliveries()
            } catch {
                await producer.shutdown()
                throw error
            }
            await producer.shutdown()
        }
    }

    static func uniqueSchema() -> String { "t_" + UUID().uuidString.prefix(8).lowercased() }

    static func dropSchema(_ client: PostgresClient, _ schema: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(quoteIdentifier(schema)) CASCADE"))
    }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }
}
