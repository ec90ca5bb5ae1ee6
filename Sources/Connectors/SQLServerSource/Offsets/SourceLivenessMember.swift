import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import SluiceCore
import SluiceKafka

/// Makes a running source visible to `sluice offsets reset` on any host: while the source runs it is a
/// member of the consumer group `__sluice-source.<prefix>` (`TopicNamer.sourceLivenessGroup`), subscribed
/// to its position topic and reading nothing (it starts at the end and drops what it reads). The reset
/// asks the group coordinator for the group's members (DescribeGroups), as the sink reset does for a
/// sink's group, and refuses while there is one.
///
/// The source joins before any database loads its stored position and leaves only after every
/// database stored its last one (`stop()` after the streamers returned), so a reset never races a
/// running source's load or store. A process killed with SIGKILL stays a member until its session
/// times out (`sessionTimeout`, 6 s).
final class SourceLivenessMember: Sendable {
    static let sessionTimeout = Duration.seconds(6)

    let group: String
    let topic: String
    let connection: KafkaConnectionConfiguration
    let replicationFactor: Int32
    let health: HealthRegistry
    let component: String
    let logger: Logger
    let retryBackoffInitial: Duration
    let retryBackoffMax: Duration

    private struct State {
        var joined = false
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())
    private let joinedSignal: AsyncStream<Void>
    private let joinedContinuation: AsyncStream<Void>.Continuation

    init(configuration: SQLServerSourceConfiguration, connection: KafkaConnectionConfiguration, health: HealthRegistry, logger: Logger) {
        let namer = TopicNamer(prefix: configuration.topicPrefix)
        self.group = namer.sourceLivenessGroup
        self.topic = namer.offsetsTopic
        self.connection = connection
        self.replicationFactor = Int32(configuration.topicCreationDefaultReplicationFactor)
        self.health = health
        self.component = "source.\(configuration.name).liveness"
        var logger = logger
        logger[metadataKey: KafkaLoggingKeys.group] = "\(namer.sourceLivenessGroup)"
        self.logger = logger
        self.retryBackoffInitial = .milliseconds(configuration.retryBackoffInitialMs)
        self.retryBackoffMax = .milliseconds(configuration.retryBackoffMaxMs)
        (joinedSignal, joinedContinuation) = AsyncStream<Void>.makeStream()
    }

    /// Stays a member until `stop()` (or cancellation), rejoining with backoff after a broker failure.
    func run() async {
        health.set(component, .starting)
        var backoff = retryBackoffInitial
        while !isStopped && !Task.isCancelled {
            var consumer: KafkaConsumer?
            do {
                // A short request timeout: a blocked admin call is what a SIGTERM waits for when the broker is down.
                let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: connection.forProducer, requestTimeout: .seconds(5)),
                                                 logger: logger)
                do {
                    _ = try await admin.ensureTopic(KafkaTopicSpecification.compacted(name: topic, replicationFactor: replicationFactor))
                } catch {
                    await admin.shutdown()
                    throw error
                }
                await admin.shutdown()
                let member = try KafkaConsumer(
                    configuration: KafkaConsumerConfiguration(
                        connection: connection.forConsumer, groupID: group,
                        sessionTimeout: Self.sessionTimeout, heartbeatInterval: .seconds(2),
                        assignmentStrategy: .range, offsetReset: .latest),
                    hooks: KafkaRebalanceHooks(onAssign: { [weak self] _ in
                        self?.markJoined()
                        return [:]
                    }),
                    logger: logger)
                consumer = member
                try member.subscribe(topics: [topic])
                while !isStopped && !Task.isCancelled {
                    // Nothing is kept: polling keeps the membership (max.poll.interval.ms) and runs rebalances.
                    _ = try await member.poll(maxMessages: 100, timeout: .milliseconds(250))
                    backoff = retryBackoffInitial
                }
                await member.close()
                health.remove(component)
                logger.debug("Left the source liveness group")
                return
            } catch {
                await consumer?.close()
                if isStopped || Task.isCancelled { break }
                logger.warning("Joining consumer group \(group) (how offsets reset sees a running source) failed, retrying in \(backoff): \(error)")
                health.set(component, .down("cannot join consumer group \(group) (retrying in \(backoff)): \(error)"))
                // In slices, so stop() (graceful shutdown) is not kept waiting for a long backoff.
                let until = ContinuousClock.now + backoff
                while !isStopped && !Task.isCancelled && ContinuousClock.now < until {
                    try? await Task.sleep(for: .milliseconds(200))
                }
                backoff = min(backoff * 2, retryBackoffMax)
            }
        }
        health.remove(component)
    }

    /// Returns once the group coordinator has taken this process in (true), or false when the process
    /// is shutting down first.
    func waitUntilJoined() async -> Bool {
        try? await cancelWhenGracefulShutdown { [joinedSignal] in
            for await _ in joinedSignal {}
        }
        return state.withLockedValue { $0.joined }
    }

    /// Leaves the group (the running `run()` closes its consumer and returns).
    func stop() {
        state.withLockedValue { $0.stopped = true }
        joinedContinuation.finish()
    }

    private var isStopped: Bool { state.withLockedValue { $0.stopped } }

    private func markJoined() {
        let first = state.withLockedValue { state -> Bool in
            defer { state.joined = true }
            return !state.joined
        }
        health.set(component, .up)
        if first {
            logger.info("Joined consumer group \(group): offsets reset now sees this source running")
            joinedContinuation.finish()
        }
    }
}
