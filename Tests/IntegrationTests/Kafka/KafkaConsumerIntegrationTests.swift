import NIOConcurrencyHelpers
import SluiceKafka
import Testing

@Suite("Kafka consumer against the broker")
struct KafkaConsumerIntegrationTests {
    @Test("produce → consume round trip keeps keys, values, headers and tombstones")
    func roundTrip() async throws {
        let topic = try await KafkaTestWorld.makeTopic("roundtrip")
        let producer = try KafkaTestWorld.makeProducer()
        let headers = [KafkaHeader(name: "op", string: "c"), KafkaHeader(name: "trace", value: nil), KafkaHeader(name: "op", string: "again")]
        let first = try await producer.send(topic: topic, key: "k1".bytes, value: #"{"after":1}"#.bytes, headers: headers)
        let tombstone = try await producer.send(topic: topic, key: "k1".bytes, value: nil)
        let empty = try await producer.send(topic: topic, key: nil, value: [])
        let binary = try await producer.send(topic: topic, key: [0, 255, 0], value: [1, 0, 2], partition: 0)
        await producer.shutdown()
        #expect([first.offset, tombstone.offset, empty.offset, binary.offset] == [0, 1, 2, 3])

        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("roundtrip"))
        try consumer.subscribe(topics: [topic])
        let messages = try await KafkaTestWorld.consume(consumer, count: 4)
        await consumer.close()

        try #require(messages.count == 4)
        #expect(messages[0].key == "k1".bytes)
        #expect(messages[0].value == #"{"after":1}"#.bytes)
        #expect(messages[0].headers == headers)
        #expect(messages[0].timestamp != nil)
        #expect(messages[1].isTombstone && messages[1].key == "k1".bytes)
        #expect(messages[2].key == nil && messages[2].value == [] && !messages[2].isTombstone)
        #expect(messages[3].key == [0, 255, 0] && messages[3].value == [1, 0, 2])
        #expect(messages.map(\.offset) == [0, 1, 2, 3])
        #expect(messages.allSatisfy { $0.topic == topic && $0.partition == 0 })
    }

