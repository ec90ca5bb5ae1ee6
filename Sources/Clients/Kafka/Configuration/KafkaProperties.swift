/// librdkafka configuration properties in the order they are applied, with secrets marked so that
/// `description` (what gets logged) never shows them.
public struct KafkaProperties: Sendable, CustomStringConvertible, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var isSecret: Bool
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Sets `key` (replacing an earlier value in place).
    public mutating func set(_ key: String, _ value: String, secret: Bool = false) {
        let isSecret = secret || Self.looksSecret(key)
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index] = Entry(key: key, value: value, isSecret: isSecret)
        } else {
            entries.append(Entry(key: key, value: value, isSecret: isSecret))
        }
    }

    public subscript(key: String) -> String? {
        entries.first(where: { $0.key == key })?.value
    }

    /// `key=value` lines with secrets redacted: safe to log.
    public var description: String {
        entries.map { "\($0.key)=\($0.isSecret ? "<redacted>" : $0.value)" }.joined(separator: ", ")
    }

    /// Property names that hold credentials in librdkafka: never logged even when the caller forgot
    /// to mark them secret.
    static func looksSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return lowered.contains("password") || lowered.contains("secret") || lowered.hasSuffix(".key.pem")
            || lowered == "sasl.oauthbearer.config" || lowered == "ssl.key.pem"
    }
}

extension KafkaProperties {
    /// Sets a property the client depends on for correctness. Throws when the caller's additional
    /// properties asked for a different value, instead of silently overriding either.
    mutating func require(_ key: String, _ value: String, because reason: String) throws {
        if let existing = self[key], existing.lowercased() != value.lowercased() {
            throw KafkaError(
                code: .configuration,
                message: "\(key)=\(existing) is not allowed: Sluice needs \(key)=\(value) because \(reason). Remove it from the additional properties."
            )
        }
        set(key, value)
    }
}
