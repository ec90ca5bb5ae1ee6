import CRdKafka
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Owns one `rd_kafka_t`, its callback context and the threads that make blocking calls on it, and
/// destroys the handle in `deinit`.
///
/// Blocking librdkafka calls (poll, flush, synchronous commit, close, admin waits) run on this
/// client's own `NIOThreadPool`, never on Swift's cooperative pool. Closures given to `runBlocking`
/// receive the handle and must not capture the client (its `deinit` joins those threads).
final class RDKafkaClient: Sendable {
    enum Kind: Sendable {
        case producer
        case consumer

        var rdKafkaType: rd_kafka_type_t {
            switch self {
            case .producer: RD_KAFKA_PRODUCER
            case .consumer: RD_KAFKA_CONSUMER
            }
        }
    }

    let handle: SendableOpaquePointer
    let context: RDKafkaContext
    let name: String
    private let threadPool: NIOThreadPool
    private let stopPolling = NIOLockedValueBox(false)

    private init(handle: OpaquePointer, context: RDKafkaContext, threads: Int) {
        self.handle = SendableOpaquePointer(handle)
        self.context = context
        self.name = String(cString: rd_kafka_name(handle))
        self.threadPool = NIOThreadPool(numberOfThreads: threads)
        self.threadPool.start()
    }

    deinit {
        stopPolling.withLockedValue { $0 = true }
        // Normally `close()` stopped the threads already and this returns at once; if the owner was
        // dropped without closing, this waits at most one poll interval for the poll loop to end.
        try? threadPool.syncShutdownGracefully()
        rd_kafka_destroy(handle.pointer)
    }

    /// Checks the library version, validates `properties` and creates the handle.
    static func make(kind: Kind, properties: KafkaProperties, context: RDKafkaContext, threads: Int = 2) throws -> RDKafkaClient {
        try KafkaLibrary.checkVersion()
        let conf = try RDKafkaConfig.make(properties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        rd_kafka_conf_set_error_cb(conf, rdKafkaErrorCallback)
        if context.deliveryHandler != nil {
            rd_kafka_conf_set_dr_msg_cb(conf, rdKafkaDeliveryCallback)
        }
        if context.rebalanceHandler != nil {
            rd_kafka_conf_set_rebalance_cb(conf, rdKafkaRebalanceCallback)
            rd_kafka_conf_set_offset_commit_cb(conf, rdKafkaOffsetCommitCallback)
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(kind.rdKafkaType, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            let explanation = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw KafkaError(
                code: .clientCreation,
                message: "could not create the Kafka \(kind) client: check the configuration (\(properties)).",
                underlyingDescription: explanation
            )
        }
        // With log.queue=true, log lines wait on the main queue and are served by whoever polls it.
        rd_kafka_set_log_queue(handle, nil)
        return RDKafkaClient(handle: handle, context: context, threads: threads)
    }

    /// Runs `body` on this client's threads and returns its result.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let handle = self.handle
        do {
            return try await threadPool.runIfActive { try body(handle.pointer) }
        } catch let error as KafkaError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw KafkaError.shutdown("a blocking Kafka call (\(error))")
        }
    }

    /// Serves the main queue (delivery reports, logs, errors) on one of this client's threads until
    /// `close()`. For producers and admin clients; a consumer polls through `rd_kafka_consumer_poll`.
    func startPollLoop(interval: Duration) {
        let handle = self.handle
        let stop = self.stopPolling
        let timeout = max(1, interval.milliseconds)
        threadPool.submit { state in
            guard case .active = state else { return }
            while !stop.withLockedValue({ $0 }) {
                rd_kafka_poll(handle.pointer, timeout)
            }
        }
    }

    /// Stops the poll loop and the threads; waits for them. The handle stays valid until `deinit`.
    func close() async {
        stopPolling.withLockedValue { $0 = true }
        try? await threadPool.shutdownGracefully()
    }
}
