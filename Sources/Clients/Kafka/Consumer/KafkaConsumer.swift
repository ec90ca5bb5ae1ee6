#if canImport(Glibc)
import Glibc
#endif
import CRdKafka
import struct Foundation.Date
import Logging
import NIOConcurrencyHelpers

/// A consumer-group member with manual offsets (`enable.auto.commit=false`).
///
/// Read with `poll(maxMessages:timeout:)` or the `messages` sequence, from one task. Rebalances are
/// handled in that task: `KafkaRebalanceHooks.onAssign` supplies each new partition's starting
/// offset before any of its messages is returned, `onRevoke` runs before partitions go away. Both
/// eager and cooperative (`cooperative-sticky`, the default) protocols are supported.
///
/// All blocking librdkafka calls (poll, synchronous commit, seek, close) run on the consumer's own
/// threads. `close()` leaves the group cleanly; call it before dropping the consumer, from the
/// polling task or after it stopped polling (a poll in progress ends early when close begins).
public final class KafkaConsumer: Sendable {
    public let configuration: KafkaConsumerConfiguration
    private let client: RDKafkaClient
    private let state: NIOLockedValueBox<KafkaConsumerStateMachine>
    private let hooks: KafkaRebalanceHooks
    private let logger: Logger

    /// Creates the consumer (it joins the group on `subscribe`). Throws `KafkaError` `.configuration`
    /// for a bad property, `.libraryVersion` when librdkafka is older than 2.2.
    public init(configuration: KafkaConsumerConfiguration, hooks: KafkaRebalanceHooks = KafkaRebalanceHooks(), logger: Logger) throws {
        var logger = logger
        logger[metadataKey: KafkaLoggingKeys.group] = "\(configuration.groupID)"
        let properties = try configuration.properties()
        let state = NIOLockedValueBox(KafkaConsumerStateMachine())
        let context = RDKafkaContext(
            logger: logger,
            rebalanceHandler: { handle, event, partitions in
                Self.handleRebalance(state: state, handle: handle, event: event, partitions: partitions)
            }
        )
        self.configuration = configuration
        self.state = state
        self.hooks = hooks
        self.logger = logger
        self.client = try RDKafkaClient.make(kind: .consumer, properties: properties, context: context)
        // Serve logs, errors and rebalances through rd_kafka_consumer_poll.
        rd_kafka_poll_set_consumer(client.handle.pointer)
    }

    deinit {
        // If close() was not called, librdkafka's destroy closes the consumer; rebalance callbacks
        // must then apply at once rather than wait for a poll that will never come.
        _ = state.withLockedValue { $0.beginClose() }
    }

    // MARK: Subscription

