import Foundation
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// Captures one database (Debezium's "partition"): snapshot when the mode asks for it, then streams
/// change windows in commit order, storing the position only after the broker acknowledged every event
/// up to it. Transient failures (SQL Server or broker unreachable, a connection dropped) end the
/// session; it restarts from the last stored offset after a capped exponential backoff. Fatal problems
/// (purged changes under `offset.purged.policy=fail`, a table without a key, an unsupported type) stop
/// this database with the reason in health and the log, never a crash loop.
struct DatabaseStreamer: Sendable {
    let configuration: SQLServerSourceConfiguration
    let database: String
    let kafka: KafkaConnectionConfiguration
    let health: HealthRegistry
    let logger: Logger
    let threadPool: NIOThreadPool
    let metrics: SourceMetrics
    let catalog: CDCCatalog
    let mapper: ValueMapper
    let namer: TopicNamer
    let offsetStore: SourcePositionStore
    let lineage: LineageRun?

    /// Events published between two stored positions inside one window.
    static let offsetFlushEvents = 5_000

    init(configuration: SQLServerSourceConfiguration, database: String, kafka: KafkaConnectionConfiguration,
         health: HealthRegistry, logger: Logger, threadPool: NIOThreadPool, lineage: LineageRun? = nil) {
        self.configuration = configuration
        self.lineage = lineage
        self.database = database
        self.kafka = kafka
        self.health = health
        var logger = logger
        logger[metadataKey: "sluice.database"] = "\(database)"
        self.logger = logger
        self.threadPool = threadPool
        self.metrics = SourceMetrics(database: database)
        let decimalMode = SQLServerTypeMapping.DecimalMode(rawValue: configuration.decimalHandlingMode.rawValue) ?? .string
        self.catalog = CDCCatalog(database: database, mapping: decimalMode, keyOverrides: configuration.messageKeyColumns)
        self.mapper = ValueMapper(decimalMode: decimalMode, binaryHex: configuration.binaryHandlingMode == .hex)
        self.namer = TopicNamer(prefix: configuration.topicPrefix)
        self.offsetStore = SourcePositionStore(topic: namer.offsetsTopic, server: configuration.topicPrefix, connection: kafka, logger: logger,
                                               replicationFactor: Int32(configuration.topicCreationDefaultReplicationFactor))
    }

    var component: String { "source.\(configuration.name).\(database)" }

    var sqlServerConfiguration: SQLServerConfiguration {
        SQLServerConfiguration(
            host: configuration.host, port: configuration.port, username: configuration.user,
            password: configuration.password.value, database: database,
            options: .init(queryTimeout: (configuration.queryTimeoutMs + 999) / 1000,
                           applicationName: "sluice-source-\(configuration.name)"))
    }

