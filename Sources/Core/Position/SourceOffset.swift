/// What a source connector stores durably per database (its "partition", Debezium's
/// `{server: <topic.prefix>, database: <db>}`), only after the broker acknowledged every event up to it.
///
/// - `position`: the last event published (and acknowledged);
/// - `processedThrough`: every change with a commit LSN at or below it has been published, even when the
///   last event is older (an idle table, a window with no rows), so a restart need not re-read it;
/// - `snapshot`: the initial snapshot's progress (fence, completed tables, the last acknowledged key of
///   the table being read), so a crash mid-snapshot resumes at the last acknowledged chunk;
/// - `captureInstances`: the capture instances streamed so far and the LSN each was read from, so a new
///   instance (a table added, or a schema change's second instance) is told apart from a purge;
/// - `incrementalSnapshot`: a signalled snapshot's remaining tables and last chunk key, so it survives a
///   restart.
public struct SourceOffset: Hashable, Sendable {
    public enum SnapshotState: Hashable, Sendable {
        /// No snapshot has run, or one was started and did not finish: it must (re)start.
        case pending
        /// A snapshot is running from this fence LSN; tables listed are complete; `resume`, when set, is
        /// the table being read and the key of its last row the broker acknowledged.
        case running(fence: LSN, completedTables: [String], resume: SnapshotResume? = nil)
        case completed(fence: LSN)
        /// `snapshot.mode=no_data`: streaming started at this LSN without reading existing rows.
        case skipped(at: LSN)
    }

    /// Where a running snapshot resumes inside a table: after the row whose message key is `afterKey`
    /// (rows are read in key order, in chunks; the key is stored once the chunk is acknowledged).
    public struct SnapshotResume: Hashable, Sendable {
        /// `schema.table`.
        public var table: String
        public var afterKey: JSONObject

        public init(table: String, afterKey: JSONObject) {
            self.table = table
            self.afterKey = afterKey
        }
    }

    /// An incremental snapshot in progress (an `execute-snapshot` signal): its id, the tables still to
    /// read (the first is being read) and the key of the last chunk of that table read and published.
    public struct IncrementalSnapshot: Hashable, Sendable {
        public var id: String
        /// `schema.table`, in reading order.
        public var tables: [String]
        public var lastKey: JSONObject?

        public init(id: String, tables: [String], lastKey: JSONObject? = nil) {
            self.id = id
            self.tables = tables
            self.lastKey = lastKey
        }
    }

    public var position: SourcePosition?
    public var processedThrough: LSN?
    /// The incremental snapshot running beside streaming, if any.
    public var incrementalSnapshot: IncrementalSnapshot?
    public var snapshot: SnapshotState
    public var captureInstances: [String: LSN]

    public init(position: SourcePosition? = nil, processedThrough: LSN? = nil, snapshot: SnapshotState = .pending,
                captureInstances: [String: LSN] = [:], incrementalSnapshot: IncrementalSnapshot? = nil) {
        self.incrementalSnapshot = incrementalSnapshot
        self.position = position
        self.processedThrough = processedThrough
        self.snapshot = snapshot
        self.captureInstances = captureInstances
    }

    /// Where streaming resumes.
    public enum StreamingStart: Hashable, Sendable {
        /// Everything through this commit LSN is published: read from `sys.fn_cdc_increment_lsn(lsn)`.
        case after(LSN)
        /// The transaction at `position.commitLSN` may be partly published: re-read it and skip events at
        /// or below `position`.
        case within(SourcePosition)
    }

    /// nil when there is nothing to resume from (no snapshot completed or skipped, nothing streamed).
    public var streamingStart: StreamingStart? {
        if let position, position.commitLSN > (processedThrough ?? .zero) {
            return .within(position)
        }
        if let processedThrough { return .after(processedThrough) }
        switch snapshot {
        case .completed(let fence), .skipped(let fence): return .after(fence)
        case .pending, .running: return nil
        }
    }
}

