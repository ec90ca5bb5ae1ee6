/// A failure of a sink's target or runtime, classified so the runtime knows what to do with it.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case transient, recordRejected, tableStopped, invalidMessage, configuration
        }

        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The target is unreachable, restarting, or asked for a retry: retry the same batch later.
        public static let transient = Code(.transient)
        /// The target refuses an event's data (constraint violation, bad value): isolate it, dead-letter it.
        public static let recordRejected = Code(.recordRejected)
        /// A table cannot be written any more (e.g. an incompatible type change): stop its topic.
        public static let tableStopped = Code(.tableStopped)
        /// A message is not a usable change event (dead-lettered).
        public static let invalidMessage = Code(.invalidMessage)
        /// The sink is configured wrongly; it cannot start.
        public static let configuration = Code(.configuration)

        public var description: String { backing.rawValue }
    }

    public var code: Code
    /// What happened and how to fix it.
    public var message: String
    /// For `.tableStopped`: the topics to stop.
    public var topics: [String]
    /// The target's or library's own error text, if any.
    public var underlying: String?

    public init(code: Code, message: String, topics: [String] = [], underlying: String? = nil) {
        self.code = code
        self.message = message
        self.topics = topics
        self.underlying = underlying
    }

    public var isRetriable: Bool { code == .transient }

    public var description: String {
        "sink error (\(code)): \(message)" + (underlying.map { " [\($0)]" } ?? "")
    }
}