    /// Runs until graceful shutdown (or cancellation), or until a fatal problem stops this database.
    func run() async {
        health.set(component, .starting)
        metrics.registerDatabaseMetrics()
        defer { health.progress.release(component) }
        var backoff = Duration.milliseconds(configuration.retryBackoffInitialMs)
        let maxBackoff = Duration.milliseconds(configuration.retryBackoffMaxMs)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var healthy = false
            health.progress.renew(component)
            do {
                try await session(healthy: &healthy)
                return
            } catch let fatal as SourceFatalError {
                logger.error("Stopped capturing \(database): \(fatal.description)")
                health.set(component, .down(fatal.description))
                lineage?.fail("\(database): \(fatal.description)")
                return
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                if healthy { backoff = .milliseconds(configuration.retryBackoffInitialMs) }
                metrics.errors.increment()
                let reason = (error as? SQLServerError)?.code == .queryTimeout
                    ? "SQL Server did not answer within database.query.timeout.ms (\(configuration.queryTimeoutMs) ms): the server is frozen, overloaded or unreachable without closing the connection (\(error))"
                    : "\(error)"
                logger.warning("Capturing \(database) failed, retrying in \(backoff): \(reason)")
                health.set(component, .down("retrying in \(backoff): \(reason)"))
                let wait = backoff
                health.progress.renew(component, expectingNextWithin: wait)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }

    // MARK: Session

    /// One connected session: connect, load the offset, snapshot if needed, stream until shutdown.
    private func session(healthy: inout Bool) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(connection: kafka.forProducer), logger: logger)
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: kafka.forProducer), logger: logger)
        var connection: SQLServerConnection?
        var readers: [SQLServerConnection] = []
        do {
            try await offsetStore.prepare(admin: admin)
            let conn = try await SQLServerConnection.connect(
                configuration: sqlServerConfiguration,
                logger: logger, threadPool: threadPool)
            connection = conn
            let publisher = EventPublisher(
                producer: producer, namer: namer,
                codec: DebeziumEnvelope(serverName: configuration.topicPrefix, includeSchema: configuration.valueSchemasEnabled),
                keySchemas: configuration.keySchemasEnabled, tombstonesOnDelete: configuration.tombstonesOnDelete,
                transactionMetadata: configuration.provideTransactionMetadata)
            var offset = try await offsetStore.load(databases: [database], producer: producer)[database] ?? SourceOffset()
            logger.info("Loaded stored offset", metadata: ["sluice.offset": "\(offset.json.serializedString)"])
            let instances = try await includedInstances(conn)
            metrics.registerInstanceMetrics(instances)
            try await ensureTopics(admin: admin, instances: instances)
            if let lineage {
                let datasets = lineageDatasets(instances)
                lineage.report(part: database, inputs: datasets.inputs, outputs: datasets.outputs)
            }

            var context = SessionContext(connection: conn, producer: producer, publisher: publisher, admin: admin)
            defer { readers = Array(context.readers.values) }
            if try needsSnapshot(offset) {
                offset = try await snapshot(&context, instances: instances)
            } else if offset.streamingStart == nil {
                // no_data (or a when_needed offset that says nothing): stream from the current end.
                let start = try await catalog.maxLSN(conn) ?? .zero
                offset = SourceOffset(processedThrough: start, snapshot: .skipped(at: start),
                                      captureInstances: Dictionary(uniqueKeysWithValues: instances.map { ($0.name, max(start, $0.startLSN)) }))
                try await offsetStore.store(offset, database: database, producer: producer)
                logger.info("snapshot.mode=\(configuration.snapshotMode.rawValue): streaming starts after \(start) without reading existing rows")
            }
            healthy = true
            if configuration.snapshotMode == .initialOnly {
                health.set(component, .up)
                health.progress.release(component)
                logger.info("snapshot.mode=initial_only: snapshot complete, not streaming")
                try? await gracefulShutdown()
            } else {
                try await stream(&context, offset: offset)
            }
            try? await producer.waitForAllDeliveries()
        } catch {
            await close(producer: producer, admin: admin, connections: [connection].compactMap { $0 } + readers, flush: .seconds(5))
            throw error
        }
        await close(producer: producer, admin: admin, connections: [connection].compactMap { $0 } + readers, flush: .seconds(30))
    }

    private func close(producer: KafkaProducer, admin: KafkaAdminClient, connections: [SQLServerConnection], flush: Duration) async {
        await producer.shutdown(flushTimeout: flush)
        await admin.shutdown()
        for connection in connections { await connection.close() }
    }

    struct SessionContext {
        let connection: SQLServerConnection
        let producer: KafkaProducer
        let publisher: EventPublisher
        let admin: KafkaAdminClient
        /// Extra connections for reading several change tables at once, one per capture instance.
        var readers: [String: SQLServerConnection] = [:]
    }

    private func needsSnapshot(_ offset: SourceOffset) throws -> Bool {
        switch configuration.snapshotMode {
        case .always: return true
        case .initial, .initialOnly:
            if case .completed = offset.snapshot { return false }
            if case .skipped = offset.snapshot { return false }
            return true
        case .whenNeeded: return offset.streamingStart == nil
        case .noData, .schemaOnly: return false
        }
    }

    /// The capture instances of the tables `table.include.list` / `table.exclude.list` select, checked:
    /// every included table has a capture instance and a key.
    private func includedInstances(_ connection: SQLServerConnection) async throws -> [CaptureInstance] {
        let all = try await catalog.captureInstances(connection)
        let filter = TableFilter(include: configuration.tableIncludeList, exclude: configuration.tableExcludeList)
        let chosen = all.filter { filter.matches($0.table) }
        for pattern in configuration.tableIncludeList where !chosen.contains(where: { TableFilter(include: [pattern], exclude: []).matches($0.table) }) {
            throw SourceFatalError(description: "table.include.list entry \"\(pattern)\" matches no CDC-enabled table in \(database); enable CDC on it (EXEC sys.sp_cdc_enable_table @source_schema = …, @source_name = …, @role_name = NULL) or fix the entry")
        }
        for instance in chosen where instance.keyColumns.isEmpty {
            throw SourceFatalError(description: "table \(instance.table.qualifiedName) (capture instance \(instance.name)) has no primary key or unique index in its capture instance; set message.key.columns = \"\(instance.table.qualifiedName):<column>[,<column>]\"")
        }
        if chosen.isEmpty {
            throw SourceFatalError(description: "no CDC-enabled table in \(database) matches table.include.list; run sys.sp_cdc_enable_db and sys.sp_cdc_enable_table first")
        }
        return chosen
    }

    private func ensureTopics(admin: KafkaAdminClient, instances: [CaptureInstance]) async throws {
        var names = Set(instances.map { namer.dataTopic($0.table) })
        names.insert(namer.schemaChangeTopic)
        if configuration.provideTransactionMetadata { names.insert(namer.transactionTopic) }
        if configuration.heartbeatIntervalMs > 0 { names.insert(namer.heartbeatTopic) }
        for name in names.sorted() {
            _ = try await admin.ensureTopic(configuration.topicSpecification(name))
        }
    }

    // MARK: Snapshot

    /// Reads every included table inside one snapshot transaction whose fence is the highest LSN
    /// harvested when it began; emits `r` events stamped with the fence, then stores the completed
    /// snapshot so streaming resumes right after the fence.
    private func snapshot(_ context: inout SessionContext, instances: [CaptureInstance]) async throws -> SourceOffset {
        let conn = context.connection
        // The newest capture instance of each table describes its current columns.
        var newest: [TableID: CaptureInstance] = [:]
        for instance in instances { newest[instance.table] = instance }
        let tables = newest.values.sorted { $0.table < $1.table }
        logger.info("Snapshot of \(tables.count) table(s) starting (snapshot.isolation.mode=\(configuration.snapshotIsolationMode.rawValue))")
        health.set(component, .starting)
        if configuration.snapshotIsolationMode == .snapshot {
            _ = try await conn.execute("SET TRANSACTION ISOLATION LEVEL SNAPSHOT")
        }
        do {
            return try await snapshotTransaction(&context, tables: tables, instances: instances)
        } catch let error as SQLServerError where error.serverMessage?.number == 3952 {
            throw SourceFatalError(description: "the snapshot needs snapshot isolation, which \(database) does not allow: run ALTER DATABASE [\(database)] SET ALLOW_SNAPSHOT_ISOLATION ON, or set snapshot.isolation.mode=read_committed (the snapshot and the stream may then overlap; sinks absorb it)")
        }
    }

    private func snapshotTransaction(_ context: inout SessionContext, tables: [CaptureInstance], instances: [CaptureInstance]) async throws -> SourceOffset {
        let conn = context.connection
        let publisher = context.publisher
        let result: (fence: LSN, lastTicket: DeliveryTicket?, rows: Int) = try await conn.withTransaction { conn in
            let fence = try await catalog.windowUpperBound(conn, from: .zero, maxTransactions: 0) ?? .zero
            try await offsetStore.store(SourceOffset(snapshot: .running(fence: fence, completedTables: [])), database: database, producer: context.producer)
            let position = SourcePosition.snapshot(at: fence)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var lastTicket: DeliveryTicket?
            var pending: (ChangeEvent, TableSchema)?
            var total = 0
            for instance in tables {
                lastTicket = try await publisher.publishSchemaChange(instance, type: "CREATE", position: position, commitTimeMs: now, reason: "snapshot")
                let columns = instance.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
                let query: SQLServerQuery = "SELECT \(unsafeRaw: columns) FROM \(identifier: instance.table.schema, instance.table.table)"
                let rowCounter = metrics.snapshotRows(instance.table)
                let readCounter = metrics.events(table: instance.table, op: .read)
                try await conn.withResults(query) { results in
                    guard let rows = try await results.nextResultSet() else { return }
                    for try await row in rows {
                        var values = JSONObject()
                        for (i, column) in instance.columns.enumerated() { values[column.name] = try mapper.json(row[i], column: column) }
                        let key = JSONObject(instance.keyColumns.map { (key: $0, value: values[$0] ?? .null) })
                        let event = ChangeEvent(op: .read, table: instance.table, key: key, before: nil, after: values,
                                                position: position, commitTimeMs: now, snapshot: total == 0 ? .first : .true,
                                                processedAtMs: Int64(Date().timeIntervalSince1970 * 1000))
                        if let (previous, schema) = pending { lastTicket = try await publisher.publish(previous, schema: schema) }
                        pending = (event, instance.schema)
                        total += 1
                        rowCounter.increment()
                        readCounter.increment()
                        if total % 1_000 == 0 { health.progress.renew(component) }
                    }
                }
            }
            if let (event, schema) = pending {
                var last = event
                last.snapshot = total == 1 ? .first : .last
                lastTicket = try await publisher.publish(last, schema: schema)
            }
            return (fence, lastTicket, total)
        }
        if configuration.snapshotIsolationMode == .snapshot {
            _ = try await conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        }
        if let ticket = result.lastTicket { try await context.producer.waitForDeliveries(through: ticket) }
        let offset = SourceOffset(processedThrough: result.fence, snapshot: .completed(fence: result.fence),
                                  captureInstances: Dictionary(uniqueKeysWithValues: instances.map { ($0.name, max(result.fence, $0.startLSN)) }))
        try await offsetStore.store(offset, database: database, producer: context.producer)
        metrics.position(result.fence)
        logger.info("Snapshot complete: \(result.rows) row(s) at fence \(result.fence); streaming continues after it")
        return offset
    }

    // MARK: Streaming

    private func stream(_ context: inout SessionContext, offset initial: SourceOffset) async throws {
        var offset = initial
        var stall = StallDetector(timeout: .milliseconds(configuration.captureJobStallTimeoutMs))
        var lastHeartbeat = ContinuousClock.now
        let heartbeatInterval: Duration? = configuration.heartbeatIntervalMs > 0 ? .milliseconds(configuration.heartbeatIntervalMs) : nil
        health.set(component, .up)

        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            health.progress.renew(component, expectingNextWithin: .milliseconds(configuration.pollIntervalMs))
            guard let start = offset.streamingStart else {
                throw SourceFatalError(description: "no position to stream from (the stored offset has no completed snapshot); set snapshot.mode=initial")
            }
            let from: LSN, resumeAfter: SourcePosition?
            switch start {
            case .after(let lsn): from = try await catalog.increment(context.connection, lsn); resumeAfter = nil
            case .within(let position): from = position.commitLSN; resumeAfter = position
            }
            let instances = try await includedInstances(context.connection)
            if let upper = try await catalog.windowUpperBound(context.connection, from: from, maxTransactions: configuration.maxIterationTransactions) {
                offset = try await streamWindow(&context, offset: offset, instances: instances, from: from, to: upper, resumeAfter: resumeAfter)
                stall.progressed()
                if stall.isStalled == false { health.set(component, .up) }
                continue
            }
            // Nothing new: heartbeat, stall check, wait.
            if let heartbeatInterval, ContinuousClock.now - lastHeartbeat >= heartbeatInterval {
                lastHeartbeat = ContinuousClock.now
                try await heartbeat(&context, offset: offset, stall: &stall)
            }
            if stall.check() {
                metrics.captureJobStalled.record(1)
                let reason = "no change harvested for \(stall.timeout) after the heartbeat action changed the source: is SQL Server Agent running the capture job (EXEC sys.sp_cdc_start_job)?"
                if health.snapshot[component] != .degraded(reason) {
                    logger.warning("\(reason)")
                    health.set(component, .degraded(reason))
                }
            } else {
                metrics.captureJobStalled.record(0)
            }
            metrics.queueOutstanding.record(context.producer.outstandingCount)
            let pollInterval = Duration.milliseconds(configuration.pollIntervalMs)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
        try await context.producer.waitForAllDeliveries()
    }

    private func heartbeat(_ context: inout SessionContext, offset: SourceOffset, stall: inout StallDetector) async throws {
        if let action = configuration.heartbeatActionQuery {
            _ = try await context.connection.execute(SQLServerQuery(sql: action))
            stall.sourceChanged(maxLSN: try await catalog.maxLSN(context.connection))
        }
        let ticket = try await context.publisher.publishHeartbeat(database: database)
        try await context.producer.waitForDeliveries(through: ticket)
        try await offsetStore.store(offset, database: database, producer: context.producer)
        if stall.awaitingHarvest, let max = try await catalog.maxLSN(context.connection) { stall.observed(maxLSN: max) }
    }

    /// Which capture instances to read for [from, to], each with its own lower bound and, when a newer
    /// instance of the same table takes over, the LSN where it stops. Detects purged ranges.
    private func plan(_ instances: [CaptureInstance], offset: SourceOffset, from: LSN, to: LSN) throws -> (queries: [ChangeTableQuery], purged: [(CaptureInstance, LSN)], switched: [CaptureInstance]) {
        var byTable: [TableID: [CaptureInstance]] = [:]
        for instance in instances { byTable[instance.table, default: []].append(instance) }
        var queries: [ChangeTableQuery] = []
        var purged: [(CaptureInstance, LSN)] = []
        var switched: [CaptureInstance] = []
        for (_, list) in byTable.sorted(by: { $0.key < $1.key }) {
            for (i, instance) in list.enumerated() {
                let stop = i + 1 < list.count ? list[i + 1].startLSN : nil
                if let stop, from >= stop { continue }  // superseded by the newer instance
                let recorded = offset.captureInstances[instance.name]
                let known = recorded != nil
                // The cleanup job moved the instance's low end past both the next LSN needed and where
                // this instance was first read from: changes in between may be gone.
                if let recorded, instance.startLSN > from, instance.startLSN > recorded {
                    purged.append((instance, from))
                    continue
                }
                let lower = max(from, instance.startLSN)
                if lower > to { continue }
                if !known && i > 0 { switched.append(instance) }
                queries.append(ChangeTableQuery(instance: instance, from: lower, to: to, stop: stop))
            }
        }
        return (queries, purged, switched)
    }

    /// Streams [from, to]: merges every capture instance's rows in emission order, publishes the events,
    /// and returns the new offset, stored once the broker acknowledged everything.
    private func streamWindow(_ context: inout SessionContext, offset initial: SourceOffset, instances: [CaptureInstance],
                              from: LSN, to: LSN, resumeAfter: SourcePosition?) async throws -> SourceOffset {
        var offset = initial
        let plan = try plan(instances, offset: offset, from: from, to: to)
        if !plan.purged.isEmpty {
            for (instance, _) in plan.purged { metrics.offsetPurged(instance.name).increment() }
            let detail = plan.purged.map { "\($0.0.table.qualifiedName) (capture instance \($0.0.name)): needed changes from \($0.1), the oldest kept is \($0.0.startLSN)" }.joined(separator: "; ")
            switch configuration.offsetPurgedPolicy {
            case .fail:
                throw SourceFatalError(description: "the CDC cleanup job purged changes Sluice had not read yet: \(detail). Nothing after the stored position was published. Set offset.purged.policy=resnapshot to take a new snapshot, or raise the cleanup retention (sys.sp_cdc_change_job @job_type = N'cleanup', @retention = …)")
            case .resnapshot:
                logger.warning("CDC cleanup purged unread changes: \(detail); taking a new snapshot (offset.purged.policy=resnapshot)")
                return try await snapshot(&context, instances: instances)
            }
        }
        let times = try await catalog.commitTimes(context.connection, from: from, to: to)
        for instance in plan.switched {
            logger.notice("Capture instance switch: \(instance.table.qualifiedName) now read from \(instance.name) starting at \(instance.startLSN)")
            _ = try await context.publisher.publishSchemaChange(
                instance, type: "ALTER", position: SourcePosition(commitLSN: instance.startLSN, commandID: nil, changeLSN: nil, eventSerialNo: 0),
                commitTimeMs: times[instance.startLSN] ?? Int64(Date().timeIntervalSince1970 * 1000),
                reason: "capture instance switch to \(instance.name)")
        }
        if let lineage, !plan.switched.isEmpty {
            let datasets = lineageDatasets(instances + plan.switched)
            lineage.report(part: database, inputs: datasets.inputs, outputs: datasets.outputs)
        }
        // One connection per capture instance read in this window: the control connection is busy
        // with nothing else meanwhile, so it reads the first one.
        var connections: [SQLServerConnection] = []
        for (i, query) in plan.queries.enumerated() {
            if i == 0 { connections.append(context.connection); continue }
            if let reader = context.readers[query.instance.name], !reader.isClosed {
                connections.append(reader)
            } else {
                let reader = try await SQLServerConnection.connect(
                    configuration: sqlServerConfiguration,
                    logger: logger, threadPool: threadPool)
                context.readers[query.instance.name] = reader
                connections.append(reader)
            }
        }
        var assembler = ChangeEventAssembler(
            keyColumns: Dictionary(uniqueKeysWithValues: plan.queries.map { ($0.instance.name, $0.instance.keyColumns) }),
            resumeAfter: resumeAfter, now: { Int64(Date().timeIntervalSince1970 * 1000) })
        let schemas = Dictionary(uniqueKeysWithValues: plan.queries.map { ($0.instance.name, $0.instance.schema) })
        let publisher = context.publisher
        let producer = context.producer
        var lastTicket: DeliveryTicket?
        var lastPosition: SourcePosition?
        var sinceStore = 0
        var transactions = 0
        let mapper = self.mapper

        // Metric handles made once per window, not per event (making one looks it up in the registry).
        var eventCounters: [EventCounterKey: Counter] = [:]
        let behindSource = metrics.millisecondsBehindSource, lastEventTimestamp = metrics.lastEventTimestamp
        func publish(_ outputs: [ChangeEventAssembler.Output], instance: String?) async throws {
            for output in outputs {
                switch output {
                case .event(let event):
                    guard let instance, let schema = schemas[instance] else { continue }
                    lastTicket = try await publisher.publish(event, schema: schema)
                    lastPosition = event.position
                    let counterKey = EventCounterKey(instance: instance, op: event.op)
                    if let counter = eventCounters[counterKey] {
                        counter.increment()
                    } else {
                        let counter = metrics.events(table: event.table, op: event.op)
                        eventCounters[counterKey] = counter
                        counter.increment()
                    }
                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                    behindSource.record(max(0, now - event.commitTimeMs))
                    lastEventTimestamp.record(now)
                    sinceStore += 1
                case .begin, .end:
                    if case .end = output { transactions += 1; metrics.committedTransactions.increment() }
                    if let ticket = try await publisher.publish(output) { lastTicket = ticket }
                }
            }
        }

        try await withChangeStreams(plan.queries, connections: connections) { iterators in
            var merge = ChangeRowMerge(iterators.map { MappedRows(base: $0.0, query: $0.1, mapper: mapper) })
            while let row = try await merge.next() {
                let commitTime = times[row.startLSN] ?? 0
                try await publish(try assembler.accept(row, commitTimeMs: commitTime), instance: row.captureInstance)
                if sinceStore >= Self.offsetFlushEvents, let ticket = lastTicket, let position = lastPosition {
                    try await producer.waitForDeliveries(through: ticket)
                    offset.position = position
                    try await offsetStore.store(offset, database: database, producer: producer)
                    health.progress.renew(component)
                    sinceStore = 0
                }
            }
        }
        try await publish(try assembler.finish(), instance: nil)
        if let ticket = lastTicket { try await producer.waitForDeliveries(through: ticket) }
        if let lastPosition { offset.position = lastPosition }
        offset.processedThrough = to
        for query in plan.queries where offset.captureInstances[query.instance.name] == nil {
            offset.captureInstances[query.instance.name] = query.from
        }
        // Instances that no longer exist (disabled) leave the offset.
        let live = Set(instances.map(\.name))
        offset.captureInstances = offset.captureInstances.filter { live.contains($0.key) }
        try await offsetStore.store(offset, database: database, producer: producer)
        metrics.position(to)
        metrics.queueOutstanding.record(producer.outstandingCount)
        if transactions > 0 {
            logger.debug("Window \(from)…\(to): \(transactions) transaction(s) published")
        }
        return offset
    }

    /// Opens one streaming result per query (each on its own connection) and hands the row iterators
    /// to `body`; all stay open until it returns.
    private func withChangeStreams(
        _ queries: [ChangeTableQuery], connections: [SQLServerConnection],
        _ body: ([(SQLServerResultSet.AsyncIterator, ChangeTableQuery)]) async throws -> Void
    ) async throws {
        func open(_ index: Int, _ acc: [(SQLServerResultSet.AsyncIterator, ChangeTableQuery)]) async throws {
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

/// Change rows of one capture instance's result, mapped from SQL Server values.
struct MappedRows: AsyncIteratorProtocol {
    var base: SQLServerResultSet.AsyncIterator
    let query: ChangeTableQuery
    let mapper: ValueMapper

    mutating func next() async throws -> ChangeRow? {
        guard let row = try await base.next() else { return nil }
        return try query.changeRow(row, mapper: mapper)
    }
}

/// Tells a stopped capture job (SQL Server Agent down) apart from an idle database: after the heartbeat
/// action query changed the source, a new LSN must appear within `timeout`.
struct StallDetector {
    let timeout: Duration
    private var changedAt: ContinuousClock.Instant?
    private var maxAtChange: LSN?
    private(set) var isStalled = false

    init(timeout: Duration) { self.timeout = timeout }

    var awaitingHarvest: Bool { changedAt != nil }

    mutating func sourceChanged(maxLSN: LSN?) {
        if changedAt == nil {
            changedAt = .now
            maxAtChange = maxLSN
        }
    }

    mutating func observed(maxLSN: LSN) {
        if let before = maxAtChange, maxLSN <= before { return }
        if changedAt != nil, maxAtChange == nil || maxLSN > maxAtChange! { progressed() }
    }

    mutating func progressed() {
        changedAt = nil
        maxAtChange = nil
        isStalled = false
    }

    /// True while stalled.
    mutating func check() -> Bool {
        if let changedAt, ContinuousClock.now - changedAt >= timeout { isStalled = true }
        return isStalled
    }
}

/// A problem retrying cannot fix; the database stops with this reason.
struct SourceFatalError: Error, CustomStringConvertible {
    let description: String
}

/// A source metric counter's identity inside one window: capture instance (one table) and operation.
private struct EventCounterKey: Hashable {
    var instance: String
    var op: ChangeEvent.Operation
}
