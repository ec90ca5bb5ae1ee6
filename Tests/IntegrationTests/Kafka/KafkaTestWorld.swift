import Foundation
import Logging
import SluiceKafka

/// Clients for integration tests against the local world's broker, with unique names per test.
enum KafkaTestWorld {
    static func connection(_ clientID: String = "sluice-tests") throws -> KafkaConnectionConfiguration {
        KafkaConnectionConfiguration(bootstrapServers: try LocalWorld.env("SLUICE_KAFKA_BOOTSTRAP"), clientID: clientID)
    }

    static var logger: Logger {
        var logger = Logger(label: "sluice.kafka.tests")
        logger.logLevel = .warning
        return logger
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func makeProducer() throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(connection: connection("sluice-tests-producer"), linger: .milliseconds(1)), logger: logger)
    }

    /// A consumer with the short session timeout Tansu needs to keep joins fast.
    static func makeConsumer(
        group: String,
        strategy: KafkaConsumerConfiguration.AssignmentStrategy = .cooperativeSticky,
        hooks: KafkaRebalanceHooks = KafkaRebalanceHooks()
    ) throws -> KafkaConsumer {
        let configuration = KafkaConsumerConfiguration(
            connection: try connection("sluice-tests-consumer"),
            groupID: group,
            sessionTimeout: .seconds(6),
            heartbeatInterval: .milliseconds(500),
            assignmentStrategy: strategy,
            offsetReset: .earliest
        )
        return try KafkaConsumer(configuration: configuration, hooks: hooks, logger: logger)
    }

    /// Creates a topic with a unique name and returns the name.
    static func makeTopic(_ prefix: String, partitions: Int32 = 1) async throws -> String {
        let name = uniqueName(prefix)
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: connection()), logger: logger)
        try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: partitions)])
        await admin.shutdown()
        return name
    }

    /// Polls until `count` messages arrived or `timeout` passed; returns what arrived.
    static func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(20)) async throws -> [KafkaMessage] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var messages: [KafkaMessage] = []
        while messages.count < count && clock.now < deadline {
            messages += try await consumer.poll(maxMessages: count - messages.count, timeout: .milliseconds(200))
        }
        return messages
    }

    /// Polls (discarding messages) until `condition` holds or `timeout` passed; returns whether it held.
    static func poll(_ consumer: KafkaConsumer, until condition: () -> Bool, timeout: Duration = .seconds(20)) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            guard clock.now < deadline else { return false }
            _ = try await consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
        }
        return true
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
