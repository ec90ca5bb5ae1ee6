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
    /// `sluice_sink_consumer_lag` summed over partitions: connector → topic → messages behind.
    public var consumerLag: [String: [String: Double]] = [:]
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

    /// Samples of `metric` with their labels (`name{a="x",b="y"} 3`), in Prometheus text format.
    public static func samples(_ metric: String, in text: String) -> [(labels: [String: String], value: Double)] {
        var out: [(labels: [String: String], value: Double)] = []
        for line in text.split(separator: "\n") where line.hasPrefix(metric + "{") {
            guard let close = line.lastIndex(of: "}"), let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) else { continue }
            var labels: [String: String] = [:]
            let body = line[line.index(line.startIndex, offsetBy: metric.count + 1)..<close]
            for pair in body.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                labels[String(kv[0])] = String(kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            }
            out.append((labels, value))
        }
        return out
    }

    /// Consumer lag per connector and topic (partitions summed).
    public static func consumerLag(in text: String) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for sample in samples("sluice_sink_consumer_lag", in: text) {
            guard let connector = sample.labels["connector"], let topic = sample.labels["topic"] else { continue }
            out[connector, default: [:]][topic, default: 0] += sample.value
        }
        return out
    }

    /// Components from `/health/ready`'s JSON.
    public static func components(fromReadiness json: JSONValue) -> [Component] {
        guard let components = json["components"]?.objectValue else { return [] }
        return components.map { Component(name: $0.key, status: $0.value["status"]?.stringValue ?? "?", reason: $0.value["reason"]?.stringValue) }
    }
}
