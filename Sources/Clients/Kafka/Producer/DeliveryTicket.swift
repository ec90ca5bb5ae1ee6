/// Identifies one enqueued message, in enqueue order: a later ticket has a larger `sequenceNumber`.
/// Give it to `KafkaProducer.waitForDeliveries(through:)` to wait until the broker acknowledged it
/// and every message enqueued before it.
public struct DeliveryTicket: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let sequenceNumber: UInt64

    init(sequenceNumber: UInt64) {
        self.sequenceNumber = sequenceNumber
    }

    public static func < (lhs: DeliveryTicket, rhs: DeliveryTicket) -> Bool {
        lhs.sequenceNumber < rhs.sequenceNumber
    }

    public var description: String { "#\(sequenceNumber)" }
}
