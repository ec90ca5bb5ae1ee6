import Foundation
import SluiceCore
import SluiceKafka
import SluiceSinkKit
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

/// The warehouse sink end to end: events published to Kafka as the source publishes them, consumed by
/// SinkKit's runtime with the warehouse as its target.
@Suite(.serialized, .timeLimit(.minutes(3))) struct WarehouseSinkPipelineTests {
    typealias W = WarehouseTestWorld

    /// Three topics (customers, applications, repayments) with a scripted history of `customers` customers.
    struct Stream {
        var base: Int64
        var topics: [String]
        var events: [(topic: String, event: ChangeEvent)] = []
        var messageCounts: [String: Int64] = [:]

        init(base: Int64, customers: Int) async throws {
            self.base = base
            topics = []
            for name in ["customers", "credit_applications", "repayments"] {
                topics.append(try await KafkaTestWorld.makeTopic("wh.credit.CreditStaging.dbo.\(name)"))
            }
            var n = 0
            func next() -> Int { n += 1; return n }
            for c in 0..<Int64(customers) {
                let id = base + c * 10
                let t = W.t0 + c * 100_000
                events.append((topics[0], W.customer(.create, id, n: next(), at: t, address: "Street 0")))
                events.append((topics[1], W.application(.create, id + 1, customer: id, status: "submitted", n: next(), at: t + 500)))
                for u in 1...5 {
                    events.append((topics[0], W.customer(.update, id, n: next(), at: t + Int64(u) * 1000, address: "Street \(u)",
                                                         income: "\(3000 + u * 10).00")))
                }
                events.append((topics[0], W.customer(.update, id, n: next(), at: t + 6000, address: "Street 5", income: "3050.00",
                                                     email: "new\(c)@example.com")))
                events.append((topics[1], W.application(.update, id + 1, customer: id, status: "approved", n: next(), at: t + 7000)))
                events.append((topics[2], W.repayment(.create, id + 2, application: id + 1, amount: "100.00", n: next(), at: t + 8000)))
                if c % 3 == 0 {
                    events.append((topics[0], W.customer(.delete, id, n: next(), at: t + 9000, address: "Street 5", income: "3050.00",
                                                         email: "new\(c)@example.com")))
                }
            }
        }

        /// Publishes a customer change whose income is not a decimal: the warehouse cannot take it.
        mutating func publishPoison() async throws {
            let producer = try KafkaTestWorld.makeProducer()
            var row = W.customerRow(base + 500, address: "Nowhere")
            row["monthly_income"] = .string("a lot")
            let event = W.event("customers", .create, key: ("customer_id", base + 500), row: row, n: 10_000, commitMs: W.t0)
            let envelope = DebeziumEnvelope(serverName: "credit", includeSchema: true)
            try await producer.send(topic: topics[0], key: envelope.encodeKey(event, schema: nil),
                                    value: envelope.encodeValue(event, schema: nil), partition: 0)
            messageCounts[topics[0], default: 0] += 1
            await producer.shutdown()
        }

        /// Publishes every event (a tombstone after each delete) to partition 0.
        mutating func publish() async throws {
            let producer = try KafkaTestWorld.makeProducer()
            let envelope = DebeziumEnvelope(serverName: "credit", includeSchema: true)
            for (topic, event) in events {
                let key = envelope.encodeKey(event, schema: nil)
                try await producer.send(topic: topic, key: key, value: envelope.encodeValue(event, schema: nil), partition: 0)
                messageCounts[topic, default: 0] += 1
                if event.op == .delete {
                    try await producer.send(topic: topic, key: key, value: nil, partition: 0)
                    messageCounts[topic, default: 0] += 1
                }
            }
            await producer.shutdown()
        }
    }

    func runtime(_ stream: Stream, group: String) throws -> (SinkRuntime, WarehouseTarget) {
        let deadLetterTopic = "\(group).dlq"
        let target = WarehouseTarget(configuration: try W.configuration(), model: W.model, group: group, logger: W.logger)
        let consumer = KafkaConsumerConfiguration(
            connection: try KafkaTestWorld.connection("sluice-warehouse-tests"), groupID: group,
            sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500), offsetReset: .earliest)
        let configuration = SinkRuntimeConfiguration(connectorName: "warehouse-test", consumer: consumer,
                                                     subscription: .topics(stream.topics), batchSize: 7,
                                                     deadLetterTopic: deadLetterTopic)
        return (SinkRuntime(configuration: configuration, target: target, logger: W.logger), target)
    }

    /// The next offsets the warehouse stored for `group`, summed over the stream's topics.
    func storedTotal(_ stream: Stream, group: String) async throws -> Int64 {
        let store = WarehouseOffsetStore(schema: "dw", group: group)
        let partitions = stream.topics.map { TopicPartition(topic: $0, partition: 0) }
        return try await W.withConnection { try await store.load(partitions, on: $0) }.values.reduce(0, +)
    }

    /// Runs the sink in `group` until it stored the end offsets of every topic and returns true; with
    /// `interrupt`, stops it without warning a few ms after it committed its next batch, and returns false.
    func run(_ stream: Stream, group: String, interrupt: Bool = false) async throws -> Bool {
        let (runtime, target) = try runtime(stream, group: group)
        let end = stream.messageCounts.values.reduce(0, +)
        let before = try await storedTotal(stream, group: group)
        let done = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { try await runtime.run(); return false }
            tasks.addTask {
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(60)
                while clock.now < deadline {
                    let stored = try await storedTotal(stream, group: group)
                    if stored == end { return true }
                    if interrupt && stored > before {
                        try await Task.sleep(for: .milliseconds(Int.random(in: 0...40)))
                        return false
                    }
                    try await Task.sleep(for: .milliseconds(interrupt ? 5 : 100))
                }
                throw WarehouseTestWorld.TimedOut(what: "the sink to store offsets of group \(group)")
            }
            let result = try await tasks.next() ?? false
            tasks.cancelAll()  // a stop without warning: what was not committed is lost with the process
            return result
        }
        await target.close()
        return done
    }

    @Test func replayingEveryTopicFromTheBeginningWithAFreshGroupLeavesTheWarehouseIdentical() async throws {
        let base = W.keyBase()
        var stream = try await Stream(base: base, customers: 4)
        try await stream.publish()
        let keys = base...(base + 999)
        #expect(try await run(stream, group: "sluice-warehouse-test-\(base)-a"))
        let first = try await W.withConnection { try await W.dump(keys, on: $0) }
        let versions = try await W.withConnection { try await W.customerVersions(keys, on: $0) }
        // 6 versions per customer (create + 5 tracked updates; the email change makes none), + a deleted one for every third.
        #expect(versions.count == 4 * 6 + 2)
        #expect(try await run(stream, group: "sluice-warehouse-test-\(base)-b"))
        #expect(try await W.withConnection { try await W.dump(keys, on: $0) } == first)
    }

    @Test func stoppingTheSinkAtRandomPointsLosesNothingAndDoublesNothing() async throws {
        let base = W.keyBase()
        var stream = try await Stream(base: base, customers: 6)
        try await stream.publish()
        let group = "sluice-warehouse-test-\(base)"
        var finished = false
        var interruptions = 0
        while !finished && interruptions < 4 {
            finished = try await run(stream, group: group, interrupt: true)
            if !finished { interruptions += 1 }
        }
        if !finished { finished = try await run(stream, group: group) }
        #expect(finished)
        #expect(interruptions > 0)
        let versions = try await W.withConnection { try await W.customerVersions(base...(base + 999), on: $0) }
        #expect(versions.count == 6 * 6 + 2)
        #expect(Set(versions.map(\.surrogate)).count == versions.count)
        let facts = try await W.withConnection { connection in
            try await connection.execute("""
                SELECT (SELECT COUNT(*) FROM dw.fact_credit_application WHERE application_id BETWEEN \(Int32(base)) AND \(Int32(base + 999))
                            AND customer_version_key IS NOT NULL AND status = N'approved'),
                       (SELECT COUNT(*) FROM dw.fact_repayment WHERE repayment_id BETWEEN \(Int32(base)) AND \(Int32(base + 999))
                            AND customer_version_key IS NOT NULL AND application_version_key IS NOT NULL),
                       (SELECT COUNT(*) FROM dw.dim_application WHERE application_id BETWEEN \(Int32(base)) AND \(Int32(base + 999)))
                """).rows.first.map { $0.values.compactMap(\.int64) }
        }
        #expect(facts == [6, 6, 12])
        for id in Set(versions.map(\.customerID)) {
            let history = versions.filter { $0.customerID == id }
            #expect(history.filter(\.isCurrent).count == 1)
            for (version, next) in zip(history, history.dropFirst()) { #expect(version.validTo == next.validFrom) }
        }
    }

    @Test func aPoisonMessageGoesToTheDeadLetterTopicAndTheRestIsApplied() async throws {
        let base = W.keyBase()
        var stream = try await Stream(base: base, customers: 2)
        try await stream.publishPoison()
        try await stream.publish()
        let group = "sluice-warehouse-test-\(base)"
        #expect(try await run(stream, group: group))
        let versions = try await W.withConnection { try await W.customerVersions(base...(base + 999), on: $0) }
        #expect(versions.count == 2 * 6 + 1)
        #expect(!versions.contains { $0.customerID == base + 500 })
        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("warehouse-dlq-reader"))
        try consumer.subscribe(topics: ["\(group).dlq"])
        let dead = try await KafkaTestWorld.consume(consumer, count: 1)
        await consumer.close()
        try #require(dead.count == 1)
        let error = dead[0].headers.last { $0.name == "sluice.error" }?.value.map { String(decoding: $0, as: UTF8.self) }
        #expect(error?.contains("monthly_income") == true)
    }
}
