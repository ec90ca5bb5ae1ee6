import Foundation
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink

/// A simulated SQL Server table `dbo.accounts` and the events the source would publish for changes to it
/// (schemas on, tombstone after each delete, a primary-key update as `d` then `c`). Keeps the expected
/// table content to compare the replica with.
struct AccountsSource {
    struct Row: Hashable, Sendable {
        var id: Int
        var name: String
        var balanceCents: Int64
        var openedDays: Int
        var updatedMicros: Int64
        var active: Bool
        var token: String
        var photo: [UInt8]
        var seenMinute: Int
    }

    var table = TableID(database: "CreditStaging", schema: "dbo", table: "accounts")
    let codec = DebeziumEnvelope(serverName: "credit", includeSchema: true)
    private(set) var rows: [Int: Row] = [:]
    private(set) var messages: [(key: [UInt8], value: [UInt8]?)] = []
    private var lsn: UInt32 = 100
    private var generator: SystemRandomNumberGenerator = .init()
    var extraColumn = false

    static func schema(table: TableID, extraColumn: Bool = false) throws -> TableSchema {
        func f(_ c: String, _ t: String, length: Int? = nil, precision: Int? = nil, scale: Int? = nil, optional: Bool = true) throws -> FieldSchema {
            try SQLServerTypeMapping.fieldSchema(column: c, typeName: t, length: length, precision: precision, scale: scale, optional: optional, decimalMode: .string)
        }
        var columns = [
            try f("id", "int", optional: false), try f("name", "nvarchar", length: 50), try f("balance", "decimal", precision: 12, scale: 2),
            try f("opened", "date"), try f("updated", "datetime2", scale: 7), try f("active", "bit"), try f("token", "uniqueidentifier"),
            try f("photo", "varbinary", length: 16), try f("seen", "datetimeoffset", scale: 3),
        ]
        if extraColumn { columns.append(try f("note", "nvarchar", length: -1)) }
        return TableSchema(table: table, columns: columns, keyColumns: ["id"])
    }

    func json(_ row: Row) -> JSONObject {
        let cents = row.balanceCents
        let balance = (cents < 0 ? "-" : "") + "\(abs(cents) / 100)." + String(format: "%02d", abs(cents) % 100)
        var object: JSONObject = [
            "id": .int(row.id), "name": .string(row.name), "balance": .string(balance), "opened": .int(row.openedDays),
            "updated": .int(row.updatedMicros * 1000), "active": .bool(row.active), "token": .string(row.token),
            "photo": .string(Data(row.photo).base64EncodedString()),
            "seen": .string(String(format: "2025-01-06T10:%02d:00.358+02:00", row.seenMinute)),
        ]
        if extraColumn { object["note"] = .string("note \(row.id)") }
        return object
    }

    mutating func randomRow(id: Int) -> Row {
        Row(id: id, name: "customer \(id) v\(Int.random(in: 0..<1000, using: &generator))", balanceCents: Int64.random(in: -100_000...10_000_000, using: &generator),
            openedDays: Int.random(in: -1000...20_000, using: &generator), updatedMicros: Int64.random(in: 0...1_800_000_000_000_000, using: &generator),
            active: Bool.random(using: &generator), token: UUID().uuidString, photo: (0..<Int.random(in: 0...16, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) },
            seenMinute: Int.random(in: 0...59, using: &generator))
    }

    private mutating func emit(_ op: ChangeEvent.Operation, before: Row?, after: Row?, serial: Int = 1, commit: UInt32? = nil) throws {
        let id = (after ?? before)!.id
        let commitLSN = LSN(vlf: 7, block: commit ?? lsn, slot: 1)
        let event = ChangeEvent(op: op, table: table, key: ["id": .int(id)], before: before.map(json), after: after.map(json),
                                position: SourcePosition(commitLSN: commitLSN, commandID: 1, changeLSN: LSN(vlf: 7, block: commit ?? lsn, slot: 2), eventSerialNo: serial),
                                commitTimeMs: 1_700_000_000_000, processedAtMs: 1_700_000_000_000)
        let schema = try Self.schema(table: table, extraColumn: extraColumn)
        messages.append((codec.encodeKey(event, schema: schema), codec.encodeValue(event, schema: schema)))
        if op == .delete { messages.append((codec.encodeKey(event, schema: schema), nil)) }
    }

    mutating func insert(_ row: Row) throws {
        lsn += 1
        rows[row.id] = row
        try emit(.create, before: nil, after: row)
    }

    mutating func update(_ row: Row) throws {
        lsn += 1
        let before = rows[row.id]
        rows[row.id] = row
        try emit(.update, before: before, after: row)
    }

    mutating func delete(id: Int) throws {
        lsn += 1
        guard let before = rows.removeValue(forKey: id) else { return }
        try emit(.delete, before: before, after: nil)
    }