    /// The consumer names a run of messages' topic once (`TopicNameCache`): every message must still carry
    /// its own topic's name when one poll returns alternating runs of two topics.
    @Test("messages of several topics in one poll each carry their own topic's name")
    func topicNamesAcrossRuns() async throws {
        let short = try await KafkaTestWorld.makeTopic("names")
        let long = try await KafkaTestWorld.makeTopic("names-a-considerably-longer-topic-name")
        let producer = try KafkaTestWorld.makeProducer()
        for index in 0..<30 {
            try await producer.enqueue(topic: index % 3 == 0 ? short : long, key: nil, value: "\(index % 3 == 0 ? short : long)".bytes)
        }
        try await producer.waitForAllDeliveries()
        await producer.shutdown()

        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("names"))
        try consumer.subscribe(topics: [short, long])
        let messages = try await KafkaTestWorld.consume(consumer, count: 30)
        await consumer.close()
        try #require(messages.count == 30)
        #expect(messages.allSatisfy { $0.value == $0.topic.bytes })
        #expect(Set(messages.map(\.topic)) == [short, long])
        #expect(messages.filter { $0.topic == short }.count == 10)
    }

    @Test("a new consumer in the same group resumes after the committed offset")
    func commitThenResume() async throws {
        let topic = try await KafkaTestWorld.makeTopic("commit")
        let group = KafkaTestWorld.uniqueName("commit")
        let producer = try KafkaTestWorld.makeProducer()
        for index in 0..<10 { try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes) }
        try await producer.waitForAllDeliveries()
        await producer.shutdown()

        let first = try KafkaTestWorld.makeConsumer(group: group)
        try first.subscribe(topics: [topic])
        let read = try await KafkaTestWorld.consume(first, count: 10)
        try #require(read.count == 10)
        try await first.commit(read[5])  // offsets 0...5 done: the group resumes at 6
        let partition = TopicPartition(topic: topic, partition: 0)
        #expect(try await first.committedOffsets(for: [partition])[partition] == 6)
        await first.close()

        let second = try KafkaTestWorld.makeConsumer(group: group)
        try second.subscribe(topics: [topic])
        let rest = try await KafkaTestWorld.consume(second, count: 4)
        #expect(rest.map(\.offset) == [6, 7, 8, 9])
        #expect(rest.first?.value == "m6".bytes)
        // An asynchronous commit lands too.
        try second.scheduleCommit([partition: 10])
        var committed: Int64?? = nil
        for _ in 0..<50 {
            committed = try await second.committedOffsets(for: [partition])[partition]
            if committed == 10 { break }
            _ = try await second.poll(timeout: .milliseconds(50))
        }
        #expect(committed == 10)
        await second.close()
    }

    @Test("seek moves the read position; pause stops delivery until resume")
    func seekPauseResume() async throws {
        let topic = try await KafkaTestWorld.makeTopic("seek")
        let producer = try KafkaTestWorld.makeProducer()
        for index in 0..<10 { try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes) }
        try await producer.waitForAllDeliveries()

        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("seek"))
        try consumer.subscribe(topics: [topic])
        let all = try await KafkaTestWorld.consume(consumer, count: 10)
        try #require(all.count == 10)

        let partition = TopicPartition(topic: topic, partition: 0)
        try await consumer.seek([partition: 3])
        let afterSeek = try await KafkaTestWorld.consume(consumer, count: 7)
        #expect(afterSeek.map(\.offset) == Array(3..<10))

        // Three more arrive; without polling them the lag shows 3.
        for index in 10..<13 { try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes) }
        try await producer.waitForAllDeliveries()
        var lag: [TopicPartition: Int64] = [:]
        for _ in 0..<50 where lag[partition] != 3 {
            lag = try await consumer.lag()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lag == [partition: 3])
        #expect(try await KafkaTestWorld.consume(consumer, count: 3).map(\.offset) == [10, 11, 12])

        try consumer.pause([partition])
        for index in 13..<16 { try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes) }
        try await producer.waitForAllDeliveries()
        let whilePaused = try await KafkaTestWorld.consume(consumer, count: 1, timeout: .seconds(1))
        #expect(whilePaused.isEmpty)

        try consumer.resume([partition])
        let afterResume = try await KafkaTestWorld.consume(consumer, count: 3)
        #expect(afterResume.map(\.offset) == [13, 14, 15])
        await producer.shutdown()
        await consumer.close()
    }

    @Test("the assign hook supplies each partition's starting offset", arguments: [
        KafkaConsumerConfiguration.AssignmentStrategy.cooperativeSticky, .range,
    ])
    func assignHookSuppliesOffsets(strategy: KafkaConsumerConfiguration.AssignmentStrategy) async throws {
        let topic = try await KafkaTestWorld.makeTopic("assign-hook", partitions: 2)
        let producer = try KafkaTestWorld.makeProducer()
        for partition: Int32 in 0..<2 {
            for index in 0..<10 { try await producer.enqueue(topic: topic, key: nil, value: "p\(partition)-\(index)".bytes, partition: partition) }
        }
        try await producer.waitForAllDeliveries()
        await producer.shutdown()

        let stored: [TopicPartition: Int64] = [TopicPartition(topic: topic, partition: 0): 7, TopicPartition(topic: topic, partition: 1): 2]
        let hookCalls = NIOLockedValueBox<[[TopicPartition]]>([])
        let hooks = KafkaRebalanceHooks(onAssign: { partitions in
            hookCalls.withLockedValue { $0.append(partitions) }
            return stored.filter { partitions.contains($0.key) }
        })
        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("assign-hook"), strategy: strategy, hooks: hooks)
        try consumer.subscribe(topics: [topic])
        let messages = try await KafkaTestWorld.consume(consumer, count: 3 + 8)
        await consumer.close()

        #expect(hookCalls.withLockedValue { Set($0.flatMap { $0 }) } == Set(stored.keys))
        let byPartition = Dictionary(grouping: messages, by: \.partition).mapValues { $0.map(\.offset) }
        #expect(byPartition[0] == [7, 8, 9])
        #expect(byPartition[1] == Array(2..<10))
    }

    @Test("a failing assign hook assigns nothing and is retried by the next poll")
    func failingAssignHookIsRetried() async throws {
        struct StoreDown: Error {}
        let topic = try await KafkaTestWorld.makeTopic("assign-retry")
        let producer = try KafkaTestWorld.makeProducer()
        try await producer.send(topic: topic, key: nil, value: "only".bytes)
        await producer.shutdown()

        let attempts = NIOLockedValueBox(0)
        let hooks = KafkaRebalanceHooks(onAssign: { _ in
            let attempt = attempts.withLockedValue { $0 += 1; return $0 }
            if attempt == 1 { throw StoreDown() }
            return [:]
        })
        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("assign-retry"), hooks: hooks)
        try consumer.subscribe(topics: [topic])
        var sawHookError = false
        var messages: [KafkaMessage] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while messages.isEmpty && clock.now < deadline {
            do {
                messages += try await consumer.poll(timeout: .milliseconds(200))
            } catch let error as KafkaError where error.code == .rebalance {
                sawHookError = true
                #expect(consumer.assignment.isEmpty)
            }
        }
        await consumer.close()
        #expect(sawHookError)
        #expect(attempts.withLockedValue { $0 } == 2)
        #expect(messages.map(\.value) == ["only".bytes])
    }

    @Test("a second member splits the partitions; revoke fires; close hands everything back", arguments: [
        KafkaConsumerConfiguration.AssignmentStrategy.cooperativeSticky, .range,
    ])
    func twoMemberRebalance(strategy: KafkaConsumerConfiguration.AssignmentStrategy) async throws {
        let topic = try await KafkaTestWorld.makeTopic("rebalance", partitions: 4)
        let group = KafkaTestWorld.uniqueName("rebalance")
        let revokedFromFirst = NIOLockedValueBox<[TopicPartition]>([])
        let first = try KafkaTestWorld.makeConsumer(group: group, strategy: strategy, hooks: KafkaRebalanceHooks(onRevoke: { partitions in
            revokedFromFirst.withLockedValue { $0 += partitions }
        }))
        try first.subscribe(topics: [topic])
        #expect(try await KafkaTestWorld.poll(first, until: { first.assignment.count == 4 }))

        let second = try KafkaTestWorld.makeConsumer(group: group, strategy: strategy)
        try second.subscribe(topics: [topic])
        let split: @Sendable () -> Bool = {
            first.assignment.count == 2 && second.assignment.count == 2 && first.assignment.isDisjoint(with: second.assignment)
        }
        let (firstDone, secondDone) = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await KafkaTestWorld.poll(first, until: split, timeout: .seconds(30)) }
            group.addTask { try await KafkaTestWorld.poll(second, until: split, timeout: .seconds(30)) }
            let a = try await group.next()!
            let b = try await group.next()!
            return (a, b)
        }
        #expect(firstDone && secondDone)
        #expect(first.assignment.union(second.assignment).count == 4)
        let revoked = revokedFromFirst.withLockedValue { $0 }
        if strategy == .cooperativeSticky {
            #expect(Set(revoked) == second.assignment)  // only what moved
        } else {
            #expect(Set(revoked).count == 4)  // eager: everything, then reassigned
        }

        // The first member leaves cleanly: the second gets everything without waiting for a session timeout.
        await first.close()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await KafkaTestWorld.poll(second, until: { second.assignment.count == 4 }, timeout: .seconds(15)))
        #expect(clock.now - start < .seconds(6))
        await second.close()
    }

    @Test("the messages sequence yields in order and ends when the consumer closes")
    func messageSequence() async throws {
        let topic = try await KafkaTestWorld.makeTopic("sequence")
        let producer = try KafkaTestWorld.makeProducer()
        for index in 0..<50 { try await producer.enqueue(topic: topic, key: nil, value: "m\(index)".bytes) }
        try await producer.waitForAllDeliveries()
        await producer.shutdown()

        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("sequence"))
        try consumer.subscribe(topics: [topic])
        var offsets: [Int64] = []
        for try await message in consumer.messages(batchSize: 7) {
            offsets.append(message.offset)
            if offsets.count == 50 { await consumer.close() }
        }
        #expect(offsets == Array(0..<50))
    }
}
