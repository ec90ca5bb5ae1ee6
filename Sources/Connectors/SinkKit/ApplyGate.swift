import NIOConcurrencyHelpers

/// Closed while a batch is applied and the next one is polled, so the consumer's rebalance hooks can
/// wait for that apply: partitions are revoked, or assigned and their stored offsets read, only between
/// two applies. A batch is therefore never written after its partitions were released to another
/// member, and a member that takes them over reads the offsets that batch stored.
struct ApplyGate: Sendable {
    private let closed = NIOLockedValueBox(false)

    /// Before the next poll starts: a hook that runs in it then waits for `open()`.
    func close() { closed.withLockedValue { $0 = true } }

    /// After the apply, whether it succeeded or threw.
    func open() { closed.withLockedValue { $0 = false } }

    /// Returns once the gate is open (or the task is cancelled). Rebalances are rare and an apply takes
    /// milliseconds: a short sleep between looks is enough.
    func waitUntilOpen() async {
        while closed.withLockedValue({ $0 }) && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
