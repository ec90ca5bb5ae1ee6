import CRdKafka
import Logging

/// What librdkafka's C callbacks reach: one per `rd_kafka_t`, passed as the conf opaque
/// (`rd_kafka_conf_set_opaque`) and owned by the `RDKafkaClient` that owns the handle, which destroys
/// the handle before releasing it, so a callback never sees a freed context.
///
/// The handlers are set once at creation and capture the owning client's state box, never the client
/// itself (no reference cycle; the client's `deinit` still runs).
final class RDKafkaContext: Sendable {
    typealias DeliveryHandler = @Sendable (_ messageID: UInt, _ result: Result<DeliveryReport, KafkaError>) -> Void
    /// Called on the thread that polls, inside `rd_kafka_consumer_poll` or `rd_kafka_consumer_close`.
    typealias RebalanceHandler = @Sendable (_ handle: OpaquePointer, _ event: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void
    typealias ErrorHandler = @Sendable (KafkaError) -> Void

    let logger: Logger
    let deliveryHandler: DeliveryHandler?
    let rebalanceHandler: RebalanceHandler?
    let errorHandler: ErrorHandler?

    init(logger: Logger, deliveryHandler: DeliveryHandler? = nil, rebalanceHandler: RebalanceHandler? = nil, errorHandler: ErrorHandler? = nil) {
        self.logger = logger
        self.deliveryHandler = deliveryHandler
        self.rebalanceHandler = rebalanceHandler
        self.errorHandler = errorHandler
    }

    /// The context behind a conf opaque pointer, without changing its retain count.
    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaContext? {
        guard let opaque else { return nil }
        return Unmanaged<RDKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}
