import SluiceCore

/// Tells a stopped capture job (SQL Server Agent down) apart from an idle database: after the heartbeat
/// action query changed the source, a new LSN must appear within `timeout`.
struct StallDetector {
    let timeout: Duration
    private var changedAt: ContinuousClock.Instant?
    private var maxAtChange: LSN?
    private(set) var isStalled = false

    init(timeout: Duration) { self.timeout = timeout }

    var awaitingHarvest: Bool { changedAt != nil }

    mutating func sourceChanged(maxLSN: LSN?) {
        if changedAt == nil {
            changedAt = .now
            maxAtChange = maxLSN
        }
    }

    mutating func observed(maxLSN: LSN) {
        if let before = maxAtChange, maxLSN <= before { return }
        if changedAt != nil, maxAtChange == nil || maxLSN > maxAtChange! { progressed() }
    }

    mutating func progressed() {
        changedAt = nil
        maxAtChange = nil
        isStalled = false
    }

    /// True while stalled.
    mutating func check(now: ContinuousClock.Instant = .now) -> Bool {
        if let changedAt, now - changedAt >= timeout { isStalled = true }
        return isStalled
    }
}
