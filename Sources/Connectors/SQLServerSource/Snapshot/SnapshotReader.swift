import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// The initial (or re-) snapshot: reads every included table inside one snapshot transaction whose
/// fence is the highest LSN harvested when it began, in message-key order and in chunks of
/// `snapshot.fetch.size` rows (`SnapshotChunkQuery`), emitting `r` events stamped with the fence.
///
/// After each chunk, once the broker acknowledged it, the offset records the table and the key of its
/// last published row (`SourceOffset.SnapshotState.running`); a crash (kill -9 included) resumes there:
/// the next session skips the completed tables and reads the interrupted one after that key, in a new
/// snapshot transaction whose rows carry its own, later fence (so a sink refuses the streamed changes
/// those rows already include). Streaming still starts after the first fence, so nothing committed
/// in between is missed. The completed snapshot is stored with that first fence.
struct SnapshotReader: Sendable {
    let context: DatabaseContext

    /// - Parameter stored: the offset loaded at session start: a running snapshot in it is resumed
    ///   (unless `snapshot.mode=always`, which always starts over); nil starts a new snapshot.
    func run(_ resources: SessionResources, instances: [CaptureInstance], stored: SourceOffset?) async throws -> SourceOffset {
        let conn = resources.connection, configuration = context.configuration
        // The newest capture instance of each table describes its current columns.
        var newest: [TableID: CaptureInstance] = [:]
        for instance in instances { newest[instance.table] = instance }
        let tables = newest.values.sorted { $0.table < $1.table }
        var resumeFrom: (fence: LSN, completed: [String], resume: SourceOffset.SnapshotResume?)?
        if configuration.snapshotMode != .always, let stored, case .running(let fence, let completed, let resume) = stored.snapshot {
            resumeFrom = (fence, completed, resume)
        }
        if let resumeFrom {
            let at = resumeFrom.resume.map { "\($0.table) after key \(JSONValue.object($0.afterKey).serializedString)" } ?? "the first incomplete table"
            context.logger.notice("Snapshot resuming at \(at) (\(resumeFrom.completed.count) table(s) already complete, first fence \(resumeFrom.fence))",
                                  metadata: [SourceLoggingKeys.table: "\(resumeFrom.resume?.table ?? "")"])
        } else {
            context.logger.info("Snapshot of \(tables.count) table(s) starting (snapshot.isolation.mode=\(configuration.snapshotIsolationMode.rawValue))")
        }
        context.health.set(context.component, .starting)
        if configuration.snapshotIsolationMode == .snapshot {
            _ = try await conn.execute("SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
        }
        do {
            return try await snapshotTransaction(resources, tables: tables, instances: instances, resumeFrom: resumeFrom)
        } catch let error as SQLServerError where error.serverMessage?.number == 3952 {
            throw SourceError(.snapshotIsolationNotAllowed, "the snapshot needs snapshot isolation, which \(context.database) does not allow: run ALTER DATABASE [\(context.database)] SET ALLOW_SNAPSHOT_ISOLATION ON, or set snapshot.isolation.mode=read_committed (the snapshot and the stream may then overlap; sinks absorb it)",
                              underlying: error)
        }
    }

    private func snapshotTransaction(_ resources: SessionResources, tables: [CaptureInstance], instances: [CaptureInstance],
                                     resumeFrom: (fence: LSN, completed: [String], resume: SourceOffset.SnapshotResume?)?) async throws -> SourceOffset {
        let conn = resources.connection, context = self.context, producer = resources.producer
        let publisher = resources.publisher, mapping = context.mapping
        let chunkSize = context.configuration.snapshotFetchSize
        let decimalMode = context.catalog.mapping
        let result: (fence: LSN, rows: Int) = try await conn.withTransaction { conn in
            // This transaction's fence: the position of the rows it reads. The first session's fence is
            // where streaming starts.
            let readFence = try await context.catalog.windowUpperBound(conn, from: .zero, maxTransactions: 0) ?? .zero
            let streamFence = resumeFrom?.fence ?? readFence
            var completed = resumeFrom?.completed ?? []
            if resumeFrom == nil {
                try await context.store(SourceOffset(snapshot: .running(fence: streamFence, completedTables: [])), producer: producer)
            }
            let position = SourcePosition.snapshot(at: readFence)
            let now = DatabaseContext.nowMs()
            var lastTicket: DeliveryTicket?
            var pending: (event: ChangeEvent, schema: TableSchema, topic: String)?
            var total = 0
            var events = EventCounters(metrics: context.metrics)
            let remaining = tables.filter { !completed.contains($0.table.qualifiedName) }
            for (index, instance) in remaining.enumerated() {
                let name = instance.table.qualifiedName
                let isLastTable = index == remaining.count - 1
                var afterKey: JSONObject?
                if let resume = resumeFrom?.resume, resume.table == name {
                    if SnapshotChunkQuery.canResume(instance, decimalMode: decimalMode) {
                        afterKey = resume.afterKey
                    } else {
                        context.logger.notice("Snapshot of \(name) starts over: its key type cannot bound a resumed read")
                    }
                }
                lastTicket = try await publisher.publishSchemaChange(instance, type: "CREATE", position: position, commitTimeMs: now, reason: "snapshot")
                let rowCounter = context.metrics.snapshotRows(instance.table)
                let topic = context.namer.dataTopic(instance.table)  // once per table, not per row
                while true {
                    let chunk = SnapshotChunkQuery(instance: instance, chunkSize: chunkSize, afterKey: afterKey)
                    var read = 0
                    var publishedKey: JSONObject?
                    try await conn.withResults(try chunk.query) { results in
                        guard let rows = try await results.nextResultSet() else { return }
                        for try await row in rows {
                            let values = try mapping.values(row, columns: instance.columns)
                            let first = total == 0 && resumeFrom == nil
                            let event = ChangeEventMapping.read(values, instance: instance, position: position, commitTimeMs: now,
                                                                snapshot: first ? .first : .true, processedAtMs: DatabaseContext.nowMs())
                            if let previous = pending {
                                lastTicket = try await publisher.publish(previous.event, schema: previous.schema, topic: previous.topic)
                                if previous.event.table == instance.table { publishedKey = previous.event.key }
                            }
                            pending = (event, instance.schema, topic)
                            read += 1
                            total += 1
                            rowCounter.increment()
                            events.increment(table: instance.table, op: .read)
                        }
                    }
                    afterKey = pending.map { $0.event.key } ?? afterKey
                    let tableDone = read < chunkSize
                    if tableDone && !isLastTable, let previous = pending {
                        // The last row of a table that is not the last one: publish it now, so the table is complete.
                        lastTicket = try await publisher.publish(previous.event, schema: previous.schema, topic: previous.topic)
                        pending = nil
                        publishedKey = previous.event.key
                    }
                    // Acknowledged chunk: store where a crash resumes (the pending row, held back to be
                    // marked last, is read again then).
                    if let ticket = lastTicket { try await producer.waitForDeliveries(through: ticket) }
                    if tableDone && pending == nil { completed.append(name) }
                    let resume = tableDone && pending == nil ? nil : publishedKey.map { SourceOffset.SnapshotResume(table: name, afterKey: $0) }
                    if publishedKey != nil || tableDone {
                        try await context.store(SourceOffset(snapshot: .running(fence: streamFence, completedTables: completed, resume: resume)),
                                                producer: producer)
                    }
                    context.health.progress.renew(context.component)
                    if tableDone { break }
                }
            }
            if let previous = pending {
                var last = previous.event
                last.snapshot = total == 1 && resumeFrom == nil ? .first : .last
                lastTicket = try await publisher.publish(last, schema: previous.schema, topic: previous.topic)
            }
            if let ticket = lastTicket { try await producer.waitForDeliveries(through: ticket) }
            return (streamFence, total)
        }
        if context.configuration.snapshotIsolationMode == .snapshot {
            _ = try await conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        }
        let offset = SourceOffset(processedThrough: result.fence, snapshot: .completed(fence: result.fence),
                                  captureInstances: Dictionary(uniqueKeysWithValues: instances.map { ($0.name, max(result.fence, $0.startLSN)) }))
        try await context.store(offset, producer: producer)
        context.metrics.position(result.fence)
        context.logger.info("Snapshot complete: \(result.rows) row(s) read in this session; streaming continues after fence \(result.fence)")
        return offset
    }
}
