extension DebeziumEnvelope {
    /// Reads a message produced by this codec or by Debezium's SQL Server connector (with or without the
    /// schema block). A tombstone (nil value) is not an event: callers skip it before decoding.
    public static func decode(key: [UInt8]?, value: [UInt8]) throws -> ChangeEvent {
        try decode(key: key.map { $0[...] }, value: value[...])
    }

    /// `decode(key:value:)` on parts of messages (a sink passes just the payloads of messages with schema
    /// blocks, which it has already split; the parts are read in place).
    ///
    /// An envelope is read field by field first (`readEnvelope`): only the rows become `JSONValue`s. Any
    /// message that reader does not take (a schema block, escapes in the source block, a malformed or
    /// invalid event) is parsed whole (`decodeParsed`), which also words the error.
    public static func decode(key: ArraySlice<UInt8>?, value: ArraySlice<UInt8>) throws -> ChangeEvent {
        if let event = readEnvelope(key: key, value: value) { return event }
        return try decodeParsed(key: key, value: value)
    }

    /// The message parsed into a `JSONValue` tree, then read.
    static func decodeParsed(key: ArraySlice<UInt8>?, value: ArraySlice<UInt8>) throws -> ChangeEvent {
        let root = try JSONValue.parse(value)
        let payload = unwrap(root)
        guard case .object(let envelope) = payload else { throw EnvelopeError("the value is not a JSON object") }
        guard let opText = envelope["op"]?.stringValue, let op = ChangeEvent.Operation(rawValue: opText) else {
            throw EnvelopeError("missing or unknown \"op\" (expected c, u, d or r)")
        }
        guard let source = envelope["source"]?.objectValue else { throw EnvelopeError("missing \"source\" block") }
        guard let db = source["db"]?.stringValue, let schemaName = source["schema"]?.stringValue,
              let tableName = source["table"]?.stringValue else {
            throw EnvelopeError("\"source\" lacks db, schema or table")
        }
        guard let commitText = source["commit_lsn"]?.stringValue, let commitLSN = LSN(commitText) else {
            throw EnvelopeError("\"source.commit_lsn\" is missing or not an LSN")
        }
        let changeLSN: LSN?
        if let text = source["change_lsn"]?.stringValue {
            guard let lsn = LSN(text) else { throw EnvelopeError("\"source.change_lsn\" \(text) is not an LSN") }
            changeLSN = lsn
        } else {
            changeLSN = nil
        }
        let position = SourcePosition(
            commitLSN: commitLSN,
            commandID: source["command_id"]?.int64Value.map { Int($0) },
            changeLSN: changeLSN,
            eventSerialNo: Int(source["event_serial_no"]?.int64Value ?? 0))
        func row(_ name: String) throws -> JSONObject? {
            switch envelope[name] {
            case nil, .some(.null): return nil
            case .some(.object(let o)): return o
            default: throw EnvelopeError("\"\(name)\" is neither null nor an object")
            }
        }
        let before = try row("before")
        let after = try row("after")
        if op == .delete ? before == nil : after == nil {
            throw EnvelopeError("a '\(op.rawValue)' event needs \"\(op == .delete ? "before" : "after")\"")
        }
        let keyObject = try decodeKey(key)
        let snapshot = ChangeEvent.SnapshotMarker(rawValue: source["snapshot"]?.stringValue ?? "false") ?? .false
        var transaction: TransactionInfo?
        if let t = envelope["transaction"]?.objectValue, let id = t["id"]?.stringValue {
            transaction = TransactionInfo(id: id, totalOrder: Int(t["total_order"]?.int64Value ?? 0),
                                          dataCollectionOrder: Int(t["data_collection_order"]?.int64Value ?? 0))
        }
        return ChangeEvent(
            op: op, table: TableID(database: db, schema: schemaName, table: tableName), key: keyObject,
            before: before, after: after, position: position,
            commitTimeMs: source["ts_ms"]?.int64Value ?? 0, snapshot: snapshot,
            processedAtMs: envelope["ts_ms"]?.int64Value ?? 0, transaction: transaction)
    }

    /// The key's fields (empty without a key); a schema-wrapped key is unwrapped.
    static func decodeKey(_ key: ArraySlice<UInt8>?) throws -> JSONObject {
        guard let key, !key.isEmpty else { return JSONObject() }
        guard case .object(let k) = unwrap(try JSONValue.parse(key)) else { throw EnvelopeError("the key is not a JSON object") }
        return k
    }

