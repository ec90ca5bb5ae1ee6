import NIOConcurrencyHelpers

/// The health of a process's components (the source per database, each sink, the broker connection…),
/// served on `/health/live` and `/health/ready`.
///
/// A process is live while it runs. It is ready when it has components and every one is `up`; `starting`, `degraded`
/// (working around a problem an operator should see, e.g. SQL Server Agent not harvesting) and `down`
/// make it not ready, with the reason in the response body.
public final class HealthRegistry: Sendable {
    public enum Status: Hashable, Sendable {
        case starting
        case up
        case degraded(String)
        case down(String)

        public var name: String {
            switch self {
            case .starting: "starting"
            case .up: "up"
            case .degraded: "degraded"
            case .down: "down"
            }
        }

        public var reason: String? {
            switch self {
            case .degraded(let r), .down(let r): r
            case .starting, .up: nil
            }
        }
    }

    private let components = NIOLockedValueBox<[String: Status]>([:])

    /// The components' progress heartbeats (what tells a wedged component from an idle one).
    public let progress = ProgressLeases()

    public init() {}

    public func set(_ component: String, _ status: Status) {
        components.withLockedValue { $0[component] = status }
    }

    public func remove(_ component: String) {
        components.withLockedValue { _ = $0.removeValue(forKey: component) }
    }

    public var snapshot: [String: Status] { components.withLockedValue { $0 } }

    /// Ready once at least one component reported and every component is up.
    public var isReady: Bool {
        let components = snapshot
        return !components.isEmpty && components.values.allSatisfy { $0 == .up }
    }

    /// `{"status": "up|not_ready", "components": {"name": {"status": …, "reason": …}}}`
    public var readinessJSON: JSONValue {
        let components = snapshot.sorted { $0.key < $1.key }.map { name, status -> (key: String, value: JSONValue) in
            var o: JSONObject = ["status": .string(status.name)]
            if let reason = status.reason { o["reason"] = .string(reason) }
            return (key: name, value: .object(o))
        }
        return .object(["status": .string(isReady ? "up" : "not_ready"), "components": .object(JSONObject(components))])
    }
}
