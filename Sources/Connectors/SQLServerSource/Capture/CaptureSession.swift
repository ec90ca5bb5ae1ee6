import Logging
import ServiceLifecycle
import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// One connected session of a database's capture: connect, load the stored offset, check the included
/// tables, create the topics, snapshot when needed (`SnapshotReader`), then stream until shutdown
/// (`ChangeStreamLoop`). Any error ends the session; `DatabaseStreamer` decides whether to retry.
struct CaptureSession: Sendable {
    let context: DatabaseContext

    /// The producer's `linger.ms` (`kafka.linger.ms` overrides it).
    static let producerLinger = Duration.milliseconds(100)
    /// The producer's `compression.type` (`kafka.compression.type` overrides it): lz4. It cuts the source's
    /// CPU per event by about a third (its produce requests shrink several times, the broker answers them
    /// sooner, and librdkafka's broker thread polls about once a millisecond while one is outstanding with
    /// messages queued; `benchmarks/README.md`, sessions 7 and 8). librdkafka decompresses for every
    /// consumer here (the sinks, the Python peer). It was off while the sinks' fetch responses were
    /// bounded at 32 MiB on the wire (the replica sink peaked at 305 MiB on an lz4 backlog); they ask for
    /// 1 MiB now (`SinkRuntimeConfiguration`: 171 MiB).
    static let producerCompression = KafkaProducerConfiguration.Compression.lz4

    /// The source's producer: idempotent (`KafkaProducerConfiguration`), `producerLinger`,
    /// `producerCompression`; the connector's `kafka.*` pass-through properties override both.
    static func producerConfiguration(_ connection: KafkaConnectionConfiguration) -> KafkaProducerConfiguration {
        KafkaProducerConfiguration(connection: connection, linger: producerLinger, compression: producerCompression)
    }

