import SluiceCore

/// One chunk of an incremental snapshot and its watermark window (Netflix's DBLog; Debezium's
/// incremental snapshots): the connector writes a low watermark to the signal table, reads the chunk,
/// writes a high watermark, and goes on streaming. In the stream, between the two watermarks, every
/// change to a key of the chunk drops that key's chunk row: the streamed event is at least as new. At the
/// high watermark the rows left are emitted, so a chunk row never overwrites a newer change downstream
/// and no row is missed (a row changed inside the window is carried by its streamed event).
///
/// A pure value: the stream loop feeds it the watermarks and the streamed keys, in stream order.
struct WatermarkWindow: Sendable {
    enum Phase: Sendable { case awaitingLow, open, closed }

    let table: TableID
    let lowID: String
    let highID: String
    /// The chunk's rows in key order.
    let rows: [(key: JSONObject, values: JSONObject)]
    /// Whether the chunk was shorter than the chunk size: the table ends with it.
    let isLastChunk: Bool
    private(set) var phase: Phase = .awaitingLow
    private var index: [JSONObject: Int] = [:]
    private var dropped: Set<Int> = []

    init(table: TableID, lowID: String, highID: String, rows: [(key: JSONObject, values: JSONObject)], isLastChunk: Bool) {
        self.table = table
        self.lowID = lowID
        self.highID = highID
        self.rows = rows
        self.isLastChunk = isLastChunk
        for (i, row) in rows.enumerated() { index[row.key] = i }
    }

    /// The key of the chunk's last row: where the next chunk starts (nil for an empty chunk).
    var lastKey: JSONObject? { rows.last?.key }

    /// A watermark row of the signal table was streamed; true when it closed this window.
    mutating func watermark(_ id: String) -> Bool {
        switch (phase, id) {
        case (.awaitingLow, lowID): phase = .open
        case (.open, highID), (.awaitingLow, highID): phase = .closed; return true
        default: break
        }
        return false
    }

    /// A change event of `table` for `key` was streamed: inside the window it replaces the chunk's row.
    mutating func streamed(table: TableID, key: JSONObject) {
        guard phase == .open, table == self.table, let i = index[key] else { return }
        dropped.insert(i)
    }

    /// Rows to emit at the high watermark, in key order.
    var remaining: [(key: JSONObject, values: JSONObject)] {
        rows.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
    }

    var droppedCount: Int { dropped.count }
}