    /// `{"schema":…, "payload":…}` → payload; anything else as is.
    static func unwrap(_ value: JSONValue) -> JSONValue {
        if case .object(let o) = value, o.count == 2, o["schema"] != nil, let payload = o["payload"] { return payload }
        return value
    }

    // MARK: Reading an envelope field by field

    /// What `readEnvelope` has read of the `source` block.
    private struct SourceFields {
        var db: String?, schema: String?, table: String?
        var commitLSN: LSN?, changeLSN: LSN?
        var commandID: Int64?, eventSerialNo: Int64?, tsMs: Int64?
        var snapshot: ChangeEvent.SnapshotMarker?
    }

    /// The event as `decodeParsed` would return it, read without building the `JSONValue` of the source and
    /// transaction blocks (they are most of a payload's fields: 13 of them, every one looked up by name
    /// before); nil whenever this reader is not sure, then the caller parses the message whole. Like the
    /// parsed form, the first of duplicate keys counts.
    static func readEnvelope(key: ArraySlice<UInt8>?, value: ArraySlice<UInt8>) -> ChangeEvent? {
        value.withUnsafeBufferPointer { buffer -> ChangeEvent? in
            var parser = JSONParser(bytes: buffer)
            defer { parser.finish() }
            do throws(JSONParseError) {
                return try readEnvelope(&parser, key: key)
            } catch {
                return nil
            }
        }
    }

    private static func readEnvelope(_ p: inout JSONParser, key: ArraySlice<UInt8>?) throws(JSONParseError) -> ChangeEvent? {
        guard p.beginObject() == true else { return nil }
        var op: ChangeEvent.Operation?
        var before: JSONObject?, after: JSONObject?
        var source: SourceFields?
        var tsMs: Int64?
        var transaction: TransactionInfo?
        var seen: UInt8 = 0
        repeat {
            guard let name = p.rawKey() else { return nil }
            // Connect's wrapper is left to the parsed form (it unwraps exactly {"schema", "payload"}).
            if p.bytes(name, are: "schema") || p.bytes(name, are: "payload") { return nil }
            let field = Field(p, name)
            guard let field, seen & field.bit == 0 else {
                _ = try p.parseValue(depth: 1)  // a field the event does not read, or a duplicate
                continue
            }
            seen |= field.bit
            switch field {
            case .before, .after:
                let row: JSONObject?
                switch try p.parseValue(depth: 1) {
                case .null: row = nil
                case .object(let o): row = o
                default: return nil
                }
                if field == .before { before = row } else { after = row }
            case .source:
                guard let fields = try readSource(&p) else { return nil }
                source = fields
            case .op:
                guard let range = p.rawString(), range.count == 1 else { return nil }
                switch p.bytes[range.lowerBound] {
                case UInt8(ascii: "c"): op = .create
                case UInt8(ascii: "u"): op = .update
                case UInt8(ascii: "d"): op = .delete
                case UInt8(ascii: "r"): op = .read
                default: return nil
                }
            case .tsMs:
                if !p.null() {
                    guard let value = p.int64() else { return nil }
                    tsMs = value
                }
            case .transaction:
                if !p.null() {
                    guard let value = try readTransaction(&p) else { return nil }
                    transaction = value
                }
            }
        } while try next(&p)
        guard p.atEnd(), let op, let source, let db = source.db, let schemaName = source.schema,
              let tableName = source.table, let commitLSN = source.commitLSN else { return nil }
        if op == .delete ? before == nil : after == nil { return nil }
        guard let keyObject = readKey(&p, key) else { return nil }
        let position = SourcePosition(commitLSN: commitLSN, commandID: source.commandID.map { Int($0) },
                                      changeLSN: source.changeLSN, eventSerialNo: Int(source.eventSerialNo ?? 0))
        return ChangeEvent(
            op: op, table: TableID(database: db, schema: schemaName, table: tableName), key: keyObject,
            before: before, after: after, position: position, commitTimeMs: source.tsMs ?? 0,
            snapshot: source.snapshot ?? .false, processedAtMs: tsMs ?? 0, transaction: transaction)
    }

    /// The key's fields as `decodeKey` reads them, parsed with the envelope's parser; nil on any error.
    private static func readKey(_ p: inout JSONParser, _ key: ArraySlice<UInt8>?) -> JSONObject? {
        guard let key, !key.isEmpty else { return JSONObject() }
        return key.withUnsafeBufferPointer { buffer -> JSONObject? in
            guard let document = try? p.parseDocument(buffer), case .object(let k) = unwrap(document) else { return nil }
            return k
        }
    }

