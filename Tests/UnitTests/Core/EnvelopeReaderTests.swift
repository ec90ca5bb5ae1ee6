import Testing
@testable import SluiceCore

/// `DebeziumEnvelope.readEnvelope` (the field-by-field reader) against `decodeParsed` (the whole-tree
/// parse): the same event for every message the reader takes, and the parse for every one it leaves.
@Suite struct EnvelopeReaderTests {
    let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")

    func events() -> [ChangeEvent] {
        let commit = LSN("0000002a:00000d18:0003")!, change = LSN("0000002A:00000D10:0002")!
        let row: JSONObject = ["customer_id": .int(7), "full_name": .string("Zoë \"Q\" O'Neil\n\\ 🙂"),
                               "monthly_income": .string("4800.50"), "email": .null, "score": .number("-1.5e3")]
        let base = ChangeEvent(
            op: .update, table: table, key: ["customer_id": .int(7)], before: ["customer_id": .int(7)], after: row,
            position: SourcePosition(commitLSN: commit, commandID: 2, changeLSN: change, eventSerialNo: 3),
            commitTimeMs: 1_732_000_000_123, processedAtMs: 1_732_000_001_000,
            transaction: TransactionInfo(id: "0000002a:00000d18:0003", totalOrder: 12, dataCollectionOrder: 4))
        var create = base
        create.op = .create
        create.before = nil
        create.transaction = nil
        create.position = SourcePosition(commitLSN: commit, commandID: nil, changeLSN: change, eventSerialNo: 1)
        var delete = base
        delete.op = .delete
        delete.after = nil
        delete.commitTimeMs = -5
        var read = base
        read.op = .read
        read.before = nil
        read.position = .snapshot(at: commit)
        read.snapshot = .last
        return [base, create, delete, read]
    }

    @Test func readsWhatTheEncoderWritesAsTheParseDoes() throws {
        let codec = DebeziumEnvelope(serverName: "credit")
        for event in events() {
            let key = codec.encodeKey(event, schema: nil)[...], value = codec.encodeValue(event, schema: nil)[...]
            let read = try #require(DebeziumEnvelope.readEnvelope(key: key, value: value), "\(event.op)")
            #expect(read == event)
            #expect(read == (try DebeziumEnvelope.decodeParsed(key: key, value: value)))
        }
    }

    /// Debezium's own layout: other field order, extra fields, whitespace, a schema-wrapped key.
    @Test func readsDebeziumsLayout() throws {
        let value = """
            { "op" : "u", "ts_ms": 1732000001000, "transaction": null,
              "source": {"version":"2.7.0.Final","connector":"sqlserver","name":"server1","ts_ms":1732000000123,
                         "snapshot":"false","db":"CreditStaging","sequence":null,"schema":"dbo","table":"customers",
                         "change_lsn":"0000002a:00000d10:0002","commit_lsn":"0000002a:00000d18:0003","event_serial_no":2,
                         "extra": {"nested": [1, {"a": "b"}]}},
              "after": {"customer_id": 7, "full_name": "A"}, "before": {"customer_id": 7, "full_name": "B"} }
            """
        let key = #"{"schema":{"type":"struct","fields":[{"type":"int32","field":"customer_id"}]},"payload":{"customer_id":7}}"#
        let read = try #require(DebeziumEnvelope.readEnvelope(key: Array(key.utf8)[...], value: Array(value.utf8)[...]))
        #expect(read == (try DebeziumEnvelope.decodeParsed(key: Array(key.utf8)[...], value: Array(value.utf8)[...])))
        #expect(read.position.commandID == nil)
        #expect(read.position.eventSerialNo == 2)
        #expect(read.key == ["customer_id": .int(7)])
        #expect(read.transaction == nil)
    }

    /// The first of duplicate fields counts, in the envelope and the source block, as in the parse.
    @Test func theFirstOfDuplicateFieldsCounts() throws {
        let value = #"{"op":"c","op":"d","after":{"a":1},"after":null,"source":{"db":"d","db":"x","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003","commit_lsn":"bogus","ts_ms":5,"ts_ms":6},"ts_ms":1,"ts_ms":2}"#
        let read = try #require(DebeziumEnvelope.readEnvelope(key: nil, value: Array(value.utf8)[...]))
        #expect(read == (try DebeziumEnvelope.decodeParsed(key: nil, value: Array(value.utf8)[...])))
        #expect(read.op == .create && read.table.database == "d" && read.commitTimeMs == 5 && read.processedAtMs == 1)
    }

    /// Forms the reader leaves to the parse, which still decodes them.
    @Test func leavesOtherFormsToTheParse() throws {
        let lsn = #""commit_lsn":"0000002a:00000d18:0003""#
        let cases = [
            #"{"schema":{},"payload":{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t",\#(lsn)}}}"#,
            #"{"op":"c","after":{"a":1},"source":{"d\u0062":"d","schema":"s","table":"t",\#(lsn)}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d\u00e9","schema":"s","table":"t",\#(lsn)}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0x0000002a00000d180003"}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t",\#(lsn),"ts_ms":1.5}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t",\#(lsn),"change_lsn":7}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t",\#(lsn)},"transaction":{"total_order":1}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t",\#(lsn),"snapshot":1}}"#,
        ]
        for text in cases {
            let value = Array(text.utf8)[...]
            #expect(DebeziumEnvelope.readEnvelope(key: nil, value: value) == nil, "\(text)")
            let decoded = try DebeziumEnvelope.decode(key: nil, value: value)
            #expect(decoded == (try DebeziumEnvelope.decodeParsed(key: nil, value: value)))
        }
        let escaped = try DebeziumEnvelope.decode(key: nil, value: Array(cases[2].utf8)[...])
        #expect(escaped.table.database == "dé")
    }

    /// What is not a valid event is never read: the parse words the error.
    @Test func invalidMessagesAreLeftToTheParse() {
        let cases = [
            #"{"op":"x","after":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"}}"#,
            #"{"op":"c","after":null,"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"}}"#,
            #"{"op":"d","before":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"bogus"}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","commit_lsn":"0000002a:00000d18:0003"}}"#,
            #"{"op":"c","after":[1],"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"}}"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"}} x"#,
            #"{"op":"c","after":{"a":1},"source":{"db":"d","schema":"s","table":"t","commit_lsn":"0000002a:00000d18:0003"},"x":tru}"#,
            #"{"op":"c" "after":{"a":1}}"#,
        ]
        for text in cases {
            let value = Array(text.utf8)[...]
            #expect(DebeziumEnvelope.readEnvelope(key: nil, value: value) == nil, "\(text)")
            #expect(throws: (any Error).self) { try DebeziumEnvelope.decode(key: nil, value: value) }
        }
    }

    @Test func readsIntegersExactly() throws {
        func parsed(_ text: String) -> Int64? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { buffer in
                var parser = JSONParser(bytes: buffer)
                defer { parser.finish() }
                guard let value = parser.int64(), parser.atEnd() else { return nil }
                return value
            }
        }
        #expect(parsed("0") == 0)
        #expect(parsed("-0") == 0)
        #expect(parsed("9223372036854775807") == .max)
        #expect(parsed("-9223372036854775808") == .min)
        #expect(parsed("9223372036854775808") == nil)
        #expect(parsed("-9223372036854775809") == nil)
        #expect(parsed("99999999999999999999999") == nil)
        #expect(parsed("01") == nil)
        #expect(parsed("1.0") == nil)
        #expect(parsed("1e3") == nil)
        #expect(parsed("-") == nil)
        #expect(parsed("1732000000123") == 1_732_000_000_123)
    }
}
