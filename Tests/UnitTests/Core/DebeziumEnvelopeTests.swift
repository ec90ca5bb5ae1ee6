import Testing
@testable import SluiceCore

@Suite struct DebeziumEnvelopeTests {
    let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")

    func updateEvent() -> ChangeEvent {
        ChangeEvent(
            op: .update, table: table, key: ["customer_id": .int(7)],
            before: ["customer_id": .int(7), "monthly_income": .string("4200.00")],
            after: ["customer_id": .int(7), "monthly_income": .string("4800.50")],
            position: SourcePosition(commitLSN: LSN("0000002a:00000d18:0003")!, commandID: 2,
                                     changeLSN: LSN("0000002a:00000d10:0002")!, eventSerialNo: 1),
            commitTimeMs: 1_732_000_000_123, processedAtMs: 1_732_000_001_000,
            transaction: TransactionInfo(id: "0000002a:00000d18:0003", totalOrder: 2, dataCollectionOrder: 1))
    }

    @Test func encodesDebeziumFieldsInOrder() throws {
        let codec = DebeziumEnvelope(serverName: "credit")
        let value = try JSONValue.parse(codec.encodeValue(updateEvent(), schema: nil))
        #expect(value.objectValue?.keys == ["before", "after", "source", "op", "ts_ms", "transaction"])
        let source = try #require(value["source"])
        #expect(source["connector"] == .string("sqlserver"))
        #expect(source["name"] == .string("credit"))
        #expect(source["db"] == .string("CreditStaging"))
        #expect(source["commit_lsn"] == .string("0000002a:00000d18:0003"))
        #expect(source["change_lsn"] == .string("0000002a:00000d10:0002"))
        #expect(source["event_serial_no"] == .number("1"))
        #expect(source["ts_ms"] == .number("1732000000123"))
        #expect(source["snapshot"] == .string("false"))
        #expect(value["op"] == .string("u"))
        #expect(value["transaction"]?["total_order"] == .number("2"))
        #expect(String(decoding: codec.encodeKey(updateEvent(), schema: nil), as: UTF8.self) == #"{"customer_id":7}"#)
    }

    @Test func decodeInvertsEncode() throws {
        let codec = DebeziumEnvelope(serverName: "credit")
        let event = updateEvent()
        let decoded = try DebeziumEnvelope.decode(key: codec.encodeKey(event, schema: nil), value: codec.encodeValue(event, schema: nil))
        #expect(decoded == event)
    }

    @Test func decodesTheSchemaWrappedForm() throws {
        let schema = TableSchema(table: table, columns: [
            FieldSchema(field: "customer_id", type: .int32, optional: false),
            FieldSchema(field: "monthly_income", type: .string, optional: true),
        ], keyColumns: ["customer_id"])
        let codec = DebeziumEnvelope(serverName: "credit", includeSchema: true)
        let event = updateEvent()
        let value = try JSONValue.parse(codec.encodeValue(event, schema: schema))
        #expect(value.objectValue?.keys == ["schema", "payload"])
        #expect(value["schema"]?["name"] == .string("credit.CreditStaging.dbo.customers.Envelope"))
        let key = try JSONValue.parse(codec.encodeKey(event, schema: schema))
        #expect(key["schema"]?["fields"]?.arrayValue?.count == 1)
        let decoded = try DebeziumEnvelope.decode(key: codec.encodeKey(event, schema: schema), value: codec.encodeValue(event, schema: schema))
        #expect(decoded == event)
    }

