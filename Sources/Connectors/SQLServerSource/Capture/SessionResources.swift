import SluiceKafka
import SluiceSQLServer

/// What one connected session holds: the control connection, the producer and admin client, the
/// event publisher, and the extra reader connections (one per capture instance read side by side).
struct SessionResources {
    let connection: SQLServerConnection
    let producer: KafkaProducer
    let publisher: EventPublisher
    let admin: KafkaAdminClient
    /// Extra connections for reading several change tables at once, one per capture instance.
    var readers: [String: SQLServerConnection] = [:]
}
