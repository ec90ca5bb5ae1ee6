import CRdKafka

/// Builds an `rd_kafka_conf_t` from properties; librdkafka validates each one.
enum RDKafkaConfig {
    /// A new `rd_kafka_conf_t` (owned by the caller until passed to `rd_kafka_new`).
    /// Throws `KafkaError.Code.configuration` with librdkafka's explanation for the first property it refuses.
    static func make(_ properties: KafkaProperties) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for entry in properties.entries {
            let result = rd_kafka_conf_set(conf, entry.key, entry.value, &errorBuffer, errorBuffer.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let explanation = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let shown = entry.isSecret ? "<redacted>" : entry.value
                let kind = result == RD_KAFKA_CONF_UNKNOWN ? "unknown Kafka property" : "invalid value for Kafka property"
                throw KafkaError(
                    code: .configuration,
                    message: "\(kind) \(entry.key)=\(shown): fix or remove it (librdkafka's properties: CONFIGURATION.md of librdkafka \(KafkaLibrary.versionString)).",
                    underlyingDescription: explanation
                )
            }
        }
        return conf
    }
}
