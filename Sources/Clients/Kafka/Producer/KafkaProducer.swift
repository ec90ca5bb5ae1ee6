import CRdKafka
import Logging
import NIOConcurrencyHelpers

/// An idempotent Kafka producer (`enable.idempotence=true`, `acks=all`).
///
/// - `send(…)` enqueues a message and waits for the broker's acknowledgement (its `DeliveryReport`).
/// - `enqueue(…)` returns once librdkafka accepted the message, with a `DeliveryTicket`;
///   `waitForDeliveries(through:)` waits until that message and every one enqueued before it are
///   acknowledged (or throws the first failure) — what a source needs before storing its position.
/// - When librdkafka's local queue is full, both wait (without blocking a thread) and retry.
/// - `shutdown(flushTimeout:)` flushes what is queued and releases the client; call it before the
///   producer goes away (dropping it without shutdown still frees everything, less gracefully).
///
/// Whoever waits (`send`, `waitForDeliveries`) has librdkafka send what lingers at once, so `linger.ms`
/// fills batches without delaying an awaited acknowledgement.
///
/// Delivery reports arrive through librdkafka's `dr_msg_cb` on a dedicated poll thread; each message's
/// opaque is its sequence number, resolved through the state machine (no per-message allocation).
public final class KafkaProducer: Sendable {
    public let configuration: KafkaProducerConfiguration
    private let client: RDKafkaClient
    private let state: NIOLockedValueBox<KafkaProducerStateMachine>
    private let logger: Logger
    /// The effective `linger.ms` (a pass-through property may override `configuration.linger`).
    private let lingerMilliseconds: Int32

