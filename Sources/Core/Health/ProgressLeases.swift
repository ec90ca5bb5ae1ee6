import NIOConcurrencyHelpers

/// Progress heartbeats of a process's components, used to tell a wedged component from a busy or
/// idle one (the systemd watchdog pings only while none is wedged).
///
/// Each long-running loop renews its lease whenever it comes round (a poll, a window, a batch, a
/// backoff it is about to sleep through), saying how long it expects to be quiet before the next
/// renewal. A component is *wedged* when `grace` has passed beyond that expectation without a renewal:
/// for example a query that hangs on a frozen server, or a call that never returns. A component that
/// waits in a retry backoff is not wedged (it renewed for the backoff); one that stopped for good
/// (a fatal configuration problem) releases its lease and is not wedged either: restarting it would not
/// help, and its health says `down`.
public final class ProgressLeases: Sendable {
    /// How long past its expected renewal a component may stay silent before it counts as wedged.
    public static let defaultGrace: Duration = .seconds(120)

    private struct State {
        var grace: Duration
        var deadlines: [String: ContinuousClock.Instant] = [:]
    }

    private let state: NIOLockedValueBox<State>

    public init(grace: Duration = ProgressLeases.defaultGrace) {
        state = NIOLockedValueBox(State(grace: grace))
    }

    public var grace: Duration {
        get { state.withLockedValue { $0.grace } }
        set { state.withLockedValue { $0.grace = newValue } }
    }

    /// The component made progress and expects to renew again within `expectedWait` (plus the grace).
    public func renew(_ component: String, expectingNextWithin expectedWait: Duration = .zero) {
        let now = ContinuousClock.now
        state.withLockedValue { $0.deadlines[component] = now + expectedWait + $0.grace }
    }

    /// The component no longer reports progress (it ended, or stopped for a reason a restart cannot fix).
    public func release(_ component: String) {
        state.withLockedValue { _ = $0.deadlines.removeValue(forKey: component) }
    }

    /// Components past their deadline at `now`, with how long past it they are.
    public func wedged(at now: ContinuousClock.Instant = .now) -> [String: Duration] {
        state.withLockedValue { state in
            state.deadlines.compactMapValues { deadline in now > deadline ? now - deadline : nil }
        }
    }

    /// Components holding a lease.
    public var components: Set<String> { state.withLockedValue { Set($0.deadlines.keys) } }
}
