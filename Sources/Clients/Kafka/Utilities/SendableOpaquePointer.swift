/// An `OpaquePointer` that may cross isolation domains.
///
/// `@unchecked Sendable` is safe here because the pointers wrapped are librdkafka handles
/// (`rd_kafka_t`, `rd_kafka_queue_t`) whose API is documented thread-safe, and their lifetime is owned
/// by the one class that created them (`RDKafkaClient`), which outlives every use.
struct SendableOpaquePointer: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }
}