    @Test func rejectsEventsThatCannotBeApplied() {
        #expect(throws: EnvelopeError.self) { try DebeziumEnvelope.decode(key: nil, value: Array(#"{"op":"x"}"#.utf8)) }
        #expect(throws: EnvelopeError.self) {
            try DebeziumEnvelope.decode(key: nil, value: Array(#"{"op":"c","after":null,"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"}}"#.utf8))
        }
        #expect(throws: EnvelopeError.self) {
            try DebeziumEnvelope.decode(key: nil, value: Array(#"{"op":"d","before":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"bogus"}}"#.utf8))
        }
        #expect(throws: (any Error).self) { try DebeziumEnvelope.decode(key: nil, value: Array("not json".utf8)) }
    }

    @Test func snapshotReadsCarryNoSerialNumber() throws {
        var event = updateEvent()
        event.op = .read
        event.before = nil
        event.position = .snapshot(at: LSN("0000002a:00000d18:0003")!)
        event.snapshot = .true
        let value = try JSONValue.parse(DebeziumEnvelope(serverName: "credit").encodeValue(event, schema: nil))
        #expect(value["source"]?["change_lsn"] == .null)
        #expect(value["source"]?["event_serial_no"] == .null)
        #expect(value["source"]?["snapshot"] == .string("true"))
    }
}

@Suite struct SQLServerTypeMappingTests {
    func schema(_ type: String, length: Int? = nil, precision: Int? = nil, scale: Int? = nil,
                mode: SQLServerTypeMapping.DecimalMode = .string) throws(SQLServerTypeMapping.UnsupportedType) -> FieldSchema {
        try SQLServerTypeMapping.fieldSchema(column: "c", typeName: type, length: length, precision: precision, scale: scale,
                                             optional: true, decimalMode: mode)
    }

    func parameter(_ s: FieldSchema, _ key: String) -> String? { s.parameters.first { $0.0 == key }?.1 }

    @Test func datetime2PrecisionPicksTheTimestampUnit() throws {
        #expect(try schema("datetime2", scale: 3).name == "io.debezium.time.Timestamp")
        #expect(try schema("datetime2", scale: 6).name == "io.debezium.time.MicroTimestamp")
        #expect(try schema("datetime2", scale: 7).name == "io.debezium.time.NanoTimestamp")
        #expect(try schema("datetime").name == "io.debezium.time.Timestamp")
        #expect(try schema("time", scale: 7).name == "io.debezium.time.NanoTime")
        #expect(try schema("date").type == .int32)
    }

    @Test func decimalsKeepPrecisionAndScaleForTheSinks() throws {
        let s = try schema("decimal", precision: 18, scale: 2)
        #expect(s.type == .string)
        #expect(parameter(s, SQLServerTypeMapping.sourceTypeParameter) == "DECIMAL")
        #expect(parameter(s, SQLServerTypeMapping.sourceLengthParameter) == "18")
        #expect(parameter(s, SQLServerTypeMapping.sourceScaleParameter) == "2")
        let precise = try schema("decimal", precision: 18, scale: 2, mode: .precise)
        #expect(precise.name == "org.apache.kafka.connect.data.Decimal" && parameter(precise, "scale") == "2")
        #expect(parameter(try schema("money"), SQLServerTypeMapping.sourceScaleParameter) == "4")
    }

    @Test func stringLengthsArePropagated() throws {
        #expect(parameter(try schema("nvarchar", length: 200), SQLServerTypeMapping.sourceLengthParameter) == "200")
        #expect(parameter(try schema("nvarchar", length: -1), SQLServerTypeMapping.sourceLengthParameter) == "-1")
    }

    @Test func unsupportedTypesNameTheFix() {
        #expect(throws: SQLServerTypeMapping.UnsupportedType.self) { try schema("geography") }
        do { _ = try schema("sql_variant") } catch { #expect(error.description.contains("@captured_column_list")) }
    }
}

@Suite struct SchemaDecodingTests {
    @Test func readsTheRowSchemaAndKeyColumnsBack() throws {
        let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
        let columns = [
            try SQLServerTypeMapping.fieldSchema(column: "customer_id", typeName: "int", length: nil, precision: nil, scale: nil, optional: false, decimalMode: .string),
            try SQLServerTypeMapping.fieldSchema(column: "monthly_income", typeName: "decimal", length: nil, precision: 18, scale: 2, optional: true, decimalMode: .string),
        ]
        let schema = TableSchema(table: table, columns: columns, keyColumns: ["customer_id"])
        let event = ChangeEvent(op: .create, table: table, key: ["customer_id": .int(1)], before: nil,
                                after: ["customer_id": .int(1), "monthly_income": .string("10.00")],
                                position: .snapshot(at: .zero), commitTimeMs: 0, processedAtMs: 0)
        let codec = DebeziumEnvelope(serverName: "credit", includeSchema: true)
        let decoded = try DebeziumEnvelope.decodeSchema(key: codec.encodeKey(event, schema: schema),
                                                        value: codec.encodeValue(event, schema: schema), table: table)
        #expect(decoded == schema)
        #expect(decoded?.columns[1].parameter(SQLServerTypeMapping.sourceScaleParameter) == "2")
        #expect(try DebeziumEnvelope.decodeSchema(key: nil, value: DebeziumEnvelope(serverName: "credit").encodeValue(event, schema: nil), table: table) == nil)
    }
}