    /// UPDATE … SET id = newID: a delete of the old key and a create of the new one in the same change.
    mutating func changeKey(from id: Int, to newID: Int) throws {
        lsn += 1
        guard var row = rows.removeValue(forKey: id) else { return }
        try emit(.delete, before: row, after: nil, serial: 1)
        row.id = newID
        rows[newID] = row
        try emit(.create, before: nil, after: row, serial: 2, commit: lsn)
    }

    /// A random mix of inserts, updates, key changes and deletes.
    mutating func randomChanges(_ count: Int, ids: ClosedRange<Int>) throws {
        for _ in 0..<count {
            let id = Int.random(in: ids, using: &generator)
            switch (rows[id] != nil, Int.random(in: 0..<10, using: &generator)) {
            case (false, _): try insert(randomRow(id: id))
            case (true, 0..<5): try update(randomRow(id: id))
            case (true, 5..<7):
                let target = Int.random(in: ids, using: &generator)
                if rows[target] == nil { try changeKey(from: id, to: target) } else { try update(randomRow(id: id)) }
            default: try delete(id: id)
            }
        }
    }

    /// An event whose schema gives column `name` another SQL Server type (an incompatible change).
    mutating func insertWithNameAsInt(id: Int) throws {
        lsn += 1
        var schema = try Self.schema(table: table)
        schema.columns[1] = try SQLServerTypeMapping.fieldSchema(column: "name", typeName: "int", length: nil, precision: nil, scale: nil, optional: true, decimalMode: .string)
        var row = json(randomRow(id: id))
        row["name"] = .int(5)
        let event = ChangeEvent(op: .create, table: table, key: ["id": .int(id)], before: nil, after: row,
                                position: SourcePosition(commitLSN: LSN(vlf: 7, block: lsn, slot: 1), commandID: 1, changeLSN: LSN(vlf: 7, block: lsn, slot: 2), eventSerialNo: 1),
                                commitTimeMs: 1_700_000_000_000, processedAtMs: 1_700_000_000_000)
        messages.append((codec.encodeKey(event, schema: schema), codec.encodeValue(event, schema: schema)))
    }

    /// Publishes the messages from `index` on; returns the next offset (single partition).
    func publish(_ producer: KafkaProducer, topic: String, from index: Int = 0) async throws {
        for message in messages[index...] {
            try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: 0)
        }
        try await producer.waitForAllDeliveries()
    }

    /// The expected table as canonical text, in the form `PostgresSinkChecks.replicaText` renders the replica.
    var expectedText: String {
        rows.values.sorted { $0.id < $1.id }.map { row in
            let balance = json(row)["balance"]!.stringValue!
            let opened = try! PostgresValueTextBridge.date(row.openedDays)
            let updated = try! PostgresValueTextBridge.timestamp(micros: row.updatedMicros)
            let photo = row.photo.map { String(format: "%02x", $0) }.joined()
            let seen = String(format: "2025-01-06T08:%02d:00.358", row.seenMinute)
            return [String(row.id), row.name, balance, opened, updated, String(row.active), row.token.lowercased(), photo, seen].joined(separator: "|")
        }.joined(separator: "\n")
    }
}

/// The replica rendered as the same canonical text, and its checksum.
enum PostgresSinkChecks {
    static func replicaText(_ client: PostgresClient, schema: String, table: String = "accounts") async throws -> String {
        let sql = """
            SELECT coalesce(string_agg(concat_ws('|', id::text, name, balance::text, opened::text, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US'),
                   active::text, token::text, encode(photo, 'hex'), to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS')), E'\\n' ORDER BY id), '')
            FROM \(quoteIdentifierForTests(schema)).\(quoteIdentifierForTests(table))
            """
        for try await (text,) in try await client.query(PostgresQuery(unsafeSQL: sql)).decode((String,).self) { return text }
        return ""
    }

    static func md5(_ client: PostgresClient, _ text: String) async throws -> String {
        for try await (sum,) in try await client.query("SELECT md5(\(text))").decode((String,).self) { return sum }
        return ""
    }

    static func positions(_ client: PostgresClient, schema: String) async throws -> [Int: String] {
        var result: [Int: String] = [:]
        let sql = "SELECT id, __sluice_position FROM \(quoteIdentifierForTests(schema)).accounts"
        for try await (id, position) in try await client.query(PostgresQuery(unsafeSQL: sql)).decode((Int32, String).self) { result[Int(id)] = position }
        return result
    }
}

func quoteIdentifierForTests(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

/// Expected-value rendering through the sink's own calendar code (tested against known dates in unit tests).
enum PostgresValueTextBridge {
    static func date(_ days: Int) throws -> String {
        try SluicePostgresSink.PostgresValueText.make(.int(days), form: .epochDays, column: "opened")!
    }

    static func timestamp(micros: Int64) throws -> String {
        try SluicePostgresSink.PostgresValueText.make(.int(micros), form: .epochTimestamp(unitsPerSecond: 1_000_000), column: "updated")!
    }
}
