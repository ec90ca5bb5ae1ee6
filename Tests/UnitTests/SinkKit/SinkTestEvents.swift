import SluiceCore
import SluiceKafka

/// Builds change-event messages exactly as the source publishes them (schemas on), for sink unit tests.
struct SinkTestEvents {
    let table = TableID(database: "CreditStaging", schema: "dbo", table: "accounts")
    let codec = DebeziumEnvelope(serverName: "credit", includeSchema: true)
    var topic = "credit.CreditStaging.dbo.accounts"

    var schema: TableSchema {
        get throws {
            TableSchema(table: table, columns: [
                try SQLServerTypeMapping.fieldSchema(column: "id", typeName: "int", length: nil, precision: nil, scale: nil, optional: false, decimalMode: .string),
                try SQLServerTypeMapping.fieldSchema(column: "name", typeName: "nvarchar", length: 50, precision: nil, scale: nil, optional: true, decimalMode: .string),
                try SQLServerTypeMapping.fieldSchema(column: "balance", typeName: "decimal", length: nil, precision: 12, scale: 2, optional: true, decimalMode: .string),
            ], keyColumns: ["id"])
        }
    }

    static func position(_ n: Int, serial: Int = 1) -> SourcePosition {
        SourcePosition(commitLSN: LSN(vlf: 1, block: UInt32(n), slot: 1), commandID: 1,
                       changeLSN: LSN(vlf: 1, block: UInt32(n), slot: 2), eventSerialNo: serial)
    }

    func event(_ op: ChangeEvent.Operation, id: Int, name: String? = nil, balance: String? = nil, at n: Int, serial: Int = 1) -> ChangeEvent {
        let row: JSONObject = ["id": .int(id), "name": name.map(JSONValue.string) ?? .null, "balance": balance.map(JSONValue.string) ?? .null]
        return ChangeEvent(op: op, table: table, key: ["id": .int(id)], before: op == .create ? nil : row,
                           after: op == .delete ? nil : row, position: Self.position(n, serial: serial),
                           commitTimeMs: 1_700_000_000_000 + Int64(n), processedAtMs: 1_700_000_000_000)
    }

    func message(_ event: ChangeEvent, offset: Int64, partition: Int32 = 0) throws -> KafkaMessage {
        let schema = try schema
        return KafkaMessage(topic: topic, partition: partition, offset: offset, key: codec.encodeKey(event, schema: schema),
                            value: codec.encodeValue(event, schema: schema))
    }

    func tombstone(id: Int, offset: Int64, partition: Int32 = 0) -> KafkaMessage {
        KafkaMessage(topic: topic, partition: partition, offset: offset, key: Array(#"{"id":\#(id)}"#.utf8), value: nil)
    }
}
