// Postgres sink benchmark: applies N change events through the sink and COPYs the same rows into an
// identical table, on the same Postgres, in one run, and prints the rates and their ratio.
//
//   eval "$(/work/main/scripts/services env)"
//   swift run -c release sluice-bench-pgsink [events] [batch.size]
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit

@main
struct PostgresSinkBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let count = arguments.first ?? 50_000
        let batchSize = arguments.dropFirst().first ?? 500
        let environment = ProcessInfo.processInfo.environment
        guard let pgURL = environment["SLUICE_PG_URL"], let bootstrap = environment["SLUICE_KAFKA_BOOTSTRAP"],
              case .success(let url) = PostgresURL.parse(pgURL) else {
            print("set SLUICE_PG_URL and SLUICE_KAFKA_BOOTSTRAP: eval \"$(/work/main/scripts/services env)\"")
            exit(2)
        }
        var logger = Logger(label: "sluice.bench")
        logger.logLevel = .error
        let run = UUID().uuidString.prefix(8).lowercased()
        let topic = "bench-pgsink-\(run)", schema = "bench_\(run)"

        // 1. The events: N inserts into dbo.accounts, as the source publishes them.
        let table = TableID(database: "CreditStaging", schema: "dbo", table: "accounts")
        let tableSchema = try Rows.schema(table: table)
        let codec = DebeziumEnvelope(serverName: "credit", includeSchema: true)
        var messages: [(key: [UInt8], value: [UInt8])] = []
        messages.reserveCapacity(count)
        for id in 1...count {
            let event = ChangeEvent(op: .create, table: table, key: ["id": .int(id)], before: nil, after: Rows.row(id),
                                    position: SourcePosition(commitLSN: LSN(vlf: 1, block: UInt32(id), slot: 1), commandID: 1,
                                                             changeLSN: LSN(vlf: 1, block: UInt32(id), slot: 2), eventSerialNo: 1),
                                    commitTimeMs: 1_700_000_000_000, processedAtMs: 1_700_000_000_000)
            messages.append((codec.encodeKey(event, schema: tableSchema), codec.encodeValue(event, schema: tableSchema)))
        }
        let connection = KafkaConnectionConfiguration(bootstrapServers: bootstrap, clientID: "sluice-bench")
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: connection), logger: logger)
        try await admin.createTopics([KafkaTopicSpecification(name: topic, partitions: 1)])
        await admin.shutdown()
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(connection: connection, linger: .milliseconds(5)), logger: logger)
        let produceStart = ContinuousClock.now
        for message in messages { try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: 0) }
        try await producer.waitForAllDeliveries()
        let produceTime = ContinuousClock.now - produceStart
        await producer.shutdown()

        let json = """
            {"name": "bench-\(run)", "config": {"connector.class": "postgres-sink", "topics": "\(topic)", "group.id": "bench-\(run)",
             "connection.url": "\(pgURL)", "kafka.bootstrap.servers": "\(bootstrap)", "table.name.format": "\(schema).${source.table}",
             "batch.size": \(batchSize)}}
            """
        let configuration = try PostgresSinkConfiguration(ConnectorProperties.parse(Array(json.utf8), origin: "bench", environment: [:]))
        var runtimeConfiguration = PostgresSinkConnector.runtimeConfiguration(configuration)
        runtimeConfiguration.consumer.sessionTimeout = .seconds(6)
        runtimeConfiguration.consumer.heartbeatInterval = .milliseconds(500)
        runtimeConfiguration.pollTimeout = .milliseconds(50)

        let client = PostgresClient(configuration: PostgresClient.Configuration(host: url.host, port: url.port, username: url.user ?? "",
                                                                                password: url.password, database: url.database, tls: .disable),
                                    backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }

            // 2. End to end: the sink service consuming the topic (fresh group) into schema `schema`.
            let service = PostgresSinkService(configuration: configuration, runtimeConfiguration: runtimeConfiguration, logger: logger)
            let serviceGroup = ServiceGroup(configuration: .init(services: [service], logger: logger))
            let start = ContinuousClock.now
            var firstStored: (ContinuousClock.Instant, Int64)?
            try await withThrowingTaskGroup(of: Void.self) { sink in
                sink.addTask { try await serviceGroup.run() }
                while true {
                    let stored = try await storedOffset(client, group: configuration.groupID)
                    if let stored, firstStored == nil { firstStored = (ContinuousClock.now, stored) }
                    if stored == Int64(count) { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                await serviceGroup.triggerGracefulShutdown()
                try await sink.waitForAll()
            }
            let end = ContinuousClock.now
            let total = end - start
            let steady = end - firstStored!.0
            let steadyEvents = count - Int(firstStored!.1)

            // 3. The sink's apply alone (decode, net effect, set-based SQL, offsets; pipelined as in the runtime), batches pre-read, into a second schema.
            let applySchema = schema + "_apply"
            let applyJSON = json.replacing("\(schema).${source.table}", with: "\(applySchema).${source.table}")
            let applyConfiguration = try PostgresSinkConfiguration(ConnectorProperties.parse(Array(applyJSON.utf8), origin: "bench", environment: [:]))
            let target = PostgresSinkTarget(configuration: applyConfiguration, logger: logger)
            let kafkaMessages = messages.enumerated().map { index, m in
                KafkaMessage(topic: topic, partition: 0, offset: Int64(index), key: m.key, value: m.value)
            }
            _ = try await target.apply(SinkBatchBuilder.build(Array(kafkaMessages[0..<1])).batch)  // creates the table
            let decodeStart = ContinuousClock.now
            var decoded = 0
            var decodeIndex = 1
            while decodeIndex < count {
                decoded += SinkBatchBuilder.build(Array(kafkaMessages[decodeIndex..<min(count, decodeIndex + batchSize)])).batch.records.count
                decodeIndex += batchSize
            }
            let decodeTime = ContinuousClock.now - decodeStart
            // As the sink's runtime does: batch n+1 is decoded and prepared while batch n is applied.
            @Sendable func built(from index: Int) -> (batch: SinkBatch, prepared: SinkPreparedBatch?, next: Int)? {
                guard index < count else { return nil }
                let batch = SinkBatchBuilder.build(Array(kafkaMessages[index..<min(count, index + batchSize)])).batch
                return (batch, target.prepare(batch), index + batchSize)
            }
            let applyStart = ContinuousClock.now
            var pending = built(from: 1)
            while let current = pending {
                async let upcoming = built(from: current.next)
                _ = try await target.apply(current.batch, prepared: current.prepared)
                pending = await upcoming
            }
            let applyTime = ContinuousClock.now - applyStart
            await target.close()

            // 4. A plain COPY of the same rows into an identical table.
            let copyTable = quoteIdentifier(schema: schema, table: "accounts_copy")
            try await client.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(copyTable) (LIKE \(quoteIdentifier(schema: schema, table: "accounts")) INCLUDING ALL)"))
            var text = ""
            text.reserveCapacity(count * 200)
            let layout = try PostgresTableLayout.wanted(schema: schema, table: "accounts", from: [tableSchema])
            for id in 1...count {
                let row = Rows.row(id)
                let fields = try layout.columns.map { column -> String in
                    (try PostgresValueText.make(row[column.name], form: column.type.form, column: column.name) ?? "\\N")
                        .replacing("\\", with: "\\\\")
                }
                text += fields.joined(separator: "\t") + "\t" + "position-\(id)" + "\n"
            }
            let columns = layout.columns.map(\.name) + ["__sluice_position"]  // copyFrom quotes them
            let copyStart = ContinuousClock.now
            defer { _ = copyTable }
            try await client.withConnection { connection in
                // copyFrom quotes the table name as one identifier: reach the schema through search_path.
                try await connection.query(PostgresQuery(unsafeSQL: "SET search_path TO \(quoteIdentifier(schema))"), logger: logger)
                try await connection.copyFrom(table: "accounts_copy", columns: columns, logger: logger) { writer in
                    var buffer = ByteBuffer()
                    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                        buffer.writeSubstring(line)
                        buffer.writeString("\n")
                        if buffer.readableBytes > 1 << 20 { try await writer.write(buffer); buffer.clear() }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
            }
            let copyTime = ContinuousClock.now - copyStart

            func rate(_ n: Int, _ d: Duration) -> Double { Double(n) / d.seconds }
            let copyRate = rate(count, copyTime), applyRate = rate(count - 1, applyTime), steadyRate = rate(steadyEvents, steady)
            print("Postgres sink benchmark: \(count) insert events, batch.size \(batchSize), 1 partition, one machine")
            print(String(format: "  produce to Kafka (setup)             %8.2f s  %9.0f events/s", produceTime.seconds, rate(count, produceTime)))
            print(String(format: "  plain COPY of the same rows          %8.2f s  %9.0f rows/s", copyTime.seconds, copyRate))
            print(String(format: "  sink apply (decode+reduce+SQL+offs)  %8.2f s  %9.0f events/s  = %.2f × COPY", applyTime.seconds, applyRate, applyRate / copyRate))
            print(String(format: "    of which decoding alone (JSON → events, schemas)  %6.2f s  %9.0f events/s", decodeTime.seconds, rate(decoded, decodeTime)))
            print(String(format: "  sink end to end from Kafka (steady)  %8.2f s  %9.0f events/s  = %.2f × COPY", steady.seconds, steadyRate, steadyRate / copyRate))
            print(String(format: "  sink end to end incl. group join     %8.2f s  %9.0f events/s", total.seconds, rate(count, total)))
            // One machine-readable line for `make bench` (benchmarks/bench.py).
            print(String(format: "result events=%d batch=%d apply_per_s=%.0f copy_per_s=%.0f decode_per_s=%.0f steady_per_s=%.0f",
                         count, batchSize, applyRate, copyRate, rate(decoded, decodeTime), steadyRate))
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(quoteIdentifier(schema)) CASCADE"))
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(quoteIdentifier(applySchema)) CASCADE"))
            try await client.query("DELETE FROM sluice.sluice_offsets WHERE group_id = \(configuration.groupID)")
        }
    }

    /// The group's stored offset; nil before the first batch (on a fresh database the sink may not have
    /// created `sluice_offsets` yet when this first asks).
    static func storedOffset(_ client: PostgresClient, group: String) async throws -> Int64? {
        do {
            let rows = try await client.query("SELECT next_offset FROM sluice.sluice_offsets WHERE group_id = \(group) AND \"partition\" = 0")
            for try await (next,) in rows.decode((Int64,).self) { return next }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
            return nil  // undefined_table
        }
        return nil
    }
}

