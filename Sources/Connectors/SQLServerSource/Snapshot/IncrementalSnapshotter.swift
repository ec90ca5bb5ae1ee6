import Foundation
import SluiceCore
import SluiceSQLServer

/// Ad-hoc incremental snapshots (Debezium's `execute-snapshot` with `type: incremental`, after DBLog),
/// read while streaming goes on. It keeps the snapshot's progress in the stored offset
/// (`SourceOffset.incrementalSnapshot`: tables left, last chunk key) and, between stream windows, opens
/// the next chunk: a low watermark row in the signal table, the chunk read in key order
/// (`incremental.snapshot.chunk.size` rows, `SnapshotChunkQuery`), a high watermark row. The stream loop
/// then feeds it the signal table's rows and the streamed keys (`WatermarkWindow` drops the chunk rows
/// streaming changed) until the high watermark, where the chunk's rows are emitted as `r` events with
/// `source.snapshot: "incremental"`.
struct IncrementalSnapshotter: Sendable {
    let context: DatabaseContext
    /// The signal table (`signal.data.collection`) when it is in this database.
    let signalTable: TableID?
    private(set) var window: WatermarkWindow?

    init(context: DatabaseContext) {
        self.context = context
        if let table = context.configuration.signalDataCollection, table.database == context.database {
            signalTable = table
        } else {
            signalTable = nil
        }
    }

    /// What a signal-table row meant.
    enum SignalRow {
        /// The current chunk's high watermark: emit these rows.
        case closed(WatermarkWindow)
        /// An operator's signal written to the table.
        case signal(SourceSignal)
        case ignored
    }

    /// A row inserted into the signal table, as the stream delivered it.
    mutating func signalRow(_ row: ChangeRow) -> SignalRow {
        guard row.operation == .insert else { return .ignored }
        let id = row.values["id"]?.stringValue, type = row.values["type"]?.stringValue
        switch type {
        case SignalRowType.windowOpen, SignalRowType.windowClose:
            guard let id, var current = window else { return .ignored }
            let closed = current.watermark(id)
            window = current
            if closed {
                window = nil
                return .closed(current)
            }
            return .ignored
        default:
            do {
                return .signal(try SourceSignal.parse(id: id, type: type, dataText: row.values["data"]?.stringValue))
            } catch {
                context.logger.error("Ignored a malformed signal row in \(row.table.qualifiedName) (id \(id ?? "NULL")): \(error)")
                return .ignored
            }
        }
    }

    /// A change event was streamed.
    mutating func streamed(_ event: ChangeEvent) {
        guard var current = window else { return }
        current.streamed(table: event.table, key: event.key)
        window = current
    }

    /// Applies an operator's signal to the offset's snapshot state.
    mutating func apply(_ signal: SourceSignal, to offset: inout SourceOffset, instances: [CaptureInstance]) {
        let captured = Set(instances.map(\.table))
        let ours = signal.tables.filter { $0.database == context.database }
        switch signal.action {
        case .executeIncrementalSnapshot:
            guard signalTable != nil else {
                context.logger.error("Ignored signal \(signal.id): incremental snapshots need signal.data.collection (a CDC-enabled signal table in \(context.database)) for their watermarks")
                return
            }
            if offset.incrementalSnapshot?.id == signal.id { return }  // the same signal read again
            var tables: [String] = []
            for table in ours {
                guard captured.contains(table) else {
                    context.logger.warning("Signal \(signal.id): \(table) is not a captured table of \(context.database); skipped")
                    continue
                }
                tables.append("\(table.schema).\(table.table)")
            }
            guard !tables.isEmpty else { return }
            if var running = offset.incrementalSnapshot {
                running.tables += tables.filter { !running.tables.contains($0) }
                offset.incrementalSnapshot = running
                context.logger.notice("Incremental snapshot \(running.id): queued \(tables.joined(separator: ", ")) (signal \(signal.id))")
            } else {
                offset.incrementalSnapshot = .init(id: signal.id, tables: tables)
                context.logger.notice("Incremental snapshot \(signal.id) of \(tables.joined(separator: ", ")) starting")
            }
        case .stopIncrementalSnapshot:
            guard var running = offset.incrementalSnapshot else { return }
            if signal.tables.isEmpty {
                offset.incrementalSnapshot = nil
                window = nil
                context.logger.notice("Incremental snapshot \(running.id) stopped (signal \(signal.id))")
            } else {
                let stop = Set(ours.map { "\($0.schema).\($0.table)" })
                if let current = running.tables.first, stop.contains(current) {
                    running.lastKey = nil
                    window = nil
                }
                running.tables.removeAll { stop.contains($0) }
                offset.incrementalSnapshot = running.tables.isEmpty ? nil : running
                context.logger.notice("Incremental snapshot \(running.id): stopped \(stop.sorted().joined(separator: ", ")) (signal \(signal.id))")
            }
        }
        context.metrics.snapshotRunning.record(offset.incrementalSnapshot == nil ? 0 : 1)
    }

