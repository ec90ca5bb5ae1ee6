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

    func position(_ lsn: LSN) {
        Gauge(label: "sluice_source_position_commit_lsn_vlf", dimensions: [("database", database)]).record(Double(lsn.vlf))
        Gauge(label: "sluice_source_position_commit_lsn_block", dimensions: [("database", database)]).record(Double(lsn.block))
        Gauge(label: "sluice_source_position_commit_lsn_slot", dimensions: [("database", database)]).record(Double(lsn.slot))
    }
}
