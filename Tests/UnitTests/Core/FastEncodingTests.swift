import Testing
@testable import SluiceCore

/// The hand-written encoders and parsers of the hot paths agree byte for byte with the general ones.
@Suite struct FastEncodingTests {
    let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")

    func schema() throws -> TableSchema {
        TableSchema(table: table, columns: [
            try SQLServerTypeMapping.fieldSchema(column: "customer_id", typeName: "int", length: nil, precision: nil, scale: nil, optional: false, decimalMode: .string),
            try SQLServerTypeMapping.fieldSchema(column: "name", typeName: "nvarchar", length: 100, precision: nil, scale: nil, optional: true, decimalMode: .string),
        ], keyColumns: ["customer_id"])
    }

    func events() -> [ChangeEvent] {
        let commit = LSN(vlf: 0x2a, block: 0xd18, slot: 3)
        let change = SourcePosition(commitLSN: commit, commandID: 12, changeLSN: LSN(vlf: 0x2a, block: 0xd10, slot: 0xab), eventSerialNo: 2)
        return [
            ChangeEvent(op: .update, table: table, key: ["customer_id": .int(7)],
                        before: ["customer_id": .int(7), "name": .string("Ann \"A\" \\ O'Neil\n\u{01}")],
                        after: ["customer_id": .int(7), "name": .string("Ann Ünïcode ✓")],
                        position: change, commitTimeMs: -5, processedAtMs: 1_732_000_001_000,
                        transaction: TransactionInfo(id: commit.description, totalOrder: 3, dataCollectionOrder: 1)),
            ChangeEvent(op: .read, table: table, key: ["customer_id": .int(8)], before: nil,
                        after: ["customer_id": .int(8), "name": .null], position: .snapshot(at: commit),
                        commitTimeMs: 0, snapshot: .last, processedAtMs: 1),
            ChangeEvent(op: .delete, table: table, key: ["customer_id": .int(9)], before: ["customer_id": .int(9), "name": .string("")],
                        after: nil, position: SourcePosition(commitLSN: commit, commandID: nil, changeLSN: commit, eventSerialNo: 1),
                        commitTimeMs: Int64.max, processedAtMs: Int64.min),
        ]
    }

    @Test func encodeValueIsTheSerializedTree() throws {
        let schema = try schema()
        for event in events() {
            let plain = DebeziumEnvelope(serverName: "credit")
            #expect(plain.encodeValue(event, schema: schema) == JSONValue.object(plain.payloadObject(event)).serialized())
            let wrapped = DebeziumEnvelope(serverName: "credit", includeSchema: true)
            let tree = JSONValue.object(["schema": wrapped.envelopeSchema(schema), "payload": .object(wrapped.payloadObject(event))])
            #expect(wrapped.encodeValue(event, schema: schema) == tree.serialized())
            let keyTree = JSONValue.object(["schema": wrapped.structSchema(name: "credit.\(table).Key", fields: schema.keyFields, optional: false),
                                            "payload": .object(event.key)])
            #expect(wrapped.encodeKey(event, schema: schema) == keyTree.serialized())
            #expect(try DebeziumEnvelope.decode(key: wrapped.encodeKey(event, schema: schema), value: wrapped.encodeValue(event, schema: schema)) == event)
        }
    }

    @Test func schemaBlocksAreCachedPerServerAndShape() throws {
        let cache = EncodedSchemaCache(capacity: 4)
        var made = 0
        let schema = try schema()
        for _ in 0..<3 { _ = cache.bytes(serverName: "a", kind: .envelope, schema: schema) { made += 1; return [1] } }
        #expect(made == 1)
        #expect(cache.bytes(serverName: "b", kind: .envelope, schema: schema) { made += 1; return [2] } == [2])
        #expect(cache.bytes(serverName: "a", kind: .key, schema: schema) { made += 1; return [3] } == [3])
        var other = schema
        other.columns.removeLast()
        #expect(cache.bytes(serverName: "a", kind: .envelope, schema: other) { made += 1; return [4] } == [4])
        #expect(cache.bytes(serverName: "a", kind: .envelope, schema: schema) { made += 1; return [9] } == [1])
        #expect(made == 4)
    }

    @Test func integersAndLSNsAsText() {
        for value: Int64 in [0, 7, -7, 10, 99, 100, Int64.max, Int64.min, -1_000_000_000_000] {
            var out: [UInt8] = []
            JSONByteWriter.int(value, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
        var out: [UInt8] = []
        JSONByteWriter.lsn(LSN(vlf: 0xdeadbeef, block: 0xd18, slot: 0xff), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""deadbeef:00000d18:00ff""#)
    }

    @Test func lsnTextFormParsesFastAndStrict() {
        #expect(LSN("0000002a:00000D18:0003") == LSN(vlf: 0x2a, block: 0xd18, slot: 3))
        #expect(LSN("0000002a:00000d18:0003")?.description == "0000002a:00000d18:0003")
        #expect(LSN("0000002g:00000d18:0003") == nil)
        #expect(LSN("0000002a-00000d18-0003") == nil)
        #expect(LSN("0x0000002a00000d180003") == LSN(vlf: 0x2a, block: 0xd18, slot: 3))
    }

    @Test func sortKeysKeepWideNumbers() {
        let position = SourcePosition(commitLSN: .zero, commandID: 12_345_678_901, changeLSN: .zero, eventSerialNo: 123_456)
        #expect(position.sortKey == "00000000000000000000.12345678901.00000000000000000000.123456")
    }

    @Test func sortKeyBytesAreTheSortKeys() {
        let positions = [
            SourcePosition(commitLSN: LSN(vlf: 0x2a, block: 0xd18, slot: 3), commandID: 7, changeLSN: LSN(vlf: 0x2a, block: 0xd18, slot: 2), eventSerialNo: 1),
            SourcePosition(commitLSN: LSN(vlf: 0x2a, block: 0xd18, slot: 3), commandID: nil, changeLSN: nil, eventSerialNo: 0),
            SourcePosition(commitLSN: .zero, commandID: 12_345_678_901, changeLSN: .zero, eventSerialNo: 123_456),
        ]
        for position in positions {
            #expect(position.withSortKeyBytes { Array($0) } == Array(position.sortKey.utf8))
        }
    }

    @Test func parsingSlicesReadsOnlyTheSlice() throws {
        let bytes = Array(#"xx{"a":[1,"b",null,true]}yy"#.utf8)
        #expect(try JSONValue.parse(bytes[2..<bytes.count - 2]) == .object(["a": .array([.number("1"), .string("b"), .null, .bool(true)])]))
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes[2..<bytes.count - 1]) }
    }
}
