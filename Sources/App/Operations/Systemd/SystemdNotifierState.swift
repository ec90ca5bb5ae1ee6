/// What `SystemdNotifier` sends, decided from the health it observes (no I/O, so it is unit-tested):
///
/// - `READY=1` once, the first time every component is ready;
/// - `STATUS=<summary>` whenever the summary changes;
/// - `WATCHDOG=1` every half watchdog interval, but only while no component is wedged: a wedged
///   component stops the pings, so systemd's watchdog restarts the process;
/// - `STOPPING=1` when the process starts draining.
public struct SystemdNotifierState: Sendable {
    /// Half of `WATCHDOG_USEC`, or `nil` when systemd expects no pings (no watchdog, or it is meant for
    /// another process: `WATCHDOG_PID`).
    public let pingInterval: Duration?
    public private(set) var sentReady = false
    public private(set) var lastStatus: String?
    private var nextPing: ContinuousClock.Instant?

    public init(watchdogInterval: Duration?) {
        pingInterval = watchdogInterval.map { $0 / 2 }
    }

    /// The assignments to send at `now`, as one datagram's text (`nil`: nothing to send).
    public mutating func evaluate(ready: Bool, status: String, wedged: Bool, now: ContinuousClock.Instant) -> String? {
        var lines: [String] = []
        if ready && !sentReady {
            sentReady = true
            lines.append("READY=1")
        }
        if status != lastStatus {
            lastStatus = status
            lines.append("STATUS=\(status)")
        }
        if let pingInterval {
            if wedged {
                nextPing = nil  // pings resume as soon as the component moves again
            } else if nextPing.map({ now >= $0 }) ?? true {
                lines.append("WATCHDOG=1")
                nextPing = now + pingInterval
            }
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// When `evaluate` should run again at the latest (the next ping), given the regular `tick`.
    public func nextEvaluation(after now: ContinuousClock.Instant, tick: Duration) -> ContinuousClock.Instant {
        guard let nextPing else { return now + tick }
        return min(now + tick, max(now, nextPing))
    }

    /// The datagram that announces draining.
    public mutating func stopping(status: String) -> String {
        lastStatus = status
        return "STOPPING=1\nSTATUS=\(status)"
    }
}
