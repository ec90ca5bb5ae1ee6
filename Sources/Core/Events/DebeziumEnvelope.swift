/// Encodes and decodes change events in Debezium's JSON format for the SQL Server connector:
///
/// key   `{"customer_id": 7}`
/// value `{"before": …, "after": …, "source": {"version", "connector": "sqlserver", "name", "ts_ms",
///        "snapshot", "db", "sequence", "schema", "table", "change_lsn", "commit_lsn", "event_serial_no",
///        "command_id"}, "op": "c|u|d|r", "ts_ms": …, "transaction": …}`
///
/// With `includeSchema` the messages are wrapped as Connect's JSON converter does with schemas enabled:
/// `{"schema": {…}, "payload": {…}}`. `source.command_id` is Sluice's addition (see `SourcePosition`);
/// Debezium consumers ignore it.
public struct DebeziumEnvelope: Sendable {
    /// `topic.prefix`: Debezium's logical server name, `source.name`.
    public var serverName: String
    public var includeSchema: Bool

    public init(serverName: String, includeSchema: Bool = false) {
        self.serverName = serverName
        self.includeSchema = includeSchema
    }

    // MARK: Encoding

    public func encodeKey(_ event: ChangeEvent, schema: TableSchema?) -> [UInt8] {
        guard includeSchema, let schema else { return JSONValue.object(event.key).serialized() }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONByteWriter.raw(#"{"schema":"#, into: &out)
        out += EncodedSchemaCache.shared.bytes(serverName: serverName, kind: .key, schema: schema) {
            structSchema(name: "\(serverName).\(event.table).Key", fields: schema.keyFields, optional: false).serialized()
        }
        JSONByteWriter.raw(#","payload":"#, into: &out)
        JSONValue.object(event.key).write(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The event's value; a delete's tombstone is not produced here (its value is `nil`).
    ///
    /// Written straight to bytes (fixed parts as static text, the schema block from
    /// `EncodedSchemaCache`); the result is byte for byte `JSONValue.object(payloadObject(event))`,
    /// wrapped as `{"schema":…,"payload":…}` with schemas.
    public func encodeValue(_ event: ChangeEvent, schema: TableSchema?) -> [UInt8] {
        var out: [UInt8] = []
        let wrap = includeSchema && schema != nil
        if wrap, let schema {
            let block = EncodedSchemaCache.shared.bytes(serverName: serverName, kind: .envelope, schema: schema) {
                envelopeSchema(schema).serialized()
            }
            out.reserveCapacity(block.count + 768)
            JSONByteWriter.raw(#"{"schema":"#, into: &out)
            out += block
            JSONByteWriter.raw(#","payload":"#, into: &out)
        } else {
            out.reserveCapacity(768)
        }
        writePayload(event, into: &out)
        if wrap { out.append(UInt8(ascii: "}")) }
        return out
    }

    func writePayload(_ event: ChangeEvent, into out: inout [UInt8]) {
        func row(_ object: JSONObject?) {
            if let object { JSONValue.object(object).write(into: &out) } else { JSONByteWriter.raw("null", into: &out) }
        }
        let p = event.position
        JSONByteWriter.raw(#"{"before":"#, into: &out)
        row(event.before)
        JSONByteWriter.raw(#","after":"#, into: &out)
        row(event.after)
        JSONByteWriter.raw(#","source":{"version":"#, into: &out)
        JSONByteWriter.string(SluiceVersion.current, into: &out)
        JSONByteWriter.raw(#","connector":"sqlserver","name":"#, into: &out)
        JSONByteWriter.string(serverName, into: &out)
        JSONByteWriter.raw(#","ts_ms":"#, into: &out)
        JSONByteWriter.int(event.commitTimeMs, into: &out)
        JSONByteWriter.raw(#","snapshot":"#, into: &out)
        JSONByteWriter.string(event.snapshot.rawValue, into: &out)
        JSONByteWriter.raw(#","db":"#, into: &out)
        JSONByteWriter.string(event.table.database, into: &out)
        JSONByteWriter.raw(#","sequence":null,"schema":"#, into: &out)
        JSONByteWriter.string(event.table.schema, into: &out)
        JSONByteWriter.raw(#","table":"#, into: &out)
        JSONByteWriter.string(event.table.table, into: &out)
        JSONByteWriter.raw(#","change_lsn":"#, into: &out)
        if let change = p.changeLSN { JSONByteWriter.lsn(change, into: &out) } else { JSONByteWriter.raw("null", into: &out) }
        JSONByteWriter.raw(#","commit_lsn":"#, into: &out)
        JSONByteWriter.lsn(p.commitLSN, into: &out)
        JSONByteWriter.raw(#","event_serial_no":"#, into: &out)
        if p.isSnapshot { JSONByteWriter.raw("null", into: &out) } else { JSONByteWriter.int(p.eventSerialNo, into: &out) }
        JSONByteWriter.raw(#","command_id":"#, into: &out)
        if let command = p.commandID { JSONByteWriter.int(command, into: &out) } else { JSONByteWriter.raw("null", into: &out) }
        JSONByteWriter.raw(#"},"op":"#, into: &out)
        JSONByteWriter.string(event.op.rawValue, into: &out)
        JSONByteWriter.raw(#","ts_ms":"#, into: &out)
        JSONByteWriter.int(event.processedAtMs, into: &out)
        JSONByteWriter.raw(#","transaction":"#, into: &out)
        if let t = event.transaction {
            JSONByteWriter.raw(#"{"id":"#, into: &out)
            JSONByteWriter.string(t.id, into: &out)
            JSONByteWriter.raw(#","total_order":"#, into: &out)
            JSONByteWriter.int(t.totalOrder, into: &out)
            JSONByteWriter.raw(#","data_collection_order":"#, into: &out)
            JSONByteWriter.int(t.dataCollectionOrder, into: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            JSONByteWriter.raw("null", into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The payload as a `JSONValue` tree (what `encodeValue` writes directly).
    func payloadObject(_ event: ChangeEvent) -> JSONObject {
        var payload: JSONObject = [
            "before": event.before.map(JSONValue.object) ?? .null,
            "after": event.after.map(JSONValue.object) ?? .null,
            "source": .object(sourceBlock(event)),
            "op": .string(event.op.rawValue),
            "ts_ms": .int(event.processedAtMs),
        ]
        payload["transaction"] = event.transaction.map { t in
            .object(["id": .string(t.id), "total_order": .int(t.totalOrder),
                     "data_collection_order": .int(t.dataCollectionOrder)])
        } ?? .null
        return payload
    }

    func sourceBlock(_ event: ChangeEvent) -> JSONObject {
        let p = event.position
        return [
            "version": .string(SluiceVersion.current),
            "connector": .string("sqlserver"),
            "name": .string(serverName),
            "ts_ms": .int(event.commitTimeMs),
            "snapshot": .string(event.snapshot.rawValue),
            "db": .string(event.table.database),
            "sequence": .null,
            "schema": .string(event.table.schema),
            "table": .string(event.table.table),
            "change_lsn": p.changeLSN.map { .string($0.description) } ?? .null,
            "commit_lsn": .string(p.commitLSN.description),
            "event_serial_no": p.isSnapshot ? .null : .int(p.eventSerialNo),
            "command_id": p.commandID.map { .int($0) } ?? .null,
        ]
    }

    func structSchema(name: String, fields: [FieldSchema], optional: Bool) -> JSONValue {
        .object(["type": .string("struct"), "fields": .array(fields.map(\.json)), "optional": .bool(optional),
                 "name": .string(name)])
    }

    func envelopeSchema(_ schema: TableSchema) -> JSONValue {
        let valueName = "\(serverName).\(schema.table).Value"
        func rowField(_ field: String) -> JSONValue {
            guard case .object(var o) = structSchema(name: valueName, fields: schema.columns, optional: true) else { return .null }
            o["field"] = .string(field)
            return .object(o)
        }
        let source: [FieldSchema] = [
            .init(field: "version", type: .string, optional: false),
            .init(field: "connector", type: .string, optional: false),
            .init(field: "name", type: .string, optional: false),
            .init(field: "ts_ms", type: .int64, optional: false),
            .init(field: "snapshot", type: .string, optional: true, name: "io.debezium.data.Enum", version: 1),
            .init(field: "db", type: .string, optional: false),
            .init(field: "sequence", type: .string, optional: true),
            .init(field: "schema", type: .string, optional: false),
            .init(field: "table", type: .string, optional: false),
            .init(field: "change_lsn", type: .string, optional: true),
            .init(field: "commit_lsn", type: .string, optional: true),
            .init(field: "event_serial_no", type: .int64, optional: true),
            .init(field: "command_id", type: .int64, optional: true),
        ]
        guard case .object(var sourceObject) = structSchema(
            name: "io.debezium.connector.sqlserver.Source", fields: source, optional: false) else { return .null }
        sourceObject["field"] = .string("source")
        let transaction: [FieldSchema] = [
            .init(field: "id", type: .string, optional: false),
            .init(field: "total_order", type: .int64, optional: false),
            .init(field: "data_collection_order", type: .int64, optional: false),
        ]
        guard case .object(var txObject) = structSchema(
            name: "event.block", fields: transaction, optional: true) else { return .null }
        txObject["field"] = .string("transaction")
        return .object([
            "type": .string("struct"),
            "fields": .array([rowField("before"), rowField("after"), .object(sourceObject),
                              FieldSchema(field: "op", type: .string, optional: false).json,
                              FieldSchema(field: "ts_ms", type: .int64, optional: true).json,
                              .object(txObject)]),
            "optional": .bool(false),
            "name": .string("\(serverName).\(schema.table).Envelope"),
            "version": .int(1),
        ])
    }
}

/// A message that is not a valid change event; the sinks send it to their dead-letter topic.
public struct EnvelopeError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "not a Debezium change event: \(reason)" }
}
