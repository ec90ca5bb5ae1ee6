/// Names of the Kafka topics one source connector writes, from its `topic.prefix`:
///
/// | what | topic |
/// |---|---|
/// | row changes of a table | `<prefix>.<database>.<schema>.<table>` |
/// | transaction BEGIN/END markers | `<prefix>.transaction` |
/// | schema changes | `<prefix>` |
/// | heartbeats | `__sluice-heartbeat.<prefix>` |
/// | the source's stored positions (compacted) | `__sluice-offsets.<prefix>` |
///
/// Characters Kafka does not allow in topic names (anything but ASCII letters, digits, `.`, `_`, `-`)
/// become `_`, as Debezium does.
public struct TopicNamer: Hashable, Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func dataTopic(_ table: TableID) -> String {
        Self.sanitize("\(prefix).\(table.database).\(table.schema).\(table.table)")
    }

    public var transactionTopic: String { Self.sanitize("\(prefix).transaction") }
    public var schemaChangeTopic: String { Self.sanitize(prefix) }
    public var heartbeatTopic: String { Self.sanitize("__sluice-heartbeat.\(prefix)") }
    public var offsetsTopic: String { Self.sanitize("__sluice-offsets.\(prefix)") }
    /// The consumer group every running source of this prefix is a member of (it subscribes to
    /// `offsetsTopic` and reads nothing): `sluice offsets reset` refuses while it has members.
    public var sourceLivenessGroup: String { Self.sanitize("__sluice-source.\(prefix)") }

    /// Kafka's limit on topic-name length.
    public static let maximumLength = 249

    public static func sanitize(_ name: String) -> String {
        // Nearly every name is already valid (the source names a topic for every event).
        if name.utf8.allSatisfy({ b in
            (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 46 || b == 95 || b == 45
        }) { return name }
        return String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": scalar
            default: "_"
            }
        }))
    }
}