extension SourceOffset {
    /// The offset as stored (compacted topic value), Debezium's field names where they exist.
    public var json: JSONValue {
        var o: JSONObject = [:]
        if let p = position {
            o["commit_lsn"] = .string(p.commitLSN.description)
            o["change_lsn"] = p.changeLSN.map { .string($0.description) } ?? .null
            o["command_id"] = p.commandID.map { .int($0) } ?? .null
            o["event_serial_no"] = .int(p.eventSerialNo)
        }
        if let t = processedThrough { o["processed_through_lsn"] = .string(t.description) }
        switch snapshot {
        case .pending: o["snapshot"] = .string("pending")
        case .running(let fence, let tables, let resume):
            o["snapshot"] = .string("running")
            o["snapshot_lsn"] = .string(fence.description)
            o["snapshot_completed_tables"] = .array(tables.map(JSONValue.string))
            if let resume {
                o["snapshot_table"] = .string(resume.table)
                o["snapshot_last_key"] = .object(resume.afterKey)
            }
        case .completed(let fence):
            o["snapshot"] = .string("completed")
            o["snapshot_lsn"] = .string(fence.description)
        case .skipped(let at):
            o["snapshot"] = .string("skipped")
            o["snapshot_lsn"] = .string(at.description)
        }
        o["capture_instances"] = .object(JSONObject(captureInstances.sorted { $0.key < $1.key }
            .map { (key: $0.key, value: JSONValue.string($0.value.description)) }))
        if let incremental = incrementalSnapshot {
            var i: JSONObject = ["id": .string(incremental.id), "data_collections": .array(incremental.tables.map(JSONValue.string))]
            if let key = incremental.lastKey { i["last_key"] = .object(key) }
            o["incremental_snapshot"] = .object(i)
        }
        return .object(o)
    }

    public init(json: JSONValue) throws(EnvelopeError) {
        guard let o = json.objectValue else { throw EnvelopeError("a stored offset must be a JSON object") }
        func lsn(_ key: String) throws(EnvelopeError) -> LSN? {
            guard let v = o[key], !v.isNull else { return nil }
            guard let s = v.stringValue, let l = LSN(s) else { throw EnvelopeError("stored offset: \(key) is not an LSN") }
            return l
        }
        if let commit = try lsn("commit_lsn") {
            position = SourcePosition(commitLSN: commit, commandID: o["command_id"]?.int64Value.map { Int($0) },
                                      changeLSN: try lsn("change_lsn"),
                                      eventSerialNo: Int(o["event_serial_no"]?.int64Value ?? 0))
        } else {
            position = nil
        }
        processedThrough = try lsn("processed_through_lsn")
        let fence = try lsn("snapshot_lsn")
        switch (o["snapshot"]?.stringValue, fence) {
        case ("running", let f?):
            var resume: SnapshotResume?
            if let table = o["snapshot_table"]?.stringValue {
                guard let key = o["snapshot_last_key"]?.objectValue else {
                    throw EnvelopeError("stored offset: snapshot_table without snapshot_last_key")
                }
                resume = SnapshotResume(table: table, afterKey: key)
            }
            snapshot = .running(fence: f, completedTables: o["snapshot_completed_tables"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                                resume: resume)
        case ("completed", let f?): snapshot = .completed(fence: f)
        case ("skipped", let f?): snapshot = .skipped(at: f)
        case ("pending", _), (nil, _): snapshot = .pending
        default: throw EnvelopeError("stored offset: unknown snapshot state")
        }
        var instances: [String: LSN] = [:]
        for (name, value) in o["capture_instances"]?.objectValue ?? [:] {
            guard let s = value.stringValue, let l = LSN(s) else { throw EnvelopeError("stored offset: capture instance \(name) has no LSN") }
            instances[name] = l
        }
        captureInstances = instances
        if let i = o["incremental_snapshot"], !i.isNull {
            guard let object = i.objectValue, let id = object["id"]?.stringValue,
                  let tables = object["data_collections"]?.arrayValue?.compactMap(\.stringValue)
            else { throw EnvelopeError("stored offset: incremental_snapshot needs id and data_collections") }
            incrementalSnapshot = IncrementalSnapshot(id: id, tables: tables, lastKey: object["last_key"]?.objectValue)
        } else {
            incrementalSnapshot = nil
        }
    }
}