    /// Creates the producer and starts its delivery-report thread. Throws a `KafkaError` with code
    /// `.configuration` for a bad property, `.libraryVersion` when librdkafka is older than 2.2.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        let properties = try configuration.properties()
        let state = NIOLockedValueBox(KafkaProducerStateMachine())
        let context = RDKafkaContext(
            logger: logger,
            deliveryHandler: { id, result in
                Self.handleDelivery(state: state, sequenceNumber: UInt64(id), result: result)
            }
        )
        self.configuration = configuration
        self.lingerMilliseconds = max(1, properties["linger.ms"].flatMap { Int32($0) } ?? configuration.linger.milliseconds)
        self.state = state
        self.logger = logger
        self.client = try RDKafkaClient.make(kind: .producer, properties: properties, context: context)
        self.client.startPollLoop(interval: configuration.pollInterval)
        logger.debug("Kafka producer created", metadata: [KafkaLoggingKeys.client: "\(client.name)"])
    }

    // MARK: Sending

    /// Enqueues a message and waits until the broker acknowledged it.
    ///
    /// - Parameters:
    ///   - value: the payload; `nil` produces a tombstone (null value).
    ///   - partition: a fixed partition, or `nil` for the partitioner (by key hash).
    /// - Throws: `KafkaError` with code `.delivery` when the broker did not store it (see
    ///   `isRetriable`), `.produce` when it could not be enqueued, `.shutdown` after `shutdown`.
    @discardableResult
    public func send(
        topic: String,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader] = [],
        partition: Int32? = nil
    ) async throws -> DeliveryReport {
        let sequenceNumber = try await produce(topic: topic, key: key, value: value, headers: headers, partition: partition, observed: true)
        await expedite()
        // Not cancellable: once enqueued the message will be delivered or fail; the report is the answer.
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<DeliveryReport, any Error>) in
            let action = state.withLockedValue { $0.await(sequenceNumber, continuation: continuation) }
            if case let .resume(result) = action {
                continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
    }

    /// Enqueues a message and returns without waiting for the broker; a failure is reported by
    /// `waitForDeliveries(through:)` (and logged).
    @discardableResult
    public func enqueue(
        topic: String,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader] = [],
        partition: Int32? = nil
    ) async throws -> DeliveryTicket {
        let sequenceNumber = try await produce(topic: topic, key: key, value: value, headers: headers, partition: partition, observed: false)
        return DeliveryTicket(sequenceNumber: sequenceNumber)
    }

    /// Waits until the message of `ticket` and every message enqueued before it have been
    /// acknowledged. Throws the earliest delivery failure among them, if any (a failure is sticky:
    /// later waits through it throw it too, so a position past a lost message is never stored).
    public func waitForDeliveries(through ticket: DeliveryTicket) async throws {
        if !state.withLockedValue({ $0.isSettled(through: ticket.sequenceNumber) }) { await expedite() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let action = state.withLockedValue { $0.waitForDeliveries(through: ticket.sequenceNumber, continuation: continuation) }
            if case let .resume(result) = action {
                continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
    }

    /// Waits until everything enqueued so far has been acknowledged (see `waitForDeliveries(through:)`).
    public func waitForAllDeliveries() async throws {
        let last = state.withLockedValue { $0.lastSequenceNumber }
        guard last > 0 else { return }
        try await waitForDeliveries(through: DeliveryTicket(sequenceNumber: last))
    }

    /// Messages enqueued whose delivery report has not arrived.
    public var outstandingCount: Int {
        state.withLockedValue { $0.outstandingCount }
    }

    /// Fetches the metadata of `topics` now (on the producer's own thread), so that the first message
    /// to each is sent at once: librdkafka holds a message to a topic it first hears of in a produce
    /// call until its next topic scan learns the partitions, up to a second later (measured with
    /// librdkafka 2.8: 986 ms for the first message to such a topic, 6 ms after this lookup). A topic
    /// whose lookup fails is only logged: its first message waits for the scan, as without this call.
    /// `timeout` bounds all the lookups together (with the broker down, each would otherwise wait it out,
    /// and a stop request waits for this call).
    public func learnTopics(_ topics: [String], timeout: Duration = .seconds(10)) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let failed: [String] = (try? await client.runBlocking { handle in
            var failed: [String] = []
            for name in topics {
                let remaining = Int32(clamping: (deadline - clock.now).milliseconds)
                guard remaining > 0, let topic = rd_kafka_topic_new(handle, name, nil) else { failed.append(name); continue }
                var metadata: UnsafePointer<rd_kafka_metadata>?
                if rd_kafka_metadata(handle, 0, topic, &metadata, remaining) != RD_KAFKA_RESP_ERR_NO_ERROR { failed.append(name) }
                if let metadata { rd_kafka_metadata_destroy(metadata) }
                rd_kafka_topic_destroy(topic)
            }
            return failed
        }) ?? topics
        if !failed.isEmpty {
            logger.debug("Kafka producer: no metadata yet for \(failed.joined(separator: ", ")); their first messages wait for librdkafka's topic scan",
                         metadata: [KafkaLoggingKeys.client: "\(client.name)"])
        }
    }

    // MARK: Flush and shutdown

    /// Waits (on the producer's own thread) until librdkafka has no queued or in-flight message.
    /// Throws `.timeout` if some remain after `timeout`.
    public func flush(timeout: Duration) async throws {
        let milliseconds = timeout.milliseconds
        let result = try await client.runBlocking { handle in rd_kafka_flush(handle, milliseconds).rawValue }
        let error = rd_kafka_resp_err_t(rawValue: result)
        if error == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw KafkaError.rdKafka(.timeout, error, message: "\(rd_kafka_outq_len(client.handle.pointer)) message(s) were still not acknowledged after \(timeout); is the broker reachable?")
        } else if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.rdKafka(.produce, error, message: "flushing the producer failed.")
        }
    }

    /// Flushes (up to `flushTimeout`), then purges what is left, fails every message still without
    /// a report with `.shutdown`, and stops the producer's threads. Later sends throw `.shutdown`.
    public func shutdown(flushTimeout: Duration = .seconds(10)) async {
        do {
            try await flush(timeout: flushTimeout)
        } catch {
            logger.warning("Kafka producer shutdown: \(error)", metadata: [KafkaLoggingKeys.client: "\(client.name)"])
            // Purged messages get a delivery report with _PURGE_QUEUE/_PURGE_INFLIGHT, served by the poll below.
            _ = try? await client.runBlocking { handle in
                rd_kafka_purge(handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
                rd_kafka_poll(handle, 100)
                return 0
            }
        }
        await client.close()
        let failed = state.withLockedValue { $0.close(KafkaError.shutdown("producing")) }
        for entry in failed {
            entry.continuation?.resume(throwing: KafkaError.shutdown("producing"))
            entry.waiter?.resume(throwing: KafkaError.shutdown("producing"))
        }
        logger.debug("Kafka producer shut down", metadata: [KafkaLoggingKeys.client: "\(client.name)"])
    }

    // MARK: Private

    /// Someone waits for a report: sends what lingers at once instead of after `linger.ms`
    /// (`rd_kafka_flush` ignores the linger while it runs). Runs on the producer's own thread, for at
    /// most `linger` (by then librdkafka sends the waited-for messages anyway), so a long linger fills
    /// batches while a window streams without delaying the acknowledgement its end waits for.
    private func expedite() async {
        let milliseconds = lingerMilliseconds
        _ = try? await client.runBlocking { handle in rd_kafka_flush(handle, milliseconds).rawValue }
    }

    private func produce(
        topic: String,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader],
        partition: Int32?,
        observed: Bool
    ) async throws -> UInt64 {
        let sequenceNumber = try state.withLockedValue { try $0.reserve(observed: observed) }
        var backoff = Duration.milliseconds(1)
        while true {
            let error = enqueueOnce(topic: topic, key: key, value: value, headers: headers, partition: partition, sequenceNumber: sequenceNumber)
            if error == RD_KAFKA_RESP_ERR_NO_ERROR { return sequenceNumber }
            if error == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                // Backpressure: the poll thread drains the queue as reports arrive; wait and retry.
                do {
                    try await Task.sleep(for: backoff)
                } catch {
                    failEnqueue(sequenceNumber, KafkaError(code: .produce, message: "cancelled while waiting for room in the producer queue."))
                    throw error
                }
                backoff = min(backoff * 2, .milliseconds(50))
                continue
            }
            let kafkaError = KafkaError.rdKafka(
                .produce, error,
                message: error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                    ? "the message to \(topic) is larger than message.max.bytes."
                    : "could not enqueue a message to \(topic)."
            )
            failEnqueue(sequenceNumber, kafkaError)
            throw kafkaError
        }
    }

    private func failEnqueue(_ sequenceNumber: UInt64, _ error: KafkaError) {
        let released = state.withLockedValue { $0.enqueueFailed(sequenceNumber, error: error) }
        for (continuation, result) in released { continuation.resume(with: result.mapError { $0 as any Error }) }
    }

    private func enqueueOnce(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?, sequenceNumber: UInt64) -> rd_kafka_resp_err_t {
        let handle = client.handle.pointer
        let opaque = UnsafeMutableRawPointer(bitPattern: UInt(sequenceNumber))
        let rdHeaders: OpaquePointer? = headers.isEmpty ? nil : Self.makeHeaders(headers)
        let error = withOptionalBytes(key) { keyPointer, keyCount in
            withOptionalBytes(value) { valuePointer, valueCount in
                sluice_rd_kafka_produce(
                    handle, topic, partition ?? RD_KAFKA_PARTITION_UA,
                    keyPointer, keyCount, valuePointer, valueCount,
                    rdHeaders, opaque
                )
            }
        }
        if error != RD_KAFKA_RESP_ERR_NO_ERROR, let rdHeaders {
            rd_kafka_headers_destroy(rdHeaders)  // on failure the headers stay ours
        }
        return error
    }

    private static func makeHeaders(_ headers: [KafkaHeader]) -> OpaquePointer {
        let list = rd_kafka_headers_new(headers.count)!
        for header in headers {
            if let value = header.value {
                value.withUnsafeBytes { bytes in
                    _ = rd_kafka_header_add(list, header.name, -1, bytes.baseAddress, bytes.count)
                }
            } else {
                _ = rd_kafka_header_add(list, header.name, -1, nil, 0)
            }
        }
        return list
    }

    private static func handleDelivery(state: NIOLockedValueBox<KafkaProducerStateMachine>, sequenceNumber: UInt64, result: Result<DeliveryReport, KafkaError>) {
        let completion = state.withLockedValue { $0.delivered(sequenceNumber, result) }
        guard case let .resume(continuation, result, waiters) = completion else { return }
        continuation?.resume(with: result.mapError { $0 as any Error })
        for (waiter, waiterResult) in waiters { waiter.resume(with: waiterResult.mapError { $0 as any Error }) }
    }
}

/// Calls `body` with the bytes of `bytes` (NULL and 0 for nil; a non-NULL pointer for an empty array,
/// so that an empty value is not mistaken for a tombstone).
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    if bytes.isEmpty {
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { body(UnsafeRawPointer($0), 0) }
    }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
