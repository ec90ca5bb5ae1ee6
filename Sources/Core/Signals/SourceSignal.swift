/// An operator's request to a source connector, in Debezium's signal shape — `{"id": "…", "type": "…",
/// "data": {…}}` — whether it arrives as a row of the signal table (`signal.data.collection`, columns
/// id, type, data) or as the body of `POST /signals`:
///
/// - `execute-snapshot` with `data: {"data-collections": ["db.schema.table", …], "type": "incremental"}`
///   starts an incremental snapshot of those tables while streaming goes on;
/// - `stop-snapshot` with `data: {"type": "incremental"}` (and optionally `data-collections`) stops it
///   (for the tables named, or entirely).
public struct SourceSignal: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case executeIncrementalSnapshot(tables: [TableID])
        /// An empty list stops the whole snapshot.
        case stopIncrementalSnapshot(tables: [TableID])
    }

    public var id: String
    public var action: Action

    public init(id: String, action: Action) {
        self.id = id
        self.action = action
    }

    /// A malformed signal: the message names what is wrong and what is expected.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The tables a signal names.
    public var tables: [TableID] {
        switch action {
        case .executeIncrementalSnapshot(let tables), .stopIncrementalSnapshot(let tables): return tables
        }
    }

    /// Parses a signal from its three parts (a signal-table row or a request body's fields).
    /// - Parameter data: the `data` member, as JSON text (table rows) or parsed (request bodies).
    public static func parse(id: String?, type: String?, data: JSONValue?) throws(Problem) -> SourceSignal {
        guard let id, !id.isEmpty else { throw Problem("the signal has no \"id\": give each signal a unique id string") }
        guard let type else { throw Problem("the signal has no \"type\": use \"execute-snapshot\" or \"stop-snapshot\"") }
        let object: JSONObject
        switch data {
        case .object(let o)?: object = o
        case .null?, nil: object = [:]
        default: throw Problem("\"data\" must be a JSON object such as {\"data-collections\": [\"db.schema.table\"], \"type\": \"incremental\"}")
        }
        let snapshotType = object["type"]?.stringValue ?? "incremental"
        guard snapshotType.lowercased() == "incremental" else {
            throw Problem("data.type \"\(snapshotType)\" is not supported: only \"incremental\" snapshots can be signalled (blocking snapshots are not)")
        }
        var tables: [TableID] = []
        if let collections = object["data-collections"] {
            guard let list = collections.arrayValue else {
                throw Problem("data.data-collections must be an array of \"database.schema.table\" strings")
            }
            for entry in list {
                guard let text = entry.stringValue else {
                    throw Problem("data.data-collections must be an array of \"database.schema.table\" strings")
                }
                let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 3, !parts.contains(where: \.isEmpty) else {
                    throw Problem("data-collection \"\(text)\" is not database.schema.table (e.g. CreditStaging.dbo.customers)")
                }
                tables.append(TableID(database: parts[0], schema: parts[1], table: parts[2]))
            }
        }
        switch type {
        case "execute-snapshot":
            guard !tables.isEmpty else {
                throw Problem("execute-snapshot needs data.data-collections: the tables to snapshot, as [\"database.schema.table\"]")
            }
            return SourceSignal(id: id, action: .executeIncrementalSnapshot(tables: tables))
        case "stop-snapshot":
            return SourceSignal(id: id, action: .stopIncrementalSnapshot(tables: tables))
        default:
            throw Problem("signal type \"\(type)\" is not supported: use \"execute-snapshot\" or \"stop-snapshot\"")
        }
    }

    /// Parses a `POST /signals` body: `{"id": "…", "type": "…", "data": {…}}`.
    public static func parse(body: some Collection<UInt8>) throws(Problem) -> SourceSignal {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch {
            throw Problem("the body is not JSON (\(error)); send {\"id\": \"…\", \"type\": \"execute-snapshot\", \"data\": {\"data-collections\": [\"db.schema.table\"], \"type\": \"incremental\"}}")
        }
        guard let object = value.objectValue else {
            throw Problem("the body must be a JSON object {\"id\", \"type\", \"data\"}")
        }
        if let id = object["id"], id.stringValue == nil { throw Problem("\"id\" must be a string") }
        if let type = object["type"], type.stringValue == nil { throw Problem("\"type\" must be a string") }
        return try parse(id: object["id"]?.stringValue, type: object["type"]?.stringValue, data: object["data"])
    }

    /// Parses a signal-table row, whose `data` column holds JSON text (or is NULL).
    public static func parse(id: String?, type: String?, dataText: String?) throws(Problem) -> SourceSignal {
        var data: JSONValue?
        if let dataText, !dataText.isEmpty {
            do { data = try JSONValue.parse(dataText) } catch {
                throw Problem("the data column is not JSON (\(error))")
            }
        }
        return try parse(id: id, type: type, data: data)
    }
}
