import CRdKafka
import Logging

// librdkafka's callbacks. They are plain `@convention(c)` functions at file scope on purpose: a
// callback formed inside actor-isolated code carries that isolation, and crashed (SIGILL) when
// librdkafka called it from one of its own threads. State arrives through the conf opaque
// (`RDKafkaContext`). All of these run on the thread that calls `rd_kafka_poll`/`rd_kafka_consumer_poll`
// (logs too: `log.queue=true` and `rd_kafka_set_log_queue(rk, nil)`), except where noted.

/// `log_cb`: librdkafka's syslog-style levels mapped onto swift-log.
func rdKafkaLogCallback(_ handle: OpaquePointer?, _ level: Int32, _ facility: UnsafePointer<CChar>?, _ message: UnsafePointer<CChar>?) {
    guard let handle, let context = RDKafkaContext.from(rd_kafka_opaque(handle)) else { return }
    let swiftLevel = RDKafkaLogLevel.swiftLogLevel(syslogLevel: level)
    guard swiftLevel >= context.logger.logLevel else { return }
    context.logger.log(
        level: swiftLevel,
        "\(message.map { String(cString: $0) } ?? "")",
        metadata: [
            KafkaLoggingKeys.facility: "\(facility.map { String(cString: $0) } ?? "")",
            KafkaLoggingKeys.client: "\(String(cString: rd_kafka_name(handle)))",
        ]
    )
}

/// `error_cb`: most errors here are informational (librdkafka retries by itself); a fatal one is
/// handed to the client, which fails what is outstanding.
func rdKafkaErrorCallback(_ handle: OpaquePointer?, _ error: Int32, _ reason: UnsafePointer<CChar>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let handle, let context = RDKafkaContext.from(opaque) else { return }
    let code = rd_kafka_resp_err_t(rawValue: error)
    let reasonText = reason.map { String(cString: $0) } ?? ""
    if code == RD_KAFKA_RESP_ERR__FATAL {
        var buffer = [CChar](repeating: 0, count: 512)
        let fatalCode = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        var fatal = KafkaError.rdKafka(.fatal, fatalCode, message: "librdkafka raised a fatal error (\(reasonText)); the client must be recreated.")
        fatal.isFatal = true
        fatal.code = .fatal
        context.logger.critical("\(fatal)")
        context.errorHandler?(fatal)
        return
    }
    context.logger.warning(
        "Kafka client error: \(reasonText)",
        metadata: [KafkaLoggingKeys.error: "\(String(cString: rd_kafka_err2name(code)))", KafkaLoggingKeys.client: "\(String(cString: rd_kafka_name(handle)))"]
    )
}

/// `dr_msg_cb`: one call per produced message. The per-message opaque is the producer's message id.
func rdKafkaDeliveryCallback(_ handle: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let message, let context = RDKafkaContext.from(opaque), let handler = context.deliveryHandler else { return }
    let id = UInt(bitPattern: message.pointee._private)
    let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        handler(id, .success(DeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
    } else {
        let error = KafkaError.rdKafka(.delivery, message.pointee.err, message: "the broker did not acknowledge a message to \(topic): it was not stored.")
        handler(id, .failure(error))
    }
}

/// `rebalance_cb`: hands the event to the consumer, which either records it for the application's
/// hooks (and yields the poll) or, while closing, assigns/unassigns at once.
func rdKafkaRebalanceCallback(_ handle: OpaquePointer?, _ event: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let handle, let partitions else { return }
    guard let context = RDKafkaContext.from(opaque), let handler = context.rebalanceHandler else {
        // No handler: behave like librdkafka without a rebalance_cb.
        if event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS { rd_kafka_assign(handle, partitions) } else { rd_kafka_assign(handle, nil) }
        return
    }
    handler(handle, event, partitions)
}

/// `offset_commit_cb`: results of asynchronous commits (synchronous ones are checked by the caller).
func rdKafkaOffsetCommitCallback(_ handle: OpaquePointer?, _ error: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let context = RDKafkaContext.from(opaque) else { return }
    let failed = RDKafkaTopicPartitionList.elements(offsets).filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
    if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__NO_OFFSET {
        context.logger.warning("Kafka asynchronous offset commit failed", metadata: [KafkaLoggingKeys.error: "\(String(cString: rd_kafka_err2str(error)))"])
    } else if !failed.isEmpty {
        context.logger.warning(
            "Kafka asynchronous offset commit failed for some partitions",
            metadata: [KafkaLoggingKeys.partitions: "\(failed.map { "\($0.partition): \(String(cString: rd_kafka_err2str($0.error)))" })"]
        )
    }
}
