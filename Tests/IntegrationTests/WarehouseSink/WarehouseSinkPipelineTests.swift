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
        var customers: Int
        var events: [(topic: String, event: ChangeEvent)] = []
        /// Poison messages published ahead of the events, to the customers topic.
        var poison: Int64 = 0

        /// Messages per topic once everything is published: a tombstone follows each delete.
        var messageCounts: [String: Int64] {
            var counts: [String: Int64] = [topics[0]: poison]
            for (topic, event) in events { counts[topic, default: 0] += event.op == .delete ? 2 : 1 }
            return counts
        }

        init(base: Int64, customers: Int) async throws {
            self.base = base
            self.customers = customers
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
            poison += 1
            await producer.shutdown()
        }

        /// Publishes every event (a tombstone after each delete) to partition 0; with `burst`, that many
        /// events at a time, running `between` after each burst.
        func publish(burst: Int = .max, between: @Sendable () async throws -> Void = {}) async throws {
            let producer = try KafkaTestWorld.makeProducer()
            let envelope = DebeziumEnvelope(serverName: "credit", includeSchema: true)
            for (index, (topic, event)) in events.enumerated() {
                let key = envelope.encodeKey(event, schema: nil)
                try await producer.enqueue(topic: topic, key: key, value: envelope.encodeValue(event, schema: nil), partition: 0)
                if event.op == .delete { try await producer.enqueue(topic: topic, key: key, value: nil, partition: 0) }
                if (index + 1) % burst == 0 {
                    try await producer.waitForAllDeliveries()
                    try await between()
                }
            }
            try await producer.waitForAllDeliveries()
            await producer.shutdown()
        }

        /// Checks the warehouse holds exactly the stream's history: per customer a version per tracked
        /// change valid from its commit time, chained without gaps or overlaps, one current, a deleted
        /// version for every third customer, no version twice; facts keyed to the versions valid then.
        func expectCompleteHistory(sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let versions = try await W.withConnection { try await W.customerVersions(base...(base + 999), on: $0) }
            let deleted = (customers + 2) / 3
            #expect(versions.count == customers * 6 + deleted, sourceLocation: sourceLocation)
            #expect(Set(versions.map(\.surrogate)).count == versions.count, "a version id twice", sourceLocation: sourceLocation)
            for c in 0..<Int64(customers) {
                let id = base + c * 10
                let t = W.t0 + c * 100_000
                let history = versions.filter { $0.customerID == id }
                var expected = [t] + (1...5).map { t + Int64($0) * 1000 }
                if c % 3 == 0 { expected.append(t + 9000) }
                #expect(history.map(\.validFrom) == expected, "customer \(id)", sourceLocation: sourceLocation)
                #expect(history.filter(\.isCurrent).count == 1, "customer \(id)", sourceLocation: sourceLocation)
                #expect(history.last?.isDeleted == (c % 3 == 0), "customer \(id)", sourceLocation: sourceLocation)
                for (version, next) in zip(history, history.dropFirst()) {
                    #expect(version.validTo == next.validFrom, "customer \(id)", sourceLocation: sourceLocation)
                }
            }
            let lo = Int32(base), hi = Int32(base + 999)
            let facts = try await W.withConnection { connection in
                try await connection.execute("""
                    SELECT (SELECT COUNT(*) FROM dw.fact_credit_application f JOIN dw.dim_customer c ON c.customer_version_key = f.customer_version_key
                                WHERE f.application_id BETWEEN \(lo) AND \(hi) AND f.status = N'approved'
                                  AND c.valid_from <= f.recorded_at AND (c.valid_to IS NULL OR f.recorded_at < c.valid_to)),
                           (SELECT COUNT(*) FROM dw.fact_repayment f
                                JOIN dw.dim_customer c ON c.customer_version_key = f.customer_version_key
                                JOIN dw.dim_application a ON a.application_version_key = f.application_version_key
                                WHERE f.repayment_id BETWEEN \(lo) AND \(hi) AND a.status = N'approved'
                                  AND c.valid_from <= f.recorded_at AND (c.valid_to IS NULL OR f.recorded_at < c.valid_to)
                                  AND a.valid_from <= f.recorded_at AND (a.valid_to IS NULL OR f.recorded_at < a.valid_to)),
                           (SELECT COUNT(*) FROM dw.dim_application WHERE application_id BETWEEN \(lo) AND \(hi))
                    """).rows.first.map { $0.values.compactMap(\.int64) }
            }
            #expect(facts == [Int64(customers), Int64(customers), Int64(customers) * 2], sourceLocation: sourceLocation)
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
        let stream = try await Stream(base: base, customers: 4)
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
        let stream = try await Stream(base: base, customers: 6)
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
        try await stream.expectCompleteHistory()
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
