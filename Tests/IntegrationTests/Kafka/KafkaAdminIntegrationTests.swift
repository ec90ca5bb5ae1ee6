import SluiceKafka
import Testing

@Suite("Kafka admin against the broker")
struct KafkaAdminIntegrationTests {
    @Test("create, describe and list topics, including a compacted one; ensureTopic is idempotent")
    func createDescribeList() async throws {
        let admin = try KafkaAdminClient(configuration: KafkaAdminConfiguration(connection: KafkaTestWorld.connection()), logger: KafkaTestWorld.logger)
        let plain = KafkaTestWorld.uniqueName("admin-plain")
        let compacted = KafkaTestWorld.uniqueName("admin-compacted")
        try await admin.createTopics([
            KafkaTopicSpecification(name: plain, partitions: 3),
            .compacted(name: compacted, partitions: 2, configs: ["min.cleanable.dirty.ratio": "0.1"]),
        ])

        let descriptions = try await admin.describeTopics([plain, compacted])
        #expect(descriptions.map(\.name) == [plain, compacted])
        #expect(descriptions[0].partitions == [0, 1, 2])
        #expect(descriptions[1].partitionCount == 2)
        #expect(descriptions[1].configs["cleanup.policy"] == "compact")
        #expect(descriptions[0].configs["cleanup.policy"] != "compact")

        let topics = try await admin.listTopics()
        #expect(topics.contains(plain) && topics.contains(compacted))

        #expect(try await admin.ensureTopic(.compacted(name: compacted, partitions: 2)) == false)
        let fresh = KafkaTestWorld.uniqueName("admin-ensure")
        #expect(try await admin.ensureTopic(KafkaTopicSpecification(name: fresh, partitions: 1)) == true)
        #expect(try await admin.ensureTopic(KafkaTopicSpecification(name: fresh, partitions: 1)) == false)

        await #expect {
            try await admin.createTopics([KafkaTopicSpecification(name: plain, partitions: 3)])
        } throws: { error in
            (error as? KafkaError)?.code == .topicAlreadyExists
        }
        await #expect {
            _ = try await admin.describeTopics([KafkaTestWorld.uniqueName("missing")])
        } throws: { error in
            (error as? KafkaError)?.code == .admin
        }
        await admin.shutdown()
    }
}
