import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import Testing

/// The Postgres sink while its Postgres goes away: a throw-away cluster (`scripts/services pg-scratch`)
/// is crashed (`pg_ctl stop -m immediate`, WAL recovery on start) and later shut down cleanly, each
/// time while the sink is applying.
@Suite("Postgres sink: Postgres stopped and restarted under it", .serialized)
struct PostgresSinkRestartTests {
    typealias World = PostgresSinkTestWorld

    static func services(_ arguments: String...) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = root.appendingPathComponent("scripts/services")
        process.arguments = ["pg-scratch"] + arguments
        // Output to a file, not a pipe: the Postgres server the script starts would hold a pipe open.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pg-scratch-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw SluiceProcessFailure("scripts/services pg-scratch \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }

    @Test("a crash and a shutdown of Postgres mid-stream: the sink retries, reports degraded, then catches up with nothing lost or doubled")
    func postgresRestartsLoseNothingAndDoubleNothing() async throws {
        // SLUICE_SCRATCH_PG_PORT: a port of the caller's own range (parallel worlds on one machine).
        let port = ProcessInfo.processInfo.environment["SLUICE_SCRATCH_PG_PORT"].flatMap { Int($0) } ?? Int.random(in: 56_000...56_999)
        let url = "postgres://sluice:sluice@127.0.0.1:\(port)/credit_app"
        try Self.services("up", String(port))
        defer { try? Self.services("remove", String(port)) }

        let scenario = try await World.Scenario("pgsink-restart", changes: 1500, ids: 1...100)
        let (topic, schema, group, messages, end, expectedText) =
            (scenario.topic, scenario.schema, scenario.group, scenario.messages, scenario.end, scenario.expectedText)
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 20, connectionURL: url)
        let health = HealthRegistry()
        let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration),
                                       health: health, logger: World.logger)
        let producer = try KafkaTestWorld.makeProducer()
        try await producer.enqueue(topic: topic, key: messages[0].key, value: messages[0].value, partition: 0)
        try await producer.waitForAllDeliveries()

        let sawDegraded = NIOLockedValueBox(false)
        try await World.whileRunning(sink) {
            // Each step gets a new client: a pool whose server went away is what is under test, not the test's.
            try await World.withPostgres(url: url) { client in
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: 1], timeout: .seconds(60))
                try await PostgresSinkKillTests.installAudit(client, schema: schema)
            }
            let killing = NIOLockedValueBox(true)
            async let publishing: Void = PostgresSinkKillTests.publish(messages[1...], to: topic, with: producer, burst: 50) {
                if killing.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(300)) }
            }
            for mode in ["immediate", "fast"] {
                let before = try await World.withPostgres(url: url) { client in try await World.storedOffsets(client, group: group)[topic] ?? 0 }
                let moved = try await World.withPostgres(url: url) { client in
                    try await eventually(timeout: .seconds(30)) { (try await World.storedOffsets(client, group: group)[topic] ?? 0) > before }
                }
                #expect(moved, "the sink applied batches before Postgres was stopped (\(mode))")
                try Self.services("stop", String(port), mode)
                // Down for 3 s: the sink's batches fail, it backs off and says so on its health.
                let clock = ContinuousClock()
                let downUntil = clock.now + .seconds(3)
                while clock.now < downUntil {
                    if health.snapshot.values.contains(where: { $0.name == "degraded" }) { sawDegraded.withLockedValue { $0 = true } }
                    try await Task.sleep(for: .milliseconds(50))
                }
                try Self.services("up", String(port))
            }
            killing.withLockedValue { $0 = false }
            try await publishing
            await producer.shutdown()
            try await World.withPostgres(url: url) { client in
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end], timeout: .seconds(90))
            }
            #expect(health.isReady, "healthy again after Postgres came back: \(health.snapshot)")
        }
        #expect(sawDegraded.withLockedValue { $0 }, "the sink reported degraded health while Postgres was down")

        try await World.withPostgres(url: url) { client in
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            let audit = try await PostgresSinkKillTests.auditedWrites(client, schema: schema)
            #expect(audit.doubled.isEmpty, "applied twice: \(audit.doubled.prefix(10))")
            #expect(audit.backwards.isEmpty, "went backwards: \(audit.backwards.prefix(10))")
        }
    }
}