    /// The envelope's fields the event is made of.
    private enum Field: UInt8 {
        case before, after, source, op, tsMs, transaction

        var bit: UInt8 { 1 << rawValue }

        init?(_ p: JSONParser, _ name: Range<Int>) {
            if p.bytes(name, are: "before") { self = .before }
            else if p.bytes(name, are: "after") { self = .after }
            else if p.bytes(name, are: "source") { self = .source }
            else if p.bytes(name, are: "op") { self = .op }
            else if p.bytes(name, are: "ts_ms") { self = .tsMs }
            else if p.bytes(name, are: "transaction") { self = .transaction }
            else { return nil }
        }
    }

    /// `nextField()`, a malformed object being a parse error (the caller then gives up).
    private static func next(_ p: inout JSONParser) throws(JSONParseError) -> Bool {
        guard let more = p.nextField() else { throw p.error("expected ',' or '}'") }
        return more
    }

    /// The source block; nil when a field the event reads has another form than this reader takes.
    private static func readSource(_ p: inout JSONParser) throws(JSONParseError) -> SourceFields? {
        var fields = SourceFields()
        guard let nonEmpty = p.beginObject() else { return nil }
        guard nonEmpty else { return fields }
        var seen: UInt16 = 0
        repeat {
            guard let range = p.rawKey() else { return nil }
            func claim(_ name: StaticString, _ bit: Int) -> Bool { p.claim(range, name, bit: bit, seen: &seen) }
            if claim("db", 0) {
                guard let text = p.plainString() else { return nil }
                fields.db = text
            } else if claim("schema", 1) {
                guard let text = p.plainString() else { return nil }
                fields.schema = text
            } else if claim("table", 2) {
                guard let text = p.plainString() else { return nil }
                fields.table = text
            } else if claim("commit_lsn", 3) {
                guard let lsn = readLSN(&p) else { return nil }
                fields.commitLSN = lsn
            } else if claim("change_lsn", 4) {
                if !p.null() {
                    guard let lsn = readLSN(&p) else { return nil }
                    fields.changeLSN = lsn
                }
            } else if claim("ts_ms", 5) {
                guard p.null() || readInt(&p, into: &fields.tsMs) else { return nil }
            } else if claim("event_serial_no", 6) {
                guard p.null() || readInt(&p, into: &fields.eventSerialNo) else { return nil }
            } else if claim("command_id", 7) {
                guard p.null() || readInt(&p, into: &fields.commandID) else { return nil }
            } else if claim("snapshot", 8) {
                if !p.null() {
                    guard let range = p.rawString() else { return nil }
                    let text = String(decoding: UnsafeBufferPointer(rebasing: p.bytes[range]), as: UTF8.self)
                    fields.snapshot = ChangeEvent.SnapshotMarker(rawValue: text) ?? .false
                }
            } else {
                _ = try p.parseValue(depth: 2)  // version, connector, name, sequence, …, or a duplicate
            }
        } while try next(&p)
        return fields
    }

    private static func readInt(_ p: inout JSONParser, into value: inout Int64?) -> Bool {
        guard let number = p.int64() else { return false }
        value = number
        return true
    }

    /// An LSN in Debezium's text form `0000002a:00000d18:0003`; any other form is left to the parsed path.
    private static func readLSN(_ p: inout JSONParser) -> LSN? {
        guard let range = p.rawString() else { return nil }
        return LSN.parseTextForm(UnsafeBufferPointer(rebasing: p.bytes[range]))
    }

    /// The transaction block, or nil when it has no plain `id` or its orders are not integers.
    private static func readTransaction(_ p: inout JSONParser) throws(JSONParseError) -> TransactionInfo? {
        guard let nonEmpty = p.beginObject(), nonEmpty else { return nil }
        var id: String?, total: Int64?, collection: Int64?
        var seen: UInt16 = 0
        repeat {
            guard let range = p.rawKey() else { return nil }
            func claim(_ name: StaticString, _ bit: Int) -> Bool { p.claim(range, name, bit: bit, seen: &seen) }
            if claim("id", 0) {
                guard let text = p.plainString() else { return nil }
                id = text
            } else if claim("total_order", 1) {
                guard p.null() || readInt(&p, into: &total) else { return nil }
            } else if claim("data_collection_order", 2) {
                guard p.null() || readInt(&p, into: &collection) else { return nil }
            } else {
                _ = try p.parseValue(depth: 2)
            }
        } while try next(&p)
        guard let id else { return nil }
        return TransactionInfo(id: id, totalOrder: Int(total ?? 0), dataCollectionOrder: Int(collection ?? 0))
    }
}
