import Logging
import SluiceCore
import SluiceKafka

extension SinkRuntime {
    /// Dead-letters what cannot be decoded, applies the rest with its offsets, then commits the group offsets.
    /// `built` was decoded from `messageCount` polled messages; topics stopped since are left out (and
    /// what the target prepared is then dropped: it was prepared for the whole batch).
    func process(_ built: Built, messageCount: Int, consumer: KafkaConsumer, producer: KafkaProducer) async throws {
        var prepared = built.prepared
        var built = built.result
        let stopped = Set(stoppedTopics.keys)
        if !stopped.isEmpty {
            let kept = Self.removing(topics: stopped, from: built.batch)
            if kept.records.count != built.batch.records.count || kept.nextOffsets.count != built.batch.nextOffsets.count { prepared = nil }
            built.batch = kept
            built.deadLetters.removeAll { stopped.contains($0.message.topic) }
        }
        metrics.batchSize.record(messageCount)
        for deadLetter in built.deadLetters {
            try await send(toDeadLetterTopic: deadLetter.message, error: deadLetter.error, producer: producer)
        }
        guard !built.batch.nextOffsets.isEmpty else { return }
        let start = ContinuousClock.now
        let (outcome, stored) = try await applyIsolating(built.batch, prepared: prepared, consumer: consumer, producer: producer)
        metrics.applyDuration.recordNanoseconds(Int64((ContinuousClock.now - start).nanoseconds))
        for (table, count) in outcome.applied where count > 0 { metrics.applied(table: table, count: count) }
        if outcome.stale > 0 { metrics.stale.increment(by: outcome.stale) }
        logger.debug("Batch applied", metadata: [
            SinkLoggingKeys.batchSize: "\(messageCount)", "sluice.sink.applied": "\(outcome.applied)", "sluice.sink.stale": "\(outcome.stale)",
        ])
        do {
            try consumer.scheduleCommit(stored)
        } catch {
            logger.warning("Committing the group offsets failed (the sink resumes from the target's offsets; only lag tools see old ones)",
                           metadata: [SinkLoggingKeys.error: "\(error)"])
        }
    }

    /// Applies a batch; on `.recordRejected` applies it event by event and dead-letters the refused
    /// events; on `.tableStopped` stops the topics and applies the rest. Returns the outcome and the
    /// offsets stored in the target. `prepared` is what the target prepared for `batch` as it is.
    func applyIsolating(_ batch: SinkBatch, prepared: SinkPreparedBatch? = nil, consumer: KafkaConsumer, producer: KafkaProducer) async throws
        -> (SinkApplyOutcome, [TopicPartition: Int64])
    {
        var batch = batch
        var prepared = prepared
        while true {
            do {
                return (try await applyRetrying(batch, prepared: prepared), batch.nextOffsets)
            } catch let error as SinkError where error.code == .tableStopped && !error.topics.isEmpty {
                stop(topics: error.topics, reason: error.message, consumer: consumer)
                prepared = nil
                batch = Self.removing(topics: Set(error.topics), from: batch)
                if batch.nextOffsets.isEmpty { return (SinkApplyOutcome(), [:]) }
            } catch let error as SinkError where error.code == .recordRejected || error.code == .tableStopped {
                logger.warning("The target refused the batch; applying it event by event to isolate the refused events",
                               metadata: [SinkLoggingKeys.error: "\(error)", SinkLoggingKeys.batchSize: "\(batch.records.count)"])
                return try await applyOneByOne(batch, consumer: consumer, producer: producer)
            }
        }
    }

    func applyOneByOne(_ batch: SinkBatch, consumer: KafkaConsumer, producer: KafkaProducer) async throws
        -> (SinkApplyOutcome, [TopicPartition: Int64])
    {
        var total = SinkApplyOutcome()
        for record in batch.records where stoppedTopics[record.message.topic] == nil {
            let single = SinkBatch(records: [record], nextOffsets: [record.topicPartition: record.offset + 1])
            do {
                let outcome = try await applyRetrying(single)
                total.applied.merge(outcome.applied, uniquingKeysWith: +)
                total.stale += outcome.stale
            } catch let error as SinkError where error.code == .tableStopped && !error.topics.isEmpty {
                stop(topics: error.topics, reason: error.message, consumer: consumer)
            } catch let error as SinkError where error.code == .recordRejected || error.code == .invalidMessage || error.code == .tableStopped {
                // Its offset is stored by the next apply (or the final offsets-only one below).
                try await send(toDeadLetterTopic: record.message, error: error.description, producer: producer)
            }
        }
        let rest = Self.removing(topics: Set(stoppedTopics.keys), from: SinkBatch(records: [], nextOffsets: batch.nextOffsets))
        if !rest.nextOffsets.isEmpty { _ = try await applyRetrying(rest) }
        return (total, rest.nextOffsets)
    }

