import SluiceCore

/// Turns change rows, in emission order, into change events and transaction boundaries:
/// - an insert (2) becomes `c`, a delete (1) becomes `d`;
/// - an update's before image (3) and after image (4) fold into one `u`; when the key columns differ
///   between the two images (a primary-key update), into a `d` (event_serial_no 1) and a `c` (2);
/// - an update's before image not followed by its after image is an error, as it means rows were lost;
/// - every transaction (one commit LSN) is announced by `begin` and closed by `end` with its event counts.
///
/// Events at or below `resumeAfter` are counted (so transaction orders stay the same on a re-read) but
/// not emitted: that is how a restart skips what was already published.
public struct ChangeEventAssembler: Sendable {
    public enum Output: Hashable, Sendable {
        case begin(TransactionBoundary)
        case event(ChangeEvent)
        case end(TransactionBoundary)
    }

    /// A transaction's BEGIN or END marker (Debezium's transaction metadata topic).
    public struct TransactionBoundary: Hashable, Sendable {
        public var id: String
        public var commitLSN: LSN
        public var commitTimeMs: Int64
        /// Events per table (END only).
        public var eventCounts: [TableID: Int]
        public var totalEvents: Int { eventCounts.values.reduce(0, +) }
    }

    public struct AssemblyError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let keyColumns: [String: [String]]  // per capture instance
    private let resumeAfter: SourcePosition?
    private let now: @Sendable () -> Int64
    private var pendingBefore: ChangeRow?
    private var current: (boundary: TransactionBoundary, total: Int, perTable: [TableID: Int], announced: Bool)?

    /// - Parameters:
    ///   - keyColumns: the message-key columns of each capture instance.
    ///   - resumeAfter: skip events at or below this position.
    ///   - now: the processing clock, ms since epoch (`ts_ms` of the envelope).
    public init(keyColumns: [String: [String]], resumeAfter: SourcePosition?, now: @escaping @Sendable () -> Int64) {
        self.keyColumns = keyColumns
        self.resumeAfter = resumeAfter
        self.now = now
    }

    /// Accepts the next row; `commitTimeMs` is the row's transaction commit time.
    public mutating func accept(_ row: ChangeRow, commitTimeMs: Int64) throws(AssemblyError) -> [Output] {
        var out: [Output] = []
        if let before = pendingBefore {
            guard row.operation == .updateAfter, row.captureInstance == before.captureInstance,
                  row.startLSN == before.startLSN, row.seqval == before.seqval
            else {
                throw AssemblyError(description: "capture instance \(before.captureInstance): the update before-image at "
                    + "start_lsn \(before.startLSN) seqval \(before.seqval) is not followed by its after-image "
                    + "(next row: operation \(row.operation.rawValue) of \(row.captureInstance) at \(row.seqval))")
            }
        } else if row.operation == .updateAfter {
            throw AssemblyError(description: "capture instance \(row.captureInstance): an update after-image at start_lsn "
                + "\(row.startLSN) seqval \(row.seqval) has no before-image; read with N'all update old'")
        }
        if current?.boundary.commitLSN != row.startLSN {
            out += closeTransaction()
            current = (TransactionBoundary(id: row.startLSN.description, commitLSN: row.startLSN,
                                           commitTimeMs: commitTimeMs, eventCounts: [:]), 0, [:], false)
        }
        switch row.operation {
        case .updateBefore:
            pendingBefore = row
            return out
        case .insert:
            out += emit(.create, row: row, before: nil, after: row.values, serial: 1)
        case .delete:
            out += emit(.delete, row: row, before: row.values, after: nil, serial: 1)
        case .updateAfter:
            let before = pendingBefore!
            pendingBefore = nil
            if key(of: before) == key(of: row) {
                out += emit(.update, row: row, before: before.values, after: row.values, serial: 1)
            } else {
                out += emit(.delete, row: before, before: before.values, after: nil, serial: 1)
                out += emit(.create, row: row, before: nil, after: row.values, serial: 2)
            }
        }
        return out
    }

    /// Closes the last transaction at the end of a window (windows end on transaction boundaries).
    public mutating func finish() throws(AssemblyError) -> [Output] {
        if let before = pendingBefore {
            throw AssemblyError(description: "capture instance \(before.captureInstance): the window ended after an update "
                + "before-image at start_lsn \(before.startLSN) seqval \(before.seqval) without its after-image")
        }
        return closeTransaction()
    }

    private func key(of row: ChangeRow) -> JSONObject {
        ChangeEventMapping.key(row.values, keyColumns: keyColumns[row.captureInstance] ?? [])
    }

    private mutating func emit(_ op: ChangeEvent.Operation, row: ChangeRow, before: JSONObject?, after: JSONObject?,
                               serial: Int) -> [Output] {
        guard var tx = current else { return [] }
        current = nil  // so that the counts below are updated in place, not copied (copy-on-write) per event
        tx.total += 1
        tx.perTable[row.table, default: 0] += 1
        tx.boundary.eventCounts[row.table, default: 0] += 1
        let position = SourcePosition(commitLSN: row.startLSN, commandID: row.commandID, changeLSN: row.seqval,
                                      eventSerialNo: serial)
        let event = ChangeEventMapping.event(
            op, table: row.table, keyColumns: keyColumns[row.captureInstance] ?? [], before: before, after: after,
            position: position, commitTimeMs: tx.boundary.commitTimeMs, processedAtMs: now(),
            transaction: TransactionInfo(id: tx.boundary.id, totalOrder: tx.total,
                                         dataCollectionOrder: tx.perTable[row.table] ?? 0))
        var out: [Output] = []
        if let resumeAfter, position <= resumeAfter {
            current = tx
            return out
        }
        if !tx.announced {
            tx.announced = true
            out.append(.begin(TransactionBoundary(id: tx.boundary.id, commitLSN: tx.boundary.commitLSN,
                                                  commitTimeMs: tx.boundary.commitTimeMs, eventCounts: [:])))
        }
        current = tx
        out.append(.event(event))
        return out
    }

    private mutating func closeTransaction() -> [Output] {
        defer { current = nil }
        guard let tx = current, tx.announced else { return [] }
        return [.end(tx.boundary)]
    }
}
