/// Capped exponential backoff: initial, 2×, 4×, … up to `maximum`.
public struct RetryBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public private(set) var attempt: Int = 0

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The delay before the next attempt (and counts the attempt).
    public mutating func next() -> Duration {
        let factor = 1 << min(attempt, 20)
        attempt += 1
        return min(maximum, initial * factor)
    }

    public mutating func reset() { attempt = 0 }
}