    /// Calls the target until it succeeds or fails for a reason retrying cannot fix.
    func applyRetrying(_ batch: SinkBatch, prepared: SinkPreparedBatch? = nil) async throws -> SinkApplyOutcome {
        var backoff = RetryBackoff(initial: configuration.retryBackoffInitial, maximum: configuration.retryBackoffMax)
        while true {
            do {
                let outcome = try await target.apply(batch, prepared: prepared)
                if backoff.attempt > 0 { logger.info("The target accepted the batch again; continuing") }
                return outcome
            } catch let error as SinkError where error.code != .transient {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled || isStopping { throw CancellationError() }
                let delay = backoff.next()
                metrics.retries.increment()
                health?.set(healthComponent, .degraded("the target failed: \(error)"))
                logger.warning("Applying a batch failed; retrying after backoff (nothing of it was committed)", metadata: [
                    SinkLoggingKeys.error: "\(error)", SinkLoggingKeys.retryIn: "\(delay)", SinkLoggingKeys.attempt: "\(backoff.attempt)",
                    SinkLoggingKeys.batchSize: "\(batch.records.count)",
                ])
                health?.progress.renew(healthComponent, expectingNextWithin: delay)
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Sends `message` to the dead-letter topic, retrying while the broker is unreachable.
    func send(toDeadLetterTopic message: KafkaMessage, error: String, producer: KafkaProducer) async throws {
        var backoff = RetryBackoff(initial: configuration.retryBackoffInitial, maximum: configuration.retryBackoffMax)
        while true {
            do {
                try await producer.send(topic: configuration.deadLetterTopic, key: message.key, value: message.value,
                                        headers: DeadLetterHeaders.make(for: message, error: error))
                metrics.deadLetters.increment()
                logger.error("Message sent to the dead-letter topic", metadata: [
                    SinkLoggingKeys.topic: "\(message.topic)", SinkLoggingKeys.partition: "\(message.partition)",
                    SinkLoggingKeys.offset: "\(message.offset)", SinkLoggingKeys.error: "\(error)",
                    "sluice.sink.dead_letter_topic": "\(configuration.deadLetterTopic)",
                ])
                return
            } catch {
                if Task.isCancelled || isStopping { throw CancellationError() }
                let delay = backoff.next()
                metrics.retries.increment()
                logger.warning("Sending to the dead-letter topic failed; retrying after backoff", metadata: [
                    SinkLoggingKeys.error: "\(error)", SinkLoggingKeys.retryIn: "\(delay)",
                ])
                health?.progress.renew(healthComponent, expectingNextWithin: delay)
                try await Task.sleep(for: delay)
            }
        }
    }

    func stop(topics: [String], reason: String, consumer: KafkaConsumer) {
        for topic in topics where state.withLockedValue({ $0.stop(topic: topic, reason: reason) }) {
            logger.error("Topic stopped: its table cannot be written. Nothing more of it is applied or stored until you fix the table and restart the sink.",
                         metadata: [SinkLoggingKeys.topic: "\(topic)", SinkLoggingKeys.error: "\(reason)"])
        }
        let partitions = consumer.assignment.filter { topics.contains($0.topic) }
        if !partitions.isEmpty { try? consumer.pause(Array(partitions)) }
        markHealthy()
    }

    static func removing(topics: Set<String>, from batch: SinkBatch) -> SinkBatch {
        SinkBatch(records: batch.records.filter { !topics.contains($0.message.topic) },
                  nextOffsets: batch.nextOffsets.filter { !topics.contains($0.key.topic) })
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
