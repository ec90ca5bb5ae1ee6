/// A credential (a password, a key): the one secret type of Sluice, for the Kafka client's SASL password
/// and every secret a connector file holds (Core's configurations). Its `description` never shows the
/// value, so it can sit in a configuration struct that gets logged.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "********" }
    public var debugDescription: String { "Secret(********)" }
}
