/// What the application does when the group gives it partitions or takes them away.
///
/// Both run in the task that polls (`KafkaConsumer.poll` or the `messages` sequence), before any
/// message of a newly assigned partition is returned and before a revoked partition goes away, and
/// must finish within `max.poll.interval.ms`.
public struct KafkaRebalanceHooks: Sendable {
    /// Given the newly assigned partitions, returns the offset to start each one at (the offset of
    /// the next message to read, e.g. the one stored next to the applied data). Partitions missing
    /// from the result start at the group's committed offset, else per `auto.offset.reset`.
    /// If it throws, nothing is assigned; the error is thrown from `poll`, and the next poll calls it again.
    public var onAssign: @Sendable ([TopicPartition]) async throws -> [TopicPartition: Int64]
    /// Given the partitions about to be taken away. The partitions are released even if it throws
    /// (the error is then thrown from `poll`).
    public var onRevoke: @Sendable ([TopicPartition]) async throws -> Void

    public init(
        onAssign: @escaping @Sendable ([TopicPartition]) async throws -> [TopicPartition: Int64] = { _ in [:] },
        onRevoke: @escaping @Sendable ([TopicPartition]) async throws -> Void = { _ in }
    ) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
    }
}