enum Rows {
    static func schema(table: TableID) throws -> TableSchema {
        func f(_ c: String, _ t: String, length: Int? = nil, precision: Int? = nil, scale: Int? = nil, optional: Bool = true) throws -> FieldSchema {
            try SQLServerTypeMapping.fieldSchema(column: c, typeName: t, length: length, precision: precision, scale: scale, optional: optional, decimalMode: .string)
        }
        return TableSchema(table: table, columns: [
            try f("id", "int", optional: false), try f("name", "nvarchar", length: 100), try f("balance", "decimal", precision: 12, scale: 2),
            try f("opened", "date"), try f("updated", "datetime2", scale: 7), try f("active", "bit"), try f("token", "uniqueidentifier"),
            try f("status", "varchar", length: 20), try f("seen", "datetimeoffset", scale: 3),
        ], keyColumns: ["id"])
    }

    static func row(_ id: Int) -> JSONObject {
        [
            "id": .int(id), "name": .string("customer number \(id)"), "balance": .string("\(id % 100_000).\(String(format: "%02d", id % 100))"),
            "opened": .int(19_000 + id % 1000), "updated": .int(1_700_000_000_000_000_000 + Int64(id) * 1_000_000_100),
            "active": .bool(id % 2 == 0), "token": .string(String(format: "3F2504E0-4F89-11D3-9A0C-%012X", id)),
            "status": .string(["submitted", "approved", "rejected"][id % 3]), "seen": .string("2025-01-06T09:37:00.358+01:00"),
        ]
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
