/// A credential (a password, a key). Its `description` never shows the value, so it can sit in a
/// configuration struct that gets logged.
public struct KafkaSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}
