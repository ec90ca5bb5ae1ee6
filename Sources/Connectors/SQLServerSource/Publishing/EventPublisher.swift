import Foundation
import SluiceCore
import SluiceKafka

/// Writes a source's messages to Kafka without waiting for each acknowledgement: change events (and the
/// tombstone after a delete), transaction markers, schema changes and heartbeats. Every call returns the
/// ticket of its last message; `KafkaProducer.waitForDeliveries(through:)` on it means everything up to
/// there is stored.
public struct EventPublisher: Sendable {
    public let producer: KafkaProducer
    public let namer: TopicNamer
    public let codec: DebeziumEnvelope
    public let keySchemas: Bool
    public let tombstonesOnDelete: Bool
    public let transactionMetadata: Bool
    private let keyCodec: DebeziumEnvelope

    public init(producer: KafkaProducer, namer: TopicNamer, codec: DebeziumEnvelope, keySchemas: Bool,
                tombstonesOnDelete: Bool, transactionMetadata: Bool) {
        self.producer = producer
        self.namer = namer
        self.codec = codec
        self.keySchemas = keySchemas
        self.tombstonesOnDelete = tombstonesOnDelete
        self.transactionMetadata = transactionMetadata
        self.keyCodec = DebeziumEnvelope(serverName: codec.serverName, includeSchema: keySchemas)
    }

    /// - Parameter topic: `namer.dataTopic(event.table)`, when the caller has it already (it is the same
    ///   for every event of a table; building it per event showed in profiles).
    public func publish(_ event: ChangeEvent, schema: TableSchema, topic: String? = nil) async throws -> DeliveryTicket {
        let topic = topic ?? namer.dataTopic(event.table)
        let key = keyCodec.encodeKey(event, schema: schema)
        var ticket = try await producer.enqueue(topic: topic, key: key, value: codec.encodeValue(event, schema: schema))
        if event.op == .delete && tombstonesOnDelete {
            ticket = try await producer.enqueue(topic: topic, key: key, value: nil)
        }
        return ticket
    }

    /// Debezium's transaction metadata: key `{"id": …}`, value `{"status": "BEGIN"|"END", "id", "event_count",
    /// "data_collections": [{"data_collection": "db.schema.table", "event_count"}], "ts_ms"}`.
    public func publish(_ boundary: ChangeEventAssembler.Output) async throws -> DeliveryTicket? {
        guard transactionMetadata else { return nil }
        let status: String, b: ChangeEventAssembler.TransactionBoundary
        switch boundary {
        case .begin(let x): (status, b) = ("BEGIN", x)
        case .end(let x): (status, b) = ("END", x)
        case .event: return nil
        }
        var value: JSONObject = ["status": .string(status), "id": .string(b.id)]
        if status == "END" {
            value["event_count"] = .int(b.totalEvents)
            value["data_collections"] = .array(b.eventCounts.sorted { $0.key < $1.key }.map { table, count in
                .object(["data_collection": .string(table.description), "event_count": .int(count)])
            })
        } else {
            value["event_count"] = .null
            value["data_collections"] = .null
        }
        value["ts_ms"] = .int(b.commitTimeMs)
        return try await producer.enqueue(topic: namer.transactionTopic, key: JSONValue.object(["id": .string(b.id)]).serialized(),
                                          value: JSONValue.object(value).serialized())
    }

    /// A schema-change event on `<prefix>` (Debezium's shape for SQL Server, which has no DDL text):
    /// `{"source", "ts_ms", "databaseName", "schemaName", "ddl": null, "tableChanges": [{"type", "id", "table": {…}}]}`.
    public func publishSchemaChange(_ instance: CaptureInstance, type: String, position: SourcePosition, commitTimeMs: Int64,
                                    reason: String) async throws -> DeliveryTicket {
        let columns: [JSONValue] = instance.columns.enumerated().map { i, c in
            .object([
                "name": .string(c.name), "typeName": .string(c.typeName),
                "length": c.length.map { .int($0) } ?? (c.precision.map { .int($0) } ?? .null),
                "scale": c.scale.map { .int($0) } ?? .null,
                "position": .int(i + 1), "optional": .bool(c.field.optional),
            ])
        }
        let table = instance.table
        let value: JSONObject = [
            "source": .object([
                "version": .string(SluiceVersion.current), "connector": .string("sqlserver"), "name": .string(namer.prefix),
                "ts_ms": .int(commitTimeMs), "db": .string(table.database), "schema": .string(table.schema),
                "table": .string(table.table), "commit_lsn": .string(position.commitLSN.description),
                "capture_instance": .string(instance.name),
            ]),
            "ts_ms": .int(Int64(Date().timeIntervalSince1970 * 1000)),
            "databaseName": .string(table.database),
            "schemaName": .string(table.schema),
            "ddl": .null,
            "reason": .string(reason),
            "tableChanges": .array([.object([
                "type": .string(type),
                "id": .string("\"\(table.database)\".\"\(table.schema)\".\"\(table.table)\""),
                "table": .object([
                    "primaryKeyColumnNames": .array(instance.keyColumns.map(JSONValue.string)),
                    "columns": .array(columns),
                ]),
            ])]),
        ]
        return try await producer.enqueue(topic: namer.schemaChangeTopic,
                                          key: JSONValue.object(["databaseName": .string(table.database)]).serialized(),
                                          value: JSONValue.object(value).serialized())
    }

    public func publishHeartbeat(database: String) async throws -> DeliveryTicket {
        try await producer.enqueue(
            topic: namer.heartbeatTopic, key: JSONValue.object(["serverName": .string(namer.prefix), "database": .string(database)]).serialized(),
            value: JSONValue.object(["ts_ms": .int(Int64(Date().timeIntervalSince1970 * 1000))]).serialized())
    }
}
