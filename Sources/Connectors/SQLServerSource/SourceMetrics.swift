import Metrics
import SluiceCore

/// The source's metrics (swift-metrics; `/metrics` serves them in Prometheus format), named after
/// Debezium's streaming metrics where one exists. Dimensions: `database`, and `table`/`op` for events.
///
/// | metric | Debezium | meaning |
/// |---|---|---|
/// | `sluice_source_events_total{database,table,op}` | TotalNumberOfEventsSeen | change events published (c/u/d/r) |
/// | `sluice_source_milliseconds_behind_source{database}` | MilliSecondsBehindSource | now − commit time of the last event |
/// | `sluice_source_last_event_timestamp_ms{database}` | MilliSecondsSinceLastEvent (as a timestamp) | when the last event was published |
/// | `sluice_source_committed_transactions_total{database}` | NumberOfCommittedTransactions | source transactions published |
/// | `sluice_source_queue_outstanding{database}` | QueueRemainingCapacity (inverse) | messages waiting for the broker's ack |
/// | `sluice_source_position_commit_lsn_{vlf,block,slot}{database}` | (offsets) | the stored position's commit LSN |
/// | `sluice_source_offset_purged_total{database,capture_instance}` | — | windows whose changes the cleanup job had purged |
/// | `sluice_source_capture_job_stalled{database}` | — | 1 while no new LSN appears after a heartbeat action changed the source |
/// | `sluice_source_snapshot_rows_total{database,table}` | RowsScanned | rows read by snapshots (initial and incremental) |
/// | `sluice_source_snapshot_running{database}` | SnapshotRunning | 1 while an incremental snapshot runs |
/// | `sluice_source_snapshot_tables_remaining{database}` | RemainingTableCount | tables an incremental snapshot has still to read |
/// | `sluice_source_snapshot_chunks_total{database}` | ChunkId (as a count) | incremental-snapshot chunks emitted |
/// | `sluice_source_snapshot_rows_deduplicated_total{database}` | — | chunk rows dropped for a change streamed inside their watermark window |
/// | `sluice_source_errors_total{database}` | — | failed sessions (each followed by a backoff and a retry) |
public struct SourceMetrics: Sendable {
    public let database: String

    // Per-database handles, made once: making a handle looks it up in the metrics registry.
    let millisecondsBehindSource: Gauge
    let lastEventTimestamp: Gauge
    let committedTransactions: Counter
    let queueOutstanding: Gauge
    let captureJobStalled: Gauge
    let errors: Counter
    /// Incremental snapshots: 1 while one runs, tables left, chunks emitted, chunk rows dropped because
    /// streaming changed their key inside the watermark window.
    let snapshotRunning: Gauge
    let snapshotTablesRemaining: Gauge
    let snapshotChunks: Counter
    let snapshotRowsDeduplicated: Counter
    private let positionGauges: (vlf: Gauge, block: Gauge, slot: Gauge)

    /// Creates the per-database series at once, so `/metrics` lists every metric from the first scrape
    /// (a counter at 0, a gauge at 0) rather than only once something happened.
    public init(database: String) {
        self.database = database
        let dimensions = [("database", database)]
        millisecondsBehindSource = Gauge(label: "sluice_source_milliseconds_behind_source", dimensions: dimensions)
        lastEventTimestamp = Gauge(label: "sluice_source_last_event_timestamp_ms", dimensions: dimensions)
        committedTransactions = Counter(label: "sluice_source_committed_transactions_total", dimensions: dimensions)
        queueOutstanding = Gauge(label: "sluice_source_queue_outstanding", dimensions: dimensions)
        captureJobStalled = Gauge(label: "sluice_source_capture_job_stalled", dimensions: dimensions)
        errors = Counter(label: "sluice_source_errors_total", dimensions: dimensions)
        snapshotRunning = Gauge(label: "sluice_source_snapshot_running", dimensions: dimensions)
        snapshotTablesRemaining = Gauge(label: "sluice_source_snapshot_tables_remaining", dimensions: dimensions)
        snapshotChunks = Counter(label: "sluice_source_snapshot_chunks_total", dimensions: dimensions)
        snapshotRowsDeduplicated = Counter(label: "sluice_source_snapshot_rows_deduplicated_total", dimensions: dimensions)
        positionGauges = (Gauge(label: "sluice_source_position_commit_lsn_vlf", dimensions: dimensions),
                          Gauge(label: "sluice_source_position_commit_lsn_block", dimensions: dimensions),
                          Gauge(label: "sluice_source_position_commit_lsn_slot", dimensions: dimensions))
    }

    /// A new handle: callers keep it (`EventCounters`) rather than asking per event.
    func events(table: TableID, op: ChangeEvent.Operation) -> Counter {
        Counter(label: "sluice_source_events_total", dimensions: [("database", database), ("table", table.qualifiedName), ("op", op.rawValue)])
    }

    func offsetPurged(_ captureInstance: String) -> Counter {
        Counter(label: "sluice_source_offset_purged_total", dimensions: [("database", database), ("capture_instance", captureInstance)])
    }

    func snapshotRows(_ table: TableID) -> Counter {
        Counter(label: "sluice_source_snapshot_rows_total", dimensions: [("database", database), ("table", table.qualifiedName)])
    }

    /// The per-table and per-capture-instance series of the instances this database captures.
    func registerInstanceMetrics(_ instances: [CaptureInstance]) {
        for instance in instances {
            _ = offsetPurged(instance.name)
            _ = snapshotRows(instance.table)
        }
    }

    func position(_ lsn: LSN) {
        positionGauges.vlf.record(Double(lsn.vlf))
        positionGauges.block.record(Double(lsn.block))
        positionGauges.slot.record(Double(lsn.slot))
    }
}

/// The `sluice_source_events_total` handles of one session, made on first use and kept: one registry
/// lookup per (table, operation), not one per event.
struct EventCounters {
    let metrics: SourceMetrics
    private var counters: [Key: Counter] = [:]
    /// The counter of the previous call: nearly every call is for the same table and operation.
    private var last: (key: Key, counter: Counter)?

    init(metrics: SourceMetrics) { self.metrics = metrics }

    private struct Key: Hashable {
        var table: TableID
        var op: ChangeEvent.Operation
    }

    mutating func increment(table: TableID, op: ChangeEvent.Operation) {
        let key = Key(table: table, op: op)
        if let last, last.key == key { return last.counter.increment() }
        let counter: Counter
        if let known = counters[key] {
            counter = known
        } else {
            counter = metrics.events(table: table, op: op)
            counters[key] = counter
        }
        last = (key, counter)
        counter.increment()
    }
}
