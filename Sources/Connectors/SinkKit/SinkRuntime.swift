import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import SluiceCore
import SluiceKafka

/// The consumer runtime every sink shares: a `Service` that consumes change events in a consumer group
/// and hands them, batch by batch, to a `SinkTarget` that applies them and stores the offsets in the
/// target database in one transaction.
///
/// - On assignment the partitions start at the offsets the target stored (`ConsumerOffsetStore`), falling
///   back to the group's committed offset, else the earliest.
/// - Each polled batch is decoded (`SinkBatchBuilder`); tombstones only advance offsets; undecodable
///   messages go to the dead-letter topic with `sluice.error`, `sluice.topic`, `sluice.partition` and
///   `sluice.offset` headers, and processing goes on.
/// - Transient failures (target or broker down) are retried with capped exponential backoff, logged
///   each time; the service never exits because of them. A batch the target rejects is retried event by
///   event so only the refused events are dead-lettered. A table that cannot be written stops its topic.
/// - After the target committed, the group's offsets are committed too (for lag tools; the target's
///   copy is the one the sink resumes from).
/// - Graceful shutdown finishes the batch in progress; cancellation abandons it (the target transaction
///   rolls back, the batch is re-read on restart).
public final class SinkRuntime: Service, Sendable {
    public let configuration: SinkRuntimeConfiguration
    let target: any SinkTarget
    let health: HealthRegistry?
    let logger: Logger
    let metrics: SinkMetrics
    let state = NIOLockedValueBox(SinkRuntimeState())

    public init(configuration: SinkRuntimeConfiguration, target: any SinkTarget, health: HealthRegistry? = nil, logger: Logger) {
        var logger = logger
        logger[metadataKey: SinkLoggingKeys.connector] = "\(configuration.connectorName)"
        self.configuration = configuration
        self.target = target
        self.health = health
        self.logger = logger
        self.metrics = SinkMetrics(connector: configuration.connectorName)
    }

    /// The name of this sink's component in the `HealthRegistry`.
    public var healthComponent: String { "sink.\(configuration.connectorName)" }

    /// Topics stopped because their table cannot be written, with the reason.
    public var stoppedTopics: [String: String] { state.withLockedValue { $0.stoppedTopics } }

