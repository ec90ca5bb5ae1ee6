import SluiceKafka

/// The headers a dead-lettered message carries (the original key and value are kept as they were).
public enum DeadLetterHeaders {
    public static let error = "sluice.error"
    public static let topic = "sluice.topic"
    public static let partition = "sluice.partition"
    public static let offset = "sluice.offset"

    public static func make(for message: KafkaMessage, error: String) -> [KafkaHeader] {
        message.headers + [
            KafkaHeader(name: Self.error, string: error),
            KafkaHeader(name: Self.topic, string: message.topic),
            KafkaHeader(name: Self.partition, string: String(message.partition)),
            KafkaHeader(name: Self.offset, string: String(message.offset)),
        ]
    }
}