    /// Between windows: when a snapshot runs and no chunk is open, writes the low watermark, reads the
    /// next chunk and writes the high watermark.
    mutating func openChunk(_ connection: SQLServerConnection, offset: inout SourceOffset, instances: [CaptureInstance]) async throws {
        guard window == nil, let signalTable, var running = offset.incrementalSnapshot else { return }
        var newest: [String: CaptureInstance] = [:]
        for instance in instances { newest["\(instance.table.schema).\(instance.table.table)"] = instance }
        while let name = running.tables.first {
            guard let instance = newest[name] else {
                context.logger.warning("Incremental snapshot \(running.id): \(name) is no longer captured; skipped")
                running.tables.removeFirst(); running.lastKey = nil
                continue
            }
            guard SnapshotChunkQuery.canResume(instance, decimalMode: context.catalog.mapping) else {
                context.logger.error("Incremental snapshot \(running.id): \(name) has a key type that cannot bound a chunk (date/time, binary or precise decimal); skipped")
                running.tables.removeFirst(); running.lastKey = nil
                continue
            }
            let token = UUID().uuidString.lowercased()
            let low = "\(token)-open", high = "\(token)-close"
            try await writeWatermark(connection, signalTable, id: low, type: SignalRowType.windowOpen)
            let chunkSize = context.configuration.incrementalSnapshotChunkSize
            let query = try SnapshotChunkQuery(instance: instance, chunkSize: chunkSize, afterKey: running.lastKey).query
            var rows: [(key: JSONObject, values: JSONObject)] = []
            let mapping = context.mapping
            try await connection.withResults(query) { results in
                guard let set = try await results.nextResultSet() else { return }
                for try await row in set {
                    let values = try mapping.values(row, columns: instance.columns)
                    rows.append((ChangeEventMapping.key(values, keyColumns: instance.keyColumns), values))
                }
            }
            try await writeWatermark(connection, signalTable, id: high, type: SignalRowType.windowClose)
            window = WatermarkWindow(table: instance.table, lowID: low, highID: high, rows: rows, isLastChunk: rows.count < chunkSize)
            break
        }
        offset.incrementalSnapshot = running.tables.isEmpty ? nil : running
        context.metrics.snapshotRunning.record(offset.incrementalSnapshot == nil ? 0 : 1)
        context.metrics.snapshotTablesRemaining.record(running.tables.count)
    }

    /// After the chunk of `closed` was emitted: the offset's progress moves past it.
    func advance(past closed: WatermarkWindow, offset: inout SourceOffset) {
        guard var running = offset.incrementalSnapshot else { return }
        let name = "\(closed.table.schema).\(closed.table.table)"
        guard running.tables.first == name else { return }
        if closed.isLastChunk {
            running.tables.removeFirst()
            running.lastKey = nil
            context.logger.info("Incremental snapshot \(running.id): \(name) complete")
        } else {
            running.lastKey = closed.lastKey ?? running.lastKey
        }
        if running.tables.isEmpty {
            context.logger.notice("Incremental snapshot \(running.id) complete")
            offset.incrementalSnapshot = nil
        } else {
            offset.incrementalSnapshot = running
        }
        context.metrics.snapshotChunks.increment()
        context.metrics.snapshotRowsDeduplicated.increment(by: closed.droppedCount)
        context.metrics.snapshotRunning.record(offset.incrementalSnapshot == nil ? 0 : 1)
        context.metrics.snapshotTablesRemaining.record(offset.incrementalSnapshot?.tables.count ?? 0)
    }

    private func writeWatermark(_ connection: SQLServerConnection, _ table: TableID, id: String, type: String) async throws {
        let data = "{\"snapshot\": \"incremental\"}"
        _ = try await connection.execute("INSERT INTO \(identifier: table.schema, table.table) (id, type, data) VALUES (\(id), \(type), \(data))")
    }
}

/// The `type` values of watermark rows in the signal table (Debezium's names).
enum SignalRowType {
    static let windowOpen = "snapshot-window-open"
    static let windowClose = "snapshot-window-close"
}
