import Foundation
import Metrics
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// Streams change windows in commit order until shutdown: each poll asks the catalog for the next
/// window's upper bound, reads the window (`WindowPlanner` chooses the capture instances, `ChangeRowMerge`
/// merges their rows, `ChangeEventAssembler` makes the events) and stores the position once the broker
/// acknowledged everything. Between windows: heartbeats and the stall check (`StallDetector`).
struct ChangeStreamLoop: Sendable {
    let context: DatabaseContext
    let session: CaptureSession

    /// Events published between two stored positions inside one window.
    static let offsetFlushEvents = 5_000

    func run(_ resources: inout SessionResources, offset initial: SourceOffset) async throws {
        let configuration = context.configuration, health = context.health, component = context.component
        var offset = initial
        var stall = StallDetector(timeout: .milliseconds(configuration.captureJobStallTimeoutMs))
        var events = EventCounters(metrics: context.metrics)
        var snapshotter = IncrementalSnapshotter(context: context)
        context.metrics.snapshotRunning.record(offset.incrementalSnapshot == nil ? 0 : 1)
        if let running = offset.incrementalSnapshot {
            let at = running.lastKey.map { "after key \(JSONValue.object($0).serializedString)" } ?? "at its first row"
            context.logger.notice("Incremental snapshot \(running.id) resuming at \(running.tables.first ?? "-") \(at)")
            context.metrics.snapshotTablesRemaining.record(running.tables.count)
        }
        var lastHeartbeat = ContinuousClock.now
        let heartbeatInterval: Duration? = configuration.heartbeatIntervalMs > 0 ? .milliseconds(configuration.heartbeatIntervalMs) : nil
        health.set(component, .up)

        let pollInterval = Duration.milliseconds(configuration.pollIntervalMs)
        let catalog = context.catalog, maxTransactions = configuration.maxIterationTransactions
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Idle polls start every poll.interval.ms (the poll's own queries, heartbeat included, count
            // towards the interval, as Debezium's metronome does); a window that found changes is
            // followed by the next poll at once.
            let pollStarted = ContinuousClock.now
            health.progress.renew(component, expectingNextWithin: pollInterval)
            guard let start = offset.streamingStart else {
                throw SourceError(.noStreamingPosition, "no position to stream from (the stored offset has no completed snapshot); set snapshot.mode=initial")
            }
            // When only new changes can make work (no signal posted, no incremental snapshot running),
            // one query says whether there are any, before the capture instances are read (Debezium's
            // loop likewise asks for the maximum LSN first). Reading the instances after the bound also
            // sees every instance created before it.
            var known: LSN?
            let quiet = offset.incrementalSnapshot == nil && context.signals?.hasPending(database: context.database) != true
            if quiet {
                switch start {
                case .after(let lsn): known = try await catalog.windowUpperBound(resources.connection, after: lsn, maxTransactions: maxTransactions)
                case .within(let position): known = try await catalog.windowUpperBound(resources.connection, from: position.commitLSN, maxTransactions: maxTransactions)
                }
            }
            if !quiet || known != nil {
                let from: LSN, resumeAfter: SourcePosition?
                switch start {
                case .after(let lsn): from = try await catalog.increment(resources.connection, lsn); resumeAfter = nil
                case .within(let position): from = position.commitLSN; resumeAfter = position
                }
                let (instances, signalInstances) = try await session.instances(resources.connection)
                // Signals from POST /signals; then, while an incremental snapshot runs, its next chunk.
                let posted = context.signals?.take(database: context.database) ?? []
                for signal in posted { snapshotter.apply(signal, to: &offset, instances: instances) }
                let before = offset.incrementalSnapshot
                try await snapshotter.openChunk(resources.connection, offset: &offset, instances: instances)
                if !posted.isEmpty || before != offset.incrementalSnapshot { try await context.store(offset, producer: resources.producer) }
                var upper = known
                if upper == nil { upper = try await catalog.windowUpperBound(resources.connection, from: from, maxTransactions: maxTransactions) }
                if let upper {
                    offset = try await streamWindow(&resources, offset: offset, instances: instances, signalInstances: signalInstances,
                                                    from: from, to: upper, resumeAfter: resumeAfter, events: &events, snapshotter: &snapshotter)
                    stall.progressed()
                    if stall.isStalled == false { health.set(component, .up) }
                    continue
                }
            }
            // Nothing new: heartbeat, stall check, wait.
            if let heartbeatInterval, ContinuousClock.now - lastHeartbeat >= heartbeatInterval {
                lastHeartbeat = ContinuousClock.now
                try await heartbeat(resources, offset: offset, stall: &stall)
            }
            if stall.check() {
                context.metrics.captureJobStalled.record(1)
                let reason = "no change harvested for \(stall.timeout) after the heartbeat action changed the source: is SQL Server Agent running the capture job (EXEC sys.sp_cdc_start_job)?"
                if health.snapshot[component] != .degraded(reason) {
                    context.logger.warning("\(reason)")
                    health.set(component, .degraded(reason))
                }
            } else {
                context.metrics.captureJobStalled.record(0)
            }
            context.metrics.queueOutstanding.record(resources.producer.outstandingCount)
            let nextPoll = pollStarted + pollInterval
            if nextPoll > ContinuousClock.now {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(until: nextPoll, clock: .continuous) }
            }
        }
        try await resources.producer.waitForAllDeliveries()
    }

    private func heartbeat(_ resources: SessionResources, offset: SourceOffset, stall: inout StallDetector) async throws {
        if let action = context.configuration.heartbeatActionQuery {
            _ = try await resources.connection.execute(SQLServerQuery(sql: action))
            stall.sourceChanged(maxLSN: try await context.catalog.maxLSN(resources.connection))
        }
        let ticket = try await resources.publisher.publishHeartbeat(database: context.database)
        try await resources.producer.waitForDeliveries(through: ticket)
        try await context.store(offset, producer: resources.producer)
        if stall.awaitingHarvest, let max = try await context.catalog.maxLSN(resources.connection) { stall.observed(maxLSN: max) }
    }

    /// Streams [from, to]: merges every capture instance's rows in emission order, publishes the events,
    /// and returns the new offset, stored once the broker acknowledged everything.
    private func streamWindow(_ resources: inout SessionResources, offset initial: SourceOffset, instances: [CaptureInstance],
                              signalInstances: [CaptureInstance], from: LSN, to: LSN, resumeAfter: SourcePosition?,
                              events: inout EventCounters, snapshotter: inout IncrementalSnapshotter) async throws -> SourceOffset {
        let context = self.context, database = context.database
        var offset = initial
        // The signal table's instances are read (signals, watermarks) but never published.
        let plan = WindowPlanner.plan(instances + signalInstances, offset: offset, from: from, to: to)
        let signalNames = Set(signalInstances.map(\.name))
        var newest: [TableID: CaptureInstance] = [:]
        for instance in instances { newest[instance.table] = instance }
        if !plan.purged.isEmpty {
            for (instance, _) in plan.purged { context.metrics.offsetPurged(instance.name).increment() }
            let detail = plan.purged.map { "\($0.instance.table.qualifiedName) (capture instance \($0.instance.name)): needed changes from \($0.needed), the oldest kept is \($0.instance.startLSN)" }.joined(separator: "; ")
            switch context.configuration.offsetPurgedPolicy {
            case .fail:
                throw SourceError(.changesPurged, "the CDC cleanup job purged changes Sluice had not read yet: \(detail). Nothing after the stored position was published. Set offset.purged.policy=resnapshot to take a new snapshot, or raise the cleanup retention (sys.sp_cdc_change_job @job_type = N'cleanup', @retention = …)")
            case .resnapshot:
                context.logger.warning("CDC cleanup purged unread changes: \(detail); taking a new snapshot (offset.purged.policy=resnapshot)")
                return try await SnapshotReader(context: context).run(resources, instances: instances, stored: offset)
            }
        }
        let times = try await context.catalog.commitTimes(resources.connection, from: from, to: to)
        for instance in plan.switched {
            context.logger.notice("Capture instance switch: \(instance.table.qualifiedName) now read from \(instance.name) starting at \(instance.startLSN)")
            _ = try await resources.publisher.publishSchemaChange(
                instance, type: "ALTER", position: SourcePosition(commitLSN: instance.startLSN, commandID: nil, changeLSN: nil, eventSerialNo: 0),
                commitTimeMs: times[instance.startLSN] ?? DatabaseContext.nowMs(),
                reason: "capture instance switch to \(instance.name)")
        }
        if let lineage = context.lineage, !plan.switched.isEmpty {
            let datasets = context.lineageDatasets(instances + plan.switched)
            lineage.report(part: database, inputs: datasets.inputs, outputs: datasets.outputs)
        }
        // One connection per capture instance read in this window: the control connection is busy
        // with nothing else meanwhile, so it reads the first one.
        var connections: [SQLServerConnection] = []
        for (i, query) in plan.queries.enumerated() {
            if i == 0 { connections.append(resources.connection); continue }
            if let reader = resources.readers[query.instance.name], !reader.isClosed {
                connections.append(reader)
            } else {
                let reader = try await context.connect()
                resources.readers[query.instance.name] = reader
                connections.append(reader)
            }
        }
        var assembler = ChangeEventAssembler(
            keyColumns: Dictionary(uniqueKeysWithValues: plan.queries.map { ($0.instance.name, $0.instance.keyColumns) }),
            resumeAfter: resumeAfter, now: { DatabaseContext.nowMs() })
        // Per capture instance: its row schema and its table's topic (looked up once per event, not rebuilt).
        let targets = Dictionary(uniqueKeysWithValues: plan.queries.map {
            ($0.instance.name, (schema: $0.instance.schema, topic: context.namer.dataTopic($0.instance.table)))
        })
        let publisher = resources.publisher
        let producer = resources.producer
        var lastTicket: DeliveryTicket?
        var lastPosition: SourcePosition?
        var sinceStore = 0
        var transactions = 0
        let mapping = context.mapping
        let metrics = context.metrics
        // The lag gauges move once per millisecond (and at the window's end), not once per event.
        var lagRecordedAtMs: Int64 = 0
        var lastCommitTimeMs: Int64?
        func recordLag(_ now: Int64, commitTimeMs: Int64) {
            lagRecordedAtMs = now
            metrics.millisecondsBehindSource.record(max(0, now - commitTimeMs))
            metrics.lastEventTimestamp.record(now)
        }

        func publish(_ outputs: [ChangeEventAssembler.Output], instance: String?) async throws {
            for output in outputs {
                switch output {
                case .event(let event):
                    guard let instance, let target = targets[instance] else { continue }
                    lastTicket = try await publisher.publish(event, schema: target.schema, topic: target.topic)
                    lastPosition = event.position
                    events.increment(table: event.table, op: event.op)
                    let now = DatabaseContext.nowMs()
                    lastCommitTimeMs = event.commitTimeMs
                    if now != lagRecordedAtMs { recordLag(now, commitTimeMs: event.commitTimeMs) }
                    sinceStore += 1
                case .begin, .end:
                    if case .end = output { transactions += 1; metrics.committedTransactions.increment() }
                    if let ticket = try await publisher.publish(output) { lastTicket = ticket }
                }
            }
        }

        try await withChangeStreams(plan.queries, connections: connections) { iterators in
            var merge = ChangeRowMerge(iterators.map { MappedRows(base: $0.0, query: $0.1, mapping: mapping) })
            while let row = try await merge.next() {
                let commitTime = times[row.startLSN] ?? 0
                if signalNames.contains(row.captureInstance) {
                    switch snapshotter.signalRow(row) {
                    case .closed(let window):
                        // The high watermark: the chunk's rows streaming did not change, as of this LSN.
                        guard let instance = newest[window.table] else { break }
                        let position = SourcePosition.snapshot(at: row.startLSN)
                        let rowCounter = metrics.snapshotRows(window.table)
                        let topic = context.namer.dataTopic(window.table)
                        for chunkRow in window.remaining {
                            let event = ChangeEventMapping.read(chunkRow.values, instance: instance, position: position,
                                                                commitTimeMs: commitTime, snapshot: .incremental,
                                                                processedAtMs: DatabaseContext.nowMs())
                            lastTicket = try await publisher.publish(event, schema: instance.schema, topic: topic)
                            events.increment(table: window.table, op: .read)
                            rowCounter.increment()
                            sinceStore += 1
                        }
                        snapshotter.advance(past: window, offset: &offset)
                    case .signal(let signal):
                        snapshotter.apply(signal, to: &offset, instances: instances)
                    case .ignored:
                        break
                    }
                    continue
                }
                let outputs = try assembler.accept(row, commitTimeMs: commitTime)
                for case .event(let event) in outputs { snapshotter.streamed(event) }
                try await publish(outputs, instance: row.captureInstance)
                if sinceStore >= Self.offsetFlushEvents, let ticket = lastTicket, let position = lastPosition {
                    try await producer.waitForDeliveries(through: ticket)
                    offset.position = position
                    try await context.store(offset, producer: producer)
                    context.health.progress.renew(context.component)
                    sinceStore = 0
                }
            }
        }
        try await publish(try assembler.finish(), instance: nil)
        if let lastCommitTimeMs { recordLag(DatabaseContext.nowMs(), commitTimeMs: lastCommitTimeMs) }
        if let ticket = lastTicket { try await producer.waitForDeliveries(through: ticket) }
        if let lastPosition { offset.position = lastPosition }
        offset.processedThrough = to
        for query in plan.queries where offset.captureInstances[query.instance.name] == nil {
            offset.captureInstances[query.instance.name] = query.from
        }
        // Instances that no longer exist (disabled) leave the offset.
        let live = Set((instances + signalInstances).map(\.name))
        offset.captureInstances = offset.captureInstances.filter { live.contains($0.key) }
        try await context.store(offset, producer: producer)
        metrics.position(to)
        metrics.queueOutstanding.record(producer.outstandingCount)
        if transactions > 0 {
            context.logger.debug("Window \(from)…\(to): \(transactions) transaction(s) published")
        }
        return offset
    }

    /// Opens one streaming result per query (each on its own connection) and hands the row iterators
    /// to `body`; all stay open until it returns.
    private func withChangeStreams(
        _ queries: [ChangeTableQuery], connections: [SQLServerConnection],
        _ body: ([(SQLServerRowStream.AsyncIterator, ChangeTableQuery)]) async throws -> Void
    ) async throws {
        func open(_ index: Int, _ acc: [(SQLServerRowStream.AsyncIterator, ChangeTableQuery)]) async throws {
            if index == queries.count { return try await body(acc) }
            try await connections[index].withResults(queries[index].query) { results in
                guard let rows = try await results.nextResultSet() else {
                    throw ChangeEventAssembler.AssemblyError(description: "capture instance \(queries[index].instance.name): the change query returned no result set")
                }
                try await open(index + 1, acc + [(rows.makeAsyncIterator(), queries[index])])
            }
        }
        try await open(0, [])
    }
}
