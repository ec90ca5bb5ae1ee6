/// The consumer's state: its assignment, rebalance events waiting for the application's hooks, and
/// whether it is closing. Rebalance events are recorded by librdkafka's callback on the poll thread
/// and handled by the polling task.
struct KafkaConsumerStateMachine {
    enum RebalanceProtocol: Sendable, Equatable {
        case eager
        case cooperative
    }

    struct RebalanceEvent: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case assign
            case revoke
        }

        var kind: Kind
        var partitions: [TopicPartition]
        var rebalanceProtocol: RebalanceProtocol
    }

    private enum State {
        case running
        /// `close()` started (or the consumer was dropped): rebalance callbacks apply at once.
        case closing
        case closed
    }

    private var state: State = .running
    private var pendingRebalances: [RebalanceEvent] = []
    private(set) var assignment: Set<TopicPartition> = []
    private var isPolling = false

    // MARK: From the rebalance callback (poll thread)

    enum CallbackAction {
        /// Recorded for the polling task; the callback yields the poll so it returns promptly.
        case deferToApplication
        /// Closing: the callback assigns/unassigns itself.
        case applyNow
    }

    mutating func rebalanceCallback(_ event: RebalanceEvent) -> CallbackAction {
        switch state {
        case .running:
            pendingRebalances.append(event)
            return .deferToApplication
        case .closing, .closed:
            apply(event)
            return .applyNow
        }
    }

    var hasPendingRebalance: Bool { !pendingRebalances.isEmpty }

    // MARK: From the polling task

    mutating func startPolling() throws {
        switch state {
        case .running:
            guard !isPolling else {
                throw KafkaError(code: .consume, message: "KafkaConsumer.poll was called while another poll is running: poll from one task only.")
            }
            isPolling = true
        case .closing, .closed:
            throw KafkaError.shutdown("polling")
        }
    }

    mutating func stopPolling() {
        isPolling = false
    }

    mutating func nextRebalance() -> RebalanceEvent? {
        guard case .running = state, !pendingRebalances.isEmpty else { return nil }
        return pendingRebalances.removeFirst()
    }

    /// The assign hook failed: keep the event first in line so the next poll retries it.
    mutating func retryLater(_ event: RebalanceEvent) {
        pendingRebalances.insert(event, at: 0)
    }

    /// The assignment was changed in librdkafka.
    mutating func apply(_ event: RebalanceEvent) {
        switch (event.kind, event.rebalanceProtocol) {
        case (.assign, .cooperative):
            assignment.formUnion(event.partitions)
        case (.assign, .eager):
            assignment = Set(event.partitions)
        case (.revoke, .cooperative):
            assignment.subtract(event.partitions)
        case (.revoke, .eager):
            assignment = []
        }
    }

    // MARK: Closing

    /// Starts closing; returns the partitions to hand to the revoke hook and the rebalance events
    /// librdkafka still waits for (applied without hooks so that the group can be left cleanly),
    /// or nil if already closing.
    mutating func beginClose() -> (revoke: [TopicPartition], unapplied: [RebalanceEvent])? {
        guard case .running = state else { return nil }
        state = .closing
        let unapplied = pendingRebalances
        pendingRebalances.removeAll()
        return (assignment.sorted(), unapplied)
    }

    mutating func finishClose() {
        state = .closed
        assignment = []
    }

    var isRunning: Bool {
        if case .running = state { return true }
        return false
    }
}
