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

    /// Work on `batch` that needs no target round trip and may run while the batch before it is being
    /// applied (the runtime calls it for batch n+1 while batch n is applied), e.g. building its
    /// statements. Must not change the target. Returns what `apply(_:prepared:)` may use, or nil.
    func prepare(_ batch: SinkBatch) -> SinkPreparedBatch?

    /// `apply(batch)`, using what `prepare(batch)` returned (nil: nothing prepared). The applier must
    /// check that the prepared work still holds (the batch before may have changed the target, e.g. a
    /// table's columns) and redo what does not.
    func apply(_ batch: SinkBatch, prepared: SinkPreparedBatch?) async throws -> SinkApplyOutcome
}

/// What an applier prepared for one batch (its own type inside); the runtime only hands it back.
public struct SinkPreparedBatch: Sendable {
    public let work: any Sendable

    public init(_ work: any Sendable) { self.work = work }
}

extension SinkApplier {
    public func prepare(_ batch: SinkBatch) -> SinkPreparedBatch? { nil }

    public func apply(_ batch: SinkBatch, prepared: SinkPreparedBatch?) async throws -> SinkApplyOutcome {
        try await apply(batch)
    }
}

/// Both halves, as the runtime needs them.
public typealias SinkTarget = SinkApplier & ConsumerOffsetStore
