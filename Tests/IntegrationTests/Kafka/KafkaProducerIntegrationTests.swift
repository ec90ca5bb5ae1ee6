import SluiceKafka
import Testing

@Suite("Kafka producer against the broker")
struct KafkaProducerIntegrationTests {
    @Test("send resolves with the broker's offset, in order per partition")
    func deliveryReportsCarryOffsets() async throws {
        let topic = try await KafkaTestWorld.makeTopic("producer-offsets")
        let producer = try KafkaTestWorld.makeProducer()
        var reports: [DeliveryReport] = []
        for index in 0..<5 {
            reports.append(try await producer.send(topic: topic, key: "k\(index)".bytes, value: "v\(index)".bytes))
        }
        #expect(reports.map(\.offset) == [0, 1, 2, 3, 4])
        #expect(reports.allSatisfy { $0.topic == topic && $0.partition == 0 })
        await producer.shutdown()
    }

    @Test("enqueue many, then wait for all deliveries through the last ticket")
    func enqueueAndWaitThroughTicket() async throws {
        let topic = try await KafkaTestWorld.makeTopic("producer-enqueue", partitions: 3)
        let producer = try KafkaTestWorld.makeProducer()
        var last: DeliveryTicket?
        for index in 0..<20_000 {
            last = try await producer.enqueue(topic: topic, key: "key-\(index % 97)".bytes, value: "value-\(index)".bytes)
        }
        try await producer.waitForDeliveries(through: #require(last))
        #expect(producer.outstandingCount == 0)
        await producer.shutdown()

        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("enqueue"))
        try consumer.subscribe(topics: [topic])
        let messages = try await KafkaTestWorld.consume(consumer, count: 20_000)
        #expect(messages.count == 20_000)
        await consumer.close()
    }

    @Test("a message to a partition that does not exist fails, and so does waiting through it")
    func failedDeliveryIsReported() async throws {
        let topic = try await KafkaTestWorld.makeTopic("producer-fail")
        let producer = try KafkaTestWorld.makeProducer()
        try await producer.send(topic: topic, key: nil, value: "ok".bytes)  // metadata now known
        await #expect(throws: KafkaError.self) {
            let ticket = try await producer.enqueue(topic: topic, key: nil, value: "lost".bytes, partition: 7)
            try await producer.waitForDeliveries(through: ticket)
        }
        // The failure is sticky for positions past it.
        let later = try await producer.enqueue(topic: topic, key: nil, value: "after".bytes)
        await #expect(throws: KafkaError.self) { try await producer.waitForDeliveries(through: later) }
        await producer.shutdown()
        await #expect(throws: KafkaError.self) { try await producer.send(topic: topic, key: nil, value: "closed".bytes) }
    }

    @Test("waiting for an acknowledgement does not sit out linger.ms: what lingers is sent at once")
    func waitsDoNotWaitOutTheLinger() async throws {
        let topic = try await KafkaTestWorld.makeTopic("producer-linger")
        let linger = Duration.seconds(20)
        let configuration = KafkaProducerConfiguration(connection: try KafkaTestWorld.connection(), linger: linger)
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTestWorld.logger)
        let clock = ContinuousClock()
        // send: one message, its own report.
        let sendStarted = clock.now
        let first = try await producer.send(topic: topic, key: nil, value: "first".bytes)
        #expect(first.offset == 0)
        #expect(clock.now - sendStarted < linger / 2, "send waited out the linger")
        // enqueue several, then wait through the last: one wait, every one of them acknowledged.
        var last: DeliveryTicket?
        for index in 0..<50 {
            last = try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes)
        }
        let waitStarted = clock.now
        try await producer.waitForDeliveries(through: #require(last))
        #expect(clock.now - waitStarted < linger / 2, "waitForDeliveries waited out the linger")
        #expect(producer.outstandingCount == 0)
        let final = try await producer.send(topic: topic, key: nil, value: "last".bytes)
        #expect(final.offset == 51)
        await producer.shutdown()
    }

    @Test("learnTopics: the first message to a topic this producer has not written to is sent at once, not at librdkafka's next topic scan")
    func learnedTopicsSendTheirFirstMessageAtOnce() async throws {
        let warm = try await KafkaTestWorld.makeTopic("producer-warm")
        var fresh: [String] = []
        for index in 0..<3 { fresh.append(try await KafkaTestWorld.makeTopic("producer-learned-\(index)")) }
        let producer = try KafkaTestWorld.makeProducer()
        try await producer.send(topic: warm, key: nil, value: "warm".bytes)  // connected, producer id known
        await producer.learnTopics(fresh)
        // Without the lookup each first message waits for the scan (once a second): one after another,
        // the second and third wait nearly a second each.
        let clock = ContinuousClock()
        let started = clock.now
        for topic in fresh { try await producer.send(topic: topic, key: nil, value: "first".bytes) }
        #expect(clock.now - started < .milliseconds(600), "first messages to learned topics were held")
        await producer.shutdown()
    }

    @Test("learnTopics with the broker unreachable gives up after its timeout for all the topics together, not per topic")
    func learnTopicsIsBoundedAsAWhole() async throws {
        // Nothing listens on port 1: every metadata lookup waits until it times out.
        let configuration = KafkaProducerConfiguration(connection: KafkaConnectionConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "sluice-tests"))
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTestWorld.logger)
        let clock = ContinuousClock()
        let started = clock.now
        await producer.learnTopics((0..<5).map { "never-learned-\($0)" }, timeout: .seconds(1))
        let took = clock.now - started
        #expect(took < .seconds(3), "learnTopics took \(took) for 5 topics with a 1 s timeout")
        await producer.shutdown()
    }

    @Test("a full local queue slows senders down instead of failing them")
    func queueFullBackpressure() async throws {
        let topic = try await KafkaTestWorld.makeTopic("producer-backpressure")
        let configuration = KafkaProducerConfiguration(connection: try KafkaTestWorld.connection(), queueBufferingMaxMessages: 10)
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTestWorld.logger)
        var last: DeliveryTicket?
        for index in 0..<3_000 {
            last = try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes)
        }
        try await producer.waitForDeliveries(through: #require(last))
        let final = try await producer.send(topic: topic, key: nil, value: "last".bytes)
        #expect(final.offset == 3_000)
        await producer.shutdown()
    }
}
