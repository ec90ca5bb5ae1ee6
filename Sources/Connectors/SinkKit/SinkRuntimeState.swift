/// The runtime's shared state, behind its lock: whether shutdown was requested and which topics are
/// stopped. (Plain state, not a state machine: the session loop in `SinkRuntime` decides what to do.)
struct SinkRuntimeState: Sendable {
    enum Phase: Sendable { case running, stopping }

    private(set) var phase: Phase = .running
    /// Topics stopped by a `.tableStopped` error, with the reason.
    private(set) var stoppedTopics: [String: String] = [:]

    var isStopping: Bool { phase == .stopping }

    mutating func requestStop() { phase = .stopping }

    /// Returns true when the topic was not stopped before.
    mutating func stop(topic: String, reason: String) -> Bool {
        guard stoppedTopics[topic] == nil else { return false }
        stoppedTopics[topic] = reason
        return true
    }
}
