import SluiceCore
import SluiceKafka
@testable import SluiceSinkKit
import Testing

@Suite struct SinkBatchBuilderTests {
    let events = SinkTestEvents()

    @Test func tombstonesAreSkippedButTheirOffsetsAdvance() throws {
        let messages = [
            try events.message(events.event(.create, id: 1, name: "a", at: 1), offset: 10),
            try events.message(events.event(.delete, id: 1, at: 2), offset: 11),
            events.tombstone(id: 1, offset: 12),
        ]
        let result = SinkBatchBuilder.build(messages)
        #expect(result.batch.records.map(\.offset) == [10, 11])
        #expect(result.batch.records.map(\.event.op) == [.create, .delete])
        #expect(result.batch.nextOffsets == [TopicPartition(topic: events.topic, partition: 0): 13])
        #expect(result.deadLetters.isEmpty)
        #expect(result.batch.records.first?.schema?.keyColumns == ["id"])
    }

    @Test func undecodableMessagesAreSetAsideAndTheRestGoesOn() throws {
        let poison = KafkaMessage(topic: events.topic, partition: 1, offset: 5, key: Array(#"{"id":9}"#.utf8), value: Array("not json".utf8))
        let keyless = KafkaMessage(topic: events.topic, partition: 1, offset: 6, key: nil,
                                   value: try events.message(events.event(.create, id: 2, at: 3), offset: 0).value)
        let good = try events.message(events.event(.create, id: 3, at: 4), offset: 7, partition: 1)
        let result = SinkBatchBuilder.build([poison, keyless, good])
        #expect(result.deadLetters.map(\.message.offset) == [5, 6])
        #expect(result.deadLetters[1].error.contains("no key"))
        #expect(result.batch.records.map(\.offset) == [7])
        #expect(result.batch.nextOffsets == [TopicPartition(topic: events.topic, partition: 1): 8])
    }

    @Test func stoppedTopicsAreLeftOutEntirely() throws {
        var other = SinkTestEvents()
        other.topic = "credit.CreditStaging.dbo.other"
        let result = SinkBatchBuilder.build([
            try events.message(events.event(.create, id: 1, at: 1), offset: 0),
            try other.message(other.event(.create, id: 1, at: 2), offset: 0),
        ], skipping: [other.topic])
        #expect(result.batch.records.map(\.message.topic) == [events.topic])
        #expect(result.batch.nextOffsets.keys.map(\.topic) == [events.topic])
    }

    @Test func deadLetterHeadersNameTheOrigin() {
        let message = KafkaMessage(topic: "t", partition: 3, offset: 42, key: nil, value: [1], headers: [KafkaHeader(name: "x", string: "y")])
        let headers = DeadLetterHeaders.make(for: message, error: "boom")
        #expect(headers.map(\.description) == ["x=y", "sluice.error=boom", "sluice.topic=t", "sluice.partition=3", "sluice.offset=42"])
    }

    @Test func backoffDoublesUpToItsCap() {
        var backoff = RetryBackoff(initial: .milliseconds(100), maximum: .milliseconds(700))
        let delays = (0..<6).map { _ in backoff.next() }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(700), .milliseconds(700), .milliseconds(700)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func regexSubscriptionsGetTheirCaret() {
        #expect(TopicSubscription.regex(#"credit\..*"#).subscribeList == [#"^credit\..*"#])
        #expect(TopicSubscription.topics(["a", "b"]).subscribeList == ["a", "b"])
    }
}

@Suite struct SchemaBlockCacheTests {
    @Test func splitsConnectsSchemaAndPayload() throws {
        let text = #" {"schema": {"type":"struct","fields":[{"field":"a}\"]"}]} , "payload":{"op":"c","s":"x,}"} } "#
        let bytes = Array(text.utf8)
        let split = try #require(SchemaBlockCache.split(bytes))
        #expect(String(decoding: bytes[split.schema], as: UTF8.self) == #"{"type":"struct","fields":[{"field":"a}\"]"}]}"#)
        #expect(String(decoding: bytes[split.payload], as: UTF8.self) == #"{"op":"c","s":"x,}"}"#)
        #expect(SchemaBlockCache.split(Array(#"{"payload":{},"schema":{}}"#.utf8)) == nil)
        #expect(SchemaBlockCache.split(Array(#"{"op":"c"}"#.utf8)) == nil)
        #expect(SchemaBlockCache.split(Array(#"{"schema":{},"payload":{}}x"#.utf8)) == nil)
    }

    @Test func aRememberedSchemaBlockSplitsLikeAScanAndAnOtherOneStillScans() throws {
        func texts(_ message: String) throws -> (String, String) {
            let bytes = Array(message.utf8)
            let split = try #require(SchemaBlockCache.split(bytes))
            return (String(decoding: bytes[split.schema], as: UTF8.self), String(decoding: bytes[split.payload], as: UTF8.self))
        }
        let schema = #"{"type":"struct","fields":[{"field":"before"},{"field":"after"},{"field":"x\"}"}],"name":"t.Envelope"}"#
        let other = schema.replacingOccurrences(of: "after", with: "afteR")
        // The first message is scanned and its schema remembered; the second starts with it.
        #expect(try texts(#"{"schema":\#(schema),"payload":{"op":"c"}}"#) == (schema, #"{"op":"c"}"#))
        #expect(try texts(#"{"schema":\#(schema),"payload":{"op":"u","v":"},"}}"#) == (schema, #"{"op":"u","v":"},"}"#))
        // Same length, different bytes: not the remembered block.
        #expect(try texts(#"{"schema":\#(other),"payload":{"op":"d"}}"#) == (other, #"{"op":"d"}"#))
        // The remembered block followed by something other than the payload: not split.
        #expect(SchemaBlockCache.split(Array(#"{"schema":\#(schema),"extra":1,"payload":{}}"#.utf8)) == nil)
    }

    @Test func cachedSchemasDecodeLikeFullOnes() throws {
        let events = SinkTestEvents()
        let message = try events.message(events.event(.update, id: 4, name: "n", balance: "1.50", at: 9), offset: 0)
        let viaCache = try #require(SinkBatchBuilder.build([message, message]).batch.records.last)
        let full = try DebeziumEnvelope.decode(key: message.key, value: message.value!)
        #expect(viaCache.event == full)
        #expect(viaCache.schema == (try DebeziumEnvelope.decodeSchema(key: message.key, value: message.value!, table: full.table)))
    }

    @Test func aRememberedSchemaFollowedByMoreThanThePayloadIsDecodedWhole() throws {
        let events = SinkTestEvents()
        let good = try events.message(events.event(.create, id: 5, at: 1), offset: 0)
        let value = good.value!
        // The same message with a field after its payload: the unchecked payload range does not parse, the
        // whole message is decoded, and (not being an envelope) it is a dead letter, not a record.
        let extra = Array(value.dropLast()) + Array(#","extra":1}"#.utf8)
        let odd = KafkaMessage(topic: good.topic, partition: 0, offset: 1, key: good.key, value: extra)
        let result = SinkBatchBuilder.build([good, odd, good])
        #expect(result.batch.records.map(\.event) == [try DebeziumEnvelope.decode(key: good.key, value: value)] + [try DebeziumEnvelope.decode(key: good.key, value: value)])
        #expect(result.deadLetters.map(\.message.offset) == [1])
        #expect(result.batch.nextOffsets == [TopicPartition(topic: events.topic, partition: 0): 2])
    }
}