    /// Subscribes to `topics` (replacing an earlier subscription). A name starting with `^` is a
    /// regular expression matched against all topics.
    public func subscribe(topics: [String]) throws {
        let list = RDKafkaTopicPartitionList.make(topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_subscribe(client.handle.pointer, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.rdKafka(.consume, error, message: "could not subscribe to \(topics).")
        }
        logger.debug("Kafka consumer subscribed", metadata: [KafkaLoggingKeys.topic: "\(topics)"])
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> {
        state.withLockedValue { $0.assignment }
    }

    // MARK: Reading

    /// Returns up to `maxMessages` messages, waiting at most about `timeout` for the first one
    /// (an empty array when none arrived). Handles pending rebalances first (running the hooks).
    /// Call from one task at a time.
    public func poll(maxMessages: Int = 500, timeout: Duration = .milliseconds(100)) async throws -> [KafkaMessage] {
        try state.withLockedValue { try $0.startPolling() }
        defer { state.withLockedValue { $0.stopPolling() } }

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            try await handlePendingRebalances()
            let remaining = max(Duration.zero, deadline - clock.now)
            let batch = try await client.runBlocking { [state] handle in
                Self.pollBatch(handle: handle, state: state, maxMessages: maxMessages, timeout: remaining)
            }
            for error in batch.errors {
                if error.isFatal { throw error }
                logger.warning("Kafka consumer: \(error)")
            }
            if !batch.messages.isEmpty { return batch.messages }
            let rebalancePending = state.withLockedValue { $0.hasPendingRebalance }
            if !rebalancePending && clock.now >= deadline { return [] }
            if !rebalancePending { continue }
        }
    }

    /// The messages as an async sequence: polls in batches until the consumer is closed or the
    /// iterating task is cancelled. Errors of `poll` end the sequence by throwing.
    public func messages(batchSize: Int = 500, pollTimeout: Duration = .milliseconds(100)) -> KafkaMessageSequence {
        KafkaMessageSequence(consumer: self, batchSize: batchSize, pollTimeout: pollTimeout)
    }

    var isRunning: Bool { state.withLockedValue { $0.isRunning } }

    // MARK: Offsets

    /// Commits `offsets` (per partition, the offset of the NEXT message to read, i.e. last processed
    /// + 1) and waits for the broker. Throws `.commit` with the first partition's error.
    public func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard !offsets.isEmpty else { return }
        let failure: KafkaError? = try await client.runBlocking { handle in
            let list = RDKafkaTopicPartitionList.make(offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let error = rd_kafka_commit(handle, list, 0)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                return KafkaError.rdKafka(.commit, error, message: "committing offsets \(offsets) failed.")
            }
            if let failed = RDKafkaTopicPartitionList.elements(list).first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
                return KafkaError.rdKafka(.commit, failed.error, message: "committing the offset of \(failed.partition) failed.")
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Commits the offset after `message` (it and everything before it in its partition are done).
    public func commit(_ message: KafkaMessage) async throws {
        try await commit([message.topicPartition: message.offset + 1])
    }

    /// Starts committing `offsets` (next offsets to read) without waiting; failures are logged.
    public func scheduleCommit(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        let list = RDKafkaTopicPartitionList.make(offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_commit(client.handle.pointer, list, 1)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.rdKafka(.commit, error, message: "could not start committing offsets \(offsets).")
        }
    }

    /// The group's committed offsets of `partitions` (nil where none is committed).
    public func committedOffsets(for partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws -> [TopicPartition: Int64?] {
        let milliseconds = timeout.milliseconds
        let result: Result<[TopicPartition: Int64?], KafkaError> = try await client.runBlocking { handle in
            let list = RDKafkaTopicPartitionList.make(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let error = rd_kafka_committed(handle, list, milliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return .failure(KafkaError.rdKafka(.commit, error, message: "reading committed offsets failed."))
            }
            var offsets: [TopicPartition: Int64?] = [:]
            for element in RDKafkaTopicPartitionList.elements(list) {
                offsets[element.partition] = element.offset >= 0 ? element.offset : nil
            }
            return .success(offsets)
        }
        return try result.get()
    }

    // MARK: Position control

    /// Moves the read position of assigned partitions: the next message returned for each is the one
    /// at its offset.
    public func seek(_ offsets: [TopicPartition: Int64], timeout: Duration = .seconds(10)) async throws {
        let milliseconds = timeout.milliseconds
        let failure: KafkaError? = try await client.runBlocking { handle in
            let list = RDKafkaTopicPartitionList.make(offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_seek_partitions(handle, list, milliseconds) {
                return KafkaError.rdKafka(.seek, consuming: error, message: "seeking to \(offsets) failed; only assigned partitions can be seeked.")
            }
            if let failed = RDKafkaTopicPartitionList.elements(list).first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
                return KafkaError.rdKafka(.seek, failed.error, message: "seeking \(failed.partition) failed; only assigned partitions can be seeked.")
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Stops fetching from `partitions` (they stay assigned) until `resume`.
    public func pause(_ partitions: [TopicPartition]) throws {
        try changePartitions(partitions, pause: true)
    }

    /// Resumes fetching from paused `partitions`.
    public func resume(_ partitions: [TopicPartition]) throws {
        try changePartitions(partitions, pause: false)
    }

    /// The low and high watermark of `partition` as the broker reports them now (the high
    /// watermark is the offset the next message will get).
    public func watermarks(for partition: TopicPartition, timeout: Duration = .seconds(5)) async throws -> (low: Int64, high: Int64) {
        let milliseconds = timeout.milliseconds
        let result: Result<[Int64], KafkaError> = try await client.runBlocking { handle in
            var low: Int64 = 0
            var high: Int64 = 0
            let error = rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition, &low, &high, milliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return .failure(KafkaError.rdKafka(.consume, error, message: "reading the watermarks of \(partition) failed."))
            }
            return .success([low, high])
        }
        let offsets = try result.get()
        return (offsets[0], offsets[1])
    }

    /// The watermarks librdkafka last saw in fetch responses for `partition` (no request; -1 when unknown).
    public func cachedWatermarks(for partition: TopicPartition) -> (low: Int64, high: Int64) {
        var low: Int64 = -1
        var high: Int64 = -1
        _ = rd_kafka_get_watermark_offsets(client.handle.pointer, partition.topic, partition.partition, &low, &high)
        return (low, high)
    }

    /// The current read position of `partitions` (offset of the next message `poll` returns), nil
    /// where nothing was read yet.
    public func positions(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64?] {
        let list = RDKafkaTopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_position(client.handle.pointer, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.rdKafka(.consume, error, message: "reading positions failed.")
        }
        var positions: [TopicPartition: Int64?] = [:]
        for element in RDKafkaTopicPartitionList.elements(list) {
            positions[element.partition] = element.offset >= 0 ? element.offset : nil
        }
        return positions
    }

    /// Per assigned partition: the number of messages after the current position (from the
    /// committed offset when nothing was read yet). The high watermark is the larger of the one in
    /// the latest fetch response and the one a ListOffsets request returns now (Tansu's ListOffsets
    /// answers the last batch's base offset + 1, its fetch responses are right).
    public func lag(timeout: Duration = .seconds(5)) async throws -> [TopicPartition: Int64] {
        let partitions = assignment.sorted()
        guard !partitions.isEmpty else { return [:] }
        let positions = try positions(for: partitions)
        let committed = try await committedOffsets(for: partitions, timeout: timeout)
        var lags: [TopicPartition: Int64] = [:]
        for partition in partitions {
            let queried = try await watermarks(for: partition, timeout: timeout)
            let cached = cachedWatermarks(for: partition)
            let high = max(queried.high, cached.high)
            let position = (positions[partition] ?? nil) ?? (committed[partition] ?? nil) ?? queried.low
            lags[partition] = max(0, high - position)
        }
        return lags
    }

    // MARK: Closing

    /// Runs the revoke hook for the current assignment, then leaves the group
    /// (`rd_kafka_consumer_close`) and stops the consumer's threads. Idempotent.
    public func close() async {
        guard let closing = state.withLockedValue({ $0.beginClose() }) else { return }
        if !closing.revoke.isEmpty {
            do {
                try await hooks.onRevoke(closing.revoke)
            } catch {
                logger.error("Kafka consumer: the revoke hook failed while closing: \(error)")
            }
        }
        let unapplied = closing.unapplied
        let error = try? await client.runBlocking { [state] handle in
            // Events librdkafka still waits for: apply them without hooks so the close can proceed.
            for event in unapplied {
                _ = Self.applyRebalance(handle: handle, event: event, offsets: [:])
                state.withLockedValue { $0.apply(event) }
            }
            return rd_kafka_consumer_close(handle).rawValue
        }
        if let error, error != RD_KAFKA_RESP_ERR_NO_ERROR.rawValue {
            logger.warning("Kafka consumer close: \(String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: error))))")
        }
        await client.close()
        state.withLockedValue { $0.finishClose() }
        logger.debug("Kafka consumer closed")
    }

    // MARK: Private

    private func changePartitions(_ partitions: [TopicPartition], pause: Bool) throws {
        let list = RDKafkaTopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = pause ? rd_kafka_pause_partitions(client.handle.pointer, list) : rd_kafka_resume_partitions(client.handle.pointer, list)
        let failed = RDKafkaTopicPartitionList.elements(list).first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR })
        if error != RD_KAFKA_RESP_ERR_NO_ERROR || failed != nil {
            throw KafkaError.rdKafka(.partitionControl, failed?.error ?? error, message: "could not \(pause ? "pause" : "resume") \(partitions).")
        }
    }

    /// Runs the hooks for the rebalance events the callback recorded, and applies them.
    private func handlePendingRebalances() async throws {
        while let event = state.withLockedValue({ $0.nextRebalance() }) {
            var metadata: Logger.Metadata = [
                KafkaLoggingKeys.partitions: "\(event.partitions)",
                KafkaLoggingKeys.rebalanceProtocol: "\(event.rebalanceProtocol)",
            ]
            var offsets: [TopicPartition: Int64] = [:]
            var hookError: (any Error)?
            switch event.kind {
            case .assign:
                do {
                    offsets = try await hooks.onAssign(event.partitions)
                } catch {
                    state.withLockedValue { $0.retryLater(event) }
                    throw KafkaError(code: .rebalance, message: "the assign hook failed for \(event.partitions) (\(error)); the partitions stay unassigned and the next poll retries.")
                }
                metadata["kafka.offsets"] = "\(offsets)"
                logger.info("Kafka partitions assigned", metadata: metadata)
            case .revoke:
                do {
                    try await hooks.onRevoke(event.partitions)
                } catch {
                    hookError = error
                }
                logger.info("Kafka partitions revoked", metadata: metadata)
            }
            let failure: KafkaError? = try await client.runBlocking { [state, offsets] handle in
                let failure = Self.applyRebalance(handle: handle, event: event, offsets: offsets)
                state.withLockedValue { $0.apply(event) }
                return failure
            }
            if let failure { throw failure }
            if let hookError {
                throw KafkaError(code: .rebalance, message: "the revoke hook failed for \(event.partitions) (\(hookError)); the partitions were released.")
            }
        }
    }

    /// Assigns or unassigns in librdkafka, as the rebalance protocol requires.
    private static func applyRebalance(handle: OpaquePointer, event: KafkaConsumerStateMachine.RebalanceEvent, offsets: [TopicPartition: Int64]) -> KafkaError? {
        switch (event.kind, event.rebalanceProtocol) {
        case (.assign, .cooperative):
            let list = RDKafkaTopicPartitionList.make(event.partitions, offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return rd_kafka_incremental_assign(handle, list).map { KafkaError.rdKafka(.rebalance, consuming: $0, message: "assigning \(event.partitions) failed.") }
        case (.revoke, .cooperative):
            let list = RDKafkaTopicPartitionList.make(event.partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return rd_kafka_incremental_unassign(handle, list).map { KafkaError.rdKafka(.rebalance, consuming: $0, message: "revoking \(event.partitions) failed.") }
        case (.assign, .eager):
            let list = RDKafkaTopicPartitionList.make(event.partitions, offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let error = rd_kafka_assign(handle, list)
            return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.rdKafka(.rebalance, error, message: "assigning \(event.partitions) failed.")
        case (.revoke, .eager):
            let error = rd_kafka_assign(handle, nil)
            return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.rdKafka(.rebalance, error, message: "revoking \(event.partitions) failed.")
        }
    }

    /// librdkafka's rebalance callback (on the poll thread, inside `rd_kafka_consumer_poll` or `_close`).
    private static func handleRebalance(
        state: NIOLockedValueBox<KafkaConsumerStateMachine>,
        handle: OpaquePointer,
        event: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let rebalanceProtocol: KafkaConsumerStateMachine.RebalanceProtocol =
            rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE" ? .cooperative : .eager
        // Anything but an assignment (a revoke, or a rebalance error) gives the partitions up.
        let kind: KafkaConsumerStateMachine.RebalanceEvent.Kind = event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? .assign : .revoke
        let rebalance = KafkaConsumerStateMachine.RebalanceEvent(
            kind: kind,
            partitions: RDKafkaTopicPartitionList.partitions(partitions),
            rebalanceProtocol: rebalanceProtocol
        )
        switch state.withLockedValue({ $0.rebalanceCallback(rebalance) }) {
        case .deferToApplication:
            rd_kafka_yield(handle)
        case .applyNow:
            _ = applyRebalance(handle: handle, event: rebalance, offsets: [:])
        }
    }

    private struct Batch: Sendable {
        var messages: [KafkaMessage] = []
        var errors: [KafkaError] = []
    }

    /// Polls until `maxMessages`, the timeout, or a rebalance event (on the consumer's thread).
    private static func pollBatch(handle: OpaquePointer, state: NIOLockedValueBox<KafkaConsumerStateMachine>, maxMessages: Int, timeout: Duration) -> Batch {
        var batch = Batch()
        batch.messages.reserveCapacity(min(maxMessages, 1024))
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var topicName = TopicNameCache()
        while batch.messages.count < maxMessages {
            // Stop at a rebalance (the polling task runs the hooks first) or when close() began.
            if state.withLockedValue({ $0.hasPendingRebalance || !$0.isRunning }) { break }
            let remaining = deadline - clock.now
            // After the first message, only take what is already there. The wait rounds up: truncated,
            // the last millisecond before the deadline was a busy loop of zero-wait polls (4 ms of CPU a
            // second in an idle sink polling every 250 ms, perf of benchmarks/warehouse).
            let waitMilliseconds: Int32 = batch.messages.isEmpty ? Self.waitMilliseconds(remaining) : 0
            guard let message = rd_kafka_consumer_poll(handle, waitMilliseconds) else {
                if batch.messages.isEmpty && clock.now < deadline && !state.withLockedValue({ $0.hasPendingRebalance }) { continue }
                break
            }
            defer { rd_kafka_message_destroy(message) }
            let error = message.pointee.err
            if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                batch.messages.append(convert(message, topicName: &topicName))
            } else if error != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                var kafkaError = KafkaError.rdKafka(.consume, error, message: "consuming failed: \(errorText(message)).")
                if error == RD_KAFKA_RESP_ERR__FATAL || rd_kafka_fatal_error(handle, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                    kafkaError.isFatal = true
                    kafkaError.code = .fatal
                }
                batch.errors.append(kafkaError)
                if kafkaError.isFatal { break }
            }
        }
        return batch
    }

    /// `remaining` in whole milliseconds for `rd_kafka_consumer_poll`, rounded up (0 when nothing remains).
    static func waitMilliseconds(_ remaining: Duration) -> Int32 {
        guard remaining > .zero else { return 0 }
        let whole = remaining.milliseconds
        return Duration.milliseconds(Int64(whole)) < remaining && whole < Int32.max ? whole + 1 : whole
    }

    private static func errorText(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> String {
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) }
        let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
        return topic.map { "\($0): \(text)" } ?? text
    }

    /// The topic name of the messages converted last: they come in runs of one topic, and building the
    /// `String` (a heap allocation for names over 15 bytes) for each was a measurable share of the sink.
    private struct TopicNameCache {
        /// Empty until the first message: no topic has an empty name.
        var name = ""

        mutating func name(_ topic: UnsafePointer<CChar>) -> String {
            // A native `String` is stored NUL-terminated: `withCString` lends its bytes without a copy.
            if !name.withCString({ strcmp($0, topic) == 0 }) { name = String(cString: topic) }
            return name
        }
    }

    private static func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topicName: inout TopicNameCache) -> KafkaMessage {
        let raw = message.pointee
        let key = raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) }
        let value = raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) }
        var headers: [KafkaHeader] = []
        var rdHeaders: OpaquePointer?
        if rd_kafka_message_headers(message, &rdHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let rdHeaders {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(rdHeaders, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(
                    name: name.map { String(cString: $0) } ?? "",
                    value: headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                ))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        let timestamp = timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || milliseconds < 0
            ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return KafkaMessage(
            topic: raw.rkt.map { topicName.name(rd_kafka_topic_name($0)) } ?? "",
            partition: raw.partition,
            offset: raw.offset,
            key: key,
            value: value,
            headers: headers,
            timestamp: timestamp
        )
    }
}
