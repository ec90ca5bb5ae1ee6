/// A record header. Kafka allows repeated names and a null value.
public struct KafkaHeader: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }

    public var description: String {
        "\(name)=\(value.map { String(decoding: $0, as: UTF8.self) } ?? "null")"
    }
}
