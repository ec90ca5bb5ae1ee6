import SluiceKafka

/// Where a sink keeps its consumer offsets: in the target database, next to the rows they produced.
public protocol ConsumerOffsetStore: Sendable {
    /// The stored next offsets of `partitions` for this sink's consumer group (partitions never
    /// stored are absent: the consumer then starts at the group's committed offset, else the earliest).
    /// Throw a `SinkError` (`.transient` when the target is unreachable).
    func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64]
}

/// Applies batches to the target.
public protocol SinkApplier: Sendable {
    /// Applies `batch` and stores `batch.nextOffsets` in ONE target transaction, ignoring events the
    /// target already reflects (source position not newer). Throws `SinkError`:
    /// - `.transient` — the target is unreachable or asked to retry (deadlock, restart): retried as is;
    /// - `.recordRejected` — the target refused the data (constraint, value): the runtime retries the
    ///   batch event by event and dead-letters only the events still refused;
    /// - `.tableStopped` — a table cannot be written (incompatible schema change): its topic stops
    ///   (nothing of it is applied or stored any more) until an operator fixes it and restarts;
    /// other errors are treated as transient (logged and retried with backoff).
    func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome
}

/// Both halves, as the runtime needs them.
public typealias SinkTarget = SinkApplier & ConsumerOffsetStore
