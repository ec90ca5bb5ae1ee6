import Foundation
import SluiceCore

/// What the dashboard shows about the `sluice run` pipeline, read from its `/metrics` and `/health/ready`.
public struct PipelineStatus: Sendable {
    public struct Component: Sendable, Hashable {
        public var name: String
        public var status: String
        public var reason: String?
    }

    public var reachable: Bool = false
    public var error: String?
    public var ready: Bool = false
    public var components: [Component] = []
    /// Source events published per second, and sink events applied per second, over the last poll.
    public var sourceEventsPerSecond: Double?
    public var sinkEventsPerSecond: Double?
    public var sourceEventsTotal: Double?
    public var sinkEventsTotal: Double?
    public var millisecondsBehindSource: Double?
    public var polledAt: Date?

    public init() {}

    /// The sum of every sample of `metric` (any labels) in Prometheus text format.
    public static func sum(_ metric: String, in text: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(metric) else { continue }
            let rest = line.dropFirst(metric.count)
            guard rest.first == "{" || rest.first == " " else { continue }
            guard let valueText = line.split(separator: " ").last, let value = Double(valueText) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// Components from `/health/ready`'s JSON.
    public static func components(fromReadiness json: JSONValue) -> [Component] {
        guard let components = json["components"]?.objectValue else { return [] }
        return components.map { Component(name: $0.key, status: $0.value["status"]?.stringValue ?? "?", reason: $0.value["reason"]?.stringValue) }
    }
}
