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
/// | `sluice_source_snapshot_rows_total{database,table}` | RowsScanned | rows read by snapshots |
/// | `sluice_source_errors_total{database}` | — | failed sessions (each followed by a backoff and a retry) |
public struct SourceMetrics: Sendable {
    public let database: String

    public init(database: String) { self.database = database }

    func events(table: TableID, op: ChangeEvent.Operation) -> Counter {
        Counter(label: "sluice_source_events_total", dimensions: [("database", database), ("table", table.qualifiedName), ("op", op.rawValue)])
    }

    var millisecondsBehindSource: Gauge { Gauge(label: "sluice_source_milliseconds_behind_source", dimensions: [("database", database)]) }
    var lastEventTimestamp: Gauge { Gauge(label: "sluice_source_last_event_timestamp_ms", dimensions: [("database", database)]) }
    var committedTransactions: Counter { Counter(label: "sluice_source_committed_transactions_total", dimensions: [("database", database)]) }
    var queueOutstanding: Gauge { Gauge(label: "sluice_source_queue_outstanding", dimensions: [("database", database)]) }
    var captureJobStalled: Gauge { Gauge(label: "sluice_source_capture_job_stalled", dimensions: [("database", database)]) }
    var errors: Counter { Counter(label: "sluice_source_errors_total", dimensions: [("database", database)]) }

    func offsetPurged(_ captureInstance: String) -> Counter {
        Counter(label: "sluice_source_offset_purged_total", dimensions: [("database", database), ("capture_instance", captureInstance)])
    }

    func snapshotRows(_ table: TableID) -> Counter {
        Counter(label: "sluice_source_snapshot_rows_total", dimensions: [("database", database), ("table", table.qualifiedName)])
    }

    /// Creates the per-database series at start-up, so `/metrics` lists every metric from the first
    /// scrape (a counter at 0, a gauge at 0) rather than only once something happened.
    func registerDatabaseMetrics() {
        _ = committedTransactions
        _ = errors
        _ = millisecondsBehindSource
        _ = lastEventTimestamp
        _ = queueOutstanding
        _ = captureJobStalled
        _ = positionGauges
    }

    /// The per-table and per-capture-instance series of the instances this database captures.
    func registerInstanceMetrics(_ instances: [CaptureInstance]) {
        for instance in instances {
            _ = offsetPurged(instance.name)
            _ = snapshotRows(instance.table)
        }
    }

    private var positionGauges: (vlf: Gauge, block: Gauge, slot: Gauge) {
        (Gauge(label: "sluice_source_position_commit_lsn_vlf", dimensions: [("database", database)]),
         Gauge(label: "sluice_source_position_commit_lsn_block", dimensions: [("database", database)]),
         Gauge(label: "sluice_source_position_commit_lsn_slot", dimensions: [("database", database)]))
    }

    func position(_ lsn: LSN) {
        let gauges = positionGauges
        gauges.vlf.record(Double(lsn.vlf))
        gauges.block.record(Double(lsn.block))
        gauges.slot.record(Double(lsn.slot))
    }
}