    /// - Parameter healthy: set once the session got as far as streaming (resets the retry backoff).
    func run(healthy: inout Bool) async throws {
        let configuration = context.configuration, logger = context.logger
        // A long linger: a window's events go out in few, full produce requests (librdkafka's broker thread
        // was a third of the source's CPU at 5 ms); every wait for acknowledgements (a window's end, a
        // chunk's, an offset store) sends what lingers at once, so it adds no latency.
        let producer = try KafkaProducer(
            configuration: Self.producerConfiguration(context.kafka.forProducer), logger: logger)
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: context.kafka.forProducer), logger: logger)
        var connection: SQLServerConnection?
        var readers: [SQLServerConnection] = []
        do {
            try await context.offsetStore.prepare(admin: admin)
            let conn = try await context.connect()
            connection = conn
            let publisher = EventPublisher(
                producer: producer, namer: context.namer,
                codec: DebeziumEnvelope(serverName: configuration.topicPrefix, includeSchema: configuration.valueSchemasEnabled),
                keySchemas: configuration.keySchemasEnabled, tombstonesOnDelete: configuration.tombstonesOnDelete,
                transactionMetadata: configuration.provideTransactionMetadata)
            var offset = try await context.offsetStore.load(databases: [context.database], producer: producer)[context.database] ?? SourceOffset()
            logger.info("Loaded stored offset", metadata: [SourceLoggingKeys.offset: "\(offset.json.serializedString)"])
            let instances = try await includedInstances(conn)
            context.metrics.registerInstanceMetrics(instances)
            let topics = try await ensureTopics(admin: admin, instances: instances)
            // The first event on each topic (a table's first change, the first heartbeat) is sent at once.
            await producer.learnTopics(topics + [context.offsetStore.topic])
            if let lineage = context.lineage {
                let datasets = context.lineageDatasets(instances)
                lineage.report(part: context.database, inputs: datasets.inputs, outputs: datasets.outputs)
            }

            var resources = SessionResources(connection: conn, producer: producer, publisher: publisher, admin: admin)
            defer { readers = Array(resources.readers.values) }
            if needsSnapshot(offset) {
                offset = try await SnapshotReader(context: context).run(resources, instances: instances, stored: offset)
            } else if offset.streamingStart == nil {
                // no_data (or a when_needed offset that says nothing): stream from the current end.
                let start = try await context.catalog.maxLSN(conn) ?? .zero
                offset = SourceOffset(processedThrough: start, snapshot: .skipped(at: start),
                                      captureInstances: Dictionary(uniqueKeysWithValues: instances.map { ($0.name, max(start, $0.startLSN)) }))
                try await context.store(offset, producer: producer)
                logger.info("snapshot.mode=\(configuration.snapshotMode.rawValue): streaming starts after \(start) without reading existing rows")
            }
            healthy = true
            if configuration.snapshotMode == .initialOnly {
                context.health.set(context.component, .up)
                context.health.progress.release(context.component)
                logger.info("snapshot.mode=initial_only: snapshot complete, not streaming")
                try? await gracefulShutdown()
            } else {
                try await ChangeStreamLoop(context: context, session: self).run(&resources, offset: offset)
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

    func needsSnapshot(_ offset: SourceOffset) -> Bool {
        switch context.configuration.snapshotMode {
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
    func includedInstances(_ connection: SQLServerConnection) async throws -> [CaptureInstance] {
        try await instances(connection).included
    }

    /// The included capture instances (checked as `includedInstances` says) and those of the signal
    /// table (`signal.data.collection`, when it is in this database), which the stream reads for signals
    /// and watermarks without publishing them.
    func instances(_ connection: SQLServerConnection) async throws -> (included: [CaptureInstance], signal: [CaptureInstance]) {
        let configuration = context.configuration, database = context.database
        let all = try await context.catalog.captureInstances(connection)
        var signal: [CaptureInstance] = []
        if let table = configuration.signalDataCollection, table.database == database {
            signal = all.filter { $0.table == table }
            if signal.isEmpty {
                throw SourceError(.signalTableNotCaptured, "the signal table \(table.schema).\(table.table) (signal.data.collection) is not CDC-enabled in \(database): create it (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL) and run EXEC sys.sp_cdc_enable_table @source_schema = N'\(table.schema)', @source_name = N'\(table.table)', @role_name = NULL")
            }
        }
        let filter = TableFilter(include: configuration.tableIncludeList, exclude: configuration.tableExcludeList)
        let chosen = all.filter { filter.matches($0.table) }
        for pattern in configuration.tableIncludeList where !chosen.contains(where: { TableFilter(include: [pattern], exclude: []).matches($0.table) }) {
            throw SourceError(.tableNotCaptured, "table.include.list entry \"\(pattern)\" matches no CDC-enabled table in \(database); enable CDC on it (EXEC sys.sp_cdc_enable_table @source_schema = …, @source_name = …, @role_name = NULL) or fix the entry")
        }
        for instance in chosen where instance.keyColumns.isEmpty {
            throw SourceError(.tableWithoutKey, "table \(instance.table.qualifiedName) (capture instance \(instance.name)) has no primary key or unique index in its capture instance; set message.key.columns = \"\(instance.table.qualifiedName):<column>[,<column>]\"")
        }
        if chosen.isEmpty {
            throw SourceError(.noCapturedTable, "no CDC-enabled table in \(database) matches table.include.list; run sys.sp_cdc_enable_db and sys.sp_cdc_enable_table first")
        }
        return (chosen.filter { $0.table != configuration.signalDataCollection }, signal)
    }

    /// Creates the topics this database's stream writes to when missing; returns their names.
    private func ensureTopics(admin: KafkaAdminClient, instances: [CaptureInstance]) async throws -> [String] {
        let namer = context.namer, configuration = context.configuration
        var names = Set(instances.map { namer.dataTopic($0.table) })
        names.insert(namer.schemaChangeTopic)
        if configuration.provideTransactionMetadata { names.insert(namer.transactionTopic) }
        if configuration.heartbeatIntervalMs > 0 { names.insert(namer.heartbeatTopic) }
        for name in names.sorted() {
            _ = try await admin.ensureTopic(configuration.topicSpecification(name))
        }
        return names.sorted()
    }
}