    var isStopping: Bool { state.withLockedValue { $0.isStopping } }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.runUntilStopped()
        } onGracefulShutdown: {
            self.state.withLockedValue { $0.requestStop() }
        }
    }

    func runUntilStopped() async throws {
        health?.set(healthComponent, .starting)
        defer {
            health?.set(healthComponent, .down("stopped"))
            health?.progress.release(healthComponent)
        }
        var backoff = RetryBackoff(initial: configuration.retryBackoffInitial, maximum: configuration.retryBackoffMax)
        while !isStopping && !Task.isCancelled {
            health?.progress.renew(healthComponent)
            do {
                try await runSession()
                backoff.reset()
            } catch let error as KafkaError where error.code == .configuration || error.code == .libraryVersion {
                health?.set(healthComponent, .down("\(error)"))
                throw SinkError(code: .configuration, message: "the Kafka client cannot be created; fix the kafka.* properties of the connector file", underlying: "\(error)")
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled || isStopping { break }
                let delay = backoff.next()
                metrics.retries.increment()
                health?.set(healthComponent, .degraded("consumer session failed: \(error)"))
                logger.error("Sink session failed; reconnecting after backoff", metadata: [
                    SinkLoggingKeys.error: "\(error)", SinkLoggingKeys.retryIn: "\(delay)", SinkLoggingKeys.attempt: "\(backoff.attempt)",
                ])
                health?.progress.renew(healthComponent, expectingNextWithin: delay)
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Runs the runtime, then `close` (the target's connections), whether it ended or failed.
    public func run(thenClose close: @Sendable () async -> Void) async throws {
        do {
            try await run()
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// One consumer and producer, from subscribe to close.
    func runSession() async throws {
        let target = self.target
        let logger = self.logger
        // Counts rebalances, so `consume` knows when a batch it holds was read before one.
        let rebalances = NIOLockedValueBox(0)
        // The next batch is polled while one is applied: a rebalance waits for that apply to end.
        let gate = ApplyGate()
        let hooks = KafkaRebalanceHooks(onAssign: { partitions in
            await gate.waitUntilOpen()
            rebalances.withLockedValue { $0 += 1 }
            let stored = try await target.storedOffsets(for: partitions)
            logger.info("Partitions assigned; starting at the offsets stored in the target (others at the group's committed offset, else the earliest)",
                        metadata: ["sluice.sink.stored_offsets": "\(stored.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value)" })"])
            return stored
        }, onRevoke: { _ in
            await gate.waitUntilOpen()
            rebalances.withLockedValue { $0 += 1 }
        })
        let consumer = try KafkaConsumer(configuration: configuration.consumer, hooks: hooks, logger: logger)
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(configuration: configuration.producer, logger: logger)
        } catch {
            await consumer.close()
            throw error
        }
        do {
            await ensureDeadLetterTopic()
            try consumer.subscribe(topics: configuration.subscription.subscribeList)
            try await consume(consumer: consumer, producer: producer, rebalances: rebalances, gate: gate)
        } catch {
            await consumer.close()
            await producer.shutdown()
            throw error
        }
        await consumer.close()
        await producer.shutdown()
    }

    func ensureDeadLetterTopic() async {
        do {
            let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: configuration.consumer.connection.forProducer), logger: logger)
            do {
                try await admin.ensureTopic(KafkaTopicSpecification(name: configuration.deadLetterTopic, partitions: 1))
            } catch {
                await admin.shutdown()
                throw error
            }
            await admin.shutdown()
        } catch {
            logger.warning("Could not create the dead-letter topic; the broker may create it on first use",
                           metadata: [SinkLoggingKeys.topic: "\(configuration.deadLetterTopic)", SinkLoggingKeys.error: "\(error)"])
        }
    }

    /// Polls and applies batches until stopped, pipelined: while a batch is applied, the next one is
    /// polled, decoded and prepared (`SinkApplier.prepare`: its statements), and the batch applied before
    /// is freed. The rebalance hooks wait for the apply in flight (`ApplyGate`), so a revoke or an
    /// assignment comes between two applies; a batch in hand, polled before a rebalance, is dropped (its
    /// partitions may belong to another member now, and re-assigned ones restart at the offsets the
    /// target stored, so its messages are read again).
    func consume(consumer: KafkaConsumer, producer: KafkaProducer, rebalances: NIOLockedValueBox<Int>, gate: ApplyGate) async throws {
        let clock = ContinuousClock()
        var pollBackoff = RetryBackoff(initial: configuration.retryBackoffInitial, maximum: configuration.retryBackoffMax)
        var nextLagCheck = clock.now
        /// Polled, decoded and prepared, not applied yet; `rebalances` as it was after its poll.
        var held: Held?
        /// The batch applied last, freed while the next one is applied (freeing a batch's decoded
        /// values took 4–5 ms of 2,000 messages, on the apply path when done in line). A box, so the
        /// poll task takes the last reference out of it and the memory is released on that task.
        let retired = NIOLockedValueBox<Built?>(nil)
        while !isStopping {
            try Task.checkCancellation()
            health?.progress.renew(healthComponent, expectingNextWithin: configuration.pollTimeout)
            if let current = held, current.rebalances != rebalances.withLockedValue({ $0 }) {
                logger.debug("A rebalance came between polling and applying a batch; it is read again from the stored offsets",
                             metadata: [SinkLoggingKeys.batchSize: "\(current.messages)"])
                held = nil
            }
            let polled: Polled
            if let current = held {
                held = nil
                // Closed before the poll starts: a rebalance the poll meets waits for this apply.
                gate.close()
                // With a batch in hand, take only what is already there: the batch is being applied.
                async let next = pollAndBuild(consumer: consumer, timeout: .zero, rebalances: rebalances, freeing: retired)
                do {
                    try await process(current.built, messageCount: current.messages, consumer: consumer, producer: producer)
                } catch {
                    gate.open()
                    throw error
                }
                gate.open()
                retired.withLockedValue { $0 = current.built }
                polled = await next
            } else {
                retired.withLockedValue { $0 = nil }
                polled = await pollAndBuild(consumer: consumer, timeout: configuration.pollTimeout, rebalances: rebalances, freeing: nil)
            }
            switch polled {
            case .batch(let next):
                pollBackoff.reset()
                held = next
            case .nothing:
                pollBackoff.reset()
            case .failed(let error as KafkaError) where !error.isFatal:
                let delay = pollBackoff.next()
                metrics.retries.increment()
                health?.set(healthComponent, .degraded("polling failed: \(error)"))
                logger.warning("Polling failed; retrying after backoff", metadata: [
                    SinkLoggingKeys.error: "\(error)", SinkLoggingKeys.retryIn: "\(delay)", SinkLoggingKeys.attempt: "\(pollBackoff.attempt)",
                ])
                health?.progress.renew(healthComponent, expectingNextWithin: delay)
                try await Task.sleep(for: delay)
                continue
            case .failed(let error):
                throw error
            }
            markHealthy()
            if clock.now >= nextLagCheck {
                nextLagCheck = clock.now + configuration.lagInterval
                if let lags = try? await consumer.lag() {
                    for (partition, lag) in lags { metrics.lag(topic: partition.topic, partition: partition.partition, value: lag) }
                }
            }
        }
        // A graceful stop finishes the batch in hand too.
        if let current = held, !Task.isCancelled {
            try await process(current.built, messageCount: current.messages, consumer: consumer, producer: producer)
        }
    }

    /// A batch polled and built, with the rebalance count read after its poll.
    struct Held: Sendable {
        var built: Built
        var messages: Int
        var rebalances: Int
    }

    /// What one poll gave: a built batch, nothing, or the poll's error (handled by the loop).
    enum Polled: Sendable {
        case batch(Held)
        case nothing
        case failed(any Error)
    }

    /// Frees the batch in `freeing` (on this task, beside the apply), polls, and decodes and prepares
    /// what came.
    func pollAndBuild(consumer: KafkaConsumer, timeout: Duration, rebalances: NIOLockedValueBox<Int>,
                      freeing: NIOLockedValueBox<Built?>?) async -> Polled {
        if let freeing { _ = freeing.withLockedValue { $0.take() } }
        let messages: [KafkaMessage]
        do {
            messages = try await consumer.poll(maxMessages: configuration.batchSize, timeout: timeout)
        } catch {
            return .failed(error)
        }
        let count = rebalances.withLockedValue { $0 }
        guard !messages.isEmpty else { return .nothing }
        let built = Self.build(messages, skipping: Set(stoppedTopics.keys), target: target)
        return .batch(Held(built: built, messages: messages.count, rebalances: count))
    }

    /// A polled batch decoded, and what the target prepared for it.
    struct Built: Sendable {
        var result: SinkBatchBuilder.Result
        var prepared: SinkPreparedBatch?
    }

    static func build(_ messages: [KafkaMessage], skipping: Set<String>, target: any SinkTarget) -> Built {
        let result = SinkBatchBuilder.build(messages, skipping: skipping)
        return Built(result: result, prepared: result.batch.records.isEmpty ? nil : target.prepare(result.batch))
    }

    func markHealthy() {
        let stopped = stoppedTopics
        if stopped.isEmpty {
            health?.set(healthComponent, .up)
        } else {
            health?.set(healthComponent, .degraded("stopped: " + stopped.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: "; ")))
        }
    }
}
