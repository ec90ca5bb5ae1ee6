import SluiceKafka
import Testing
@testable import SluiceSinkKit

/// The consumer a sink's connector file gets: a 10 s session (not librdkafka's 45 s, which made a new
/// group wait ~22 s for its first join on the local broker), overridable, and static membership when
/// `kafka.group.instance.id` is set (an empty value, an unset `${VAR:-}`, leaves it off).
@Suite struct SinkConsumerDefaultsTests {
    func properties(_ kafka: [(String, String)]) throws -> KafkaProperties {
        try SinkRuntimeConfiguration.consumer(connectorName: "replica", bootstrapServers: "127.0.0.1:9092",
                                              kafkaProperties: kafka, groupID: "sluice-replica").properties()
    }

    /// The consumer's properties once the runtime added its own defaults.
    func runtime(_ kafka: [(String, String)]) throws -> KafkaProperties {
        let consumer = try SinkRuntimeConfiguration.consumer(connectorName: "replica", bootstrapServers: "127.0.0.1:9092",
                                                             kafkaProperties: kafka, groupID: "sluice-replica")
        return try SinkRuntimeConfiguration(connectorName: "replica", consumer: consumer, subscription: .topics(["t"])).consumer.properties()
    }

    @Test func sessionDefaultsSuitBothTheLocalBrokerAndKafka() throws {
        let p = try properties([])
        #expect(p["session.timeout.ms"] == "10000")
        #expect(p["heartbeat.interval.ms"] == "3000")
        #expect(p["group.instance.id"] == nil)
        #expect(p["group.id"] == "sluice-replica")
    }

    @Test func kafkaKeysOverrideTheDefaults() throws {
        let p = try properties([("session.timeout.ms", "45000"), ("heartbeat.interval.ms", "15000")])
        #expect(p["session.timeout.ms"] == "45000")
        #expect(p["heartbeat.interval.ms"] == "15000")
    }

    @Test func staticMembershipWhenAnInstanceIDIsGiven() throws {
        #expect(try properties([("group.instance.id", "host1-replica-postgres")])["group.instance.id"] == "host1-replica-postgres")
        #expect(try properties([("group.instance.id", "")])["group.instance.id"] == nil)
    }

    /// The pre-fetch queue's backoff: librdkafka's 1 s left a sink that drains the queue idle for the rest
    /// of the second (21k against 42k msg/s on the credit topics); its size: 32 MiB. A connector file can
    /// still set both.
    @Test func fetchQueueBackoffIsShortAndTheQueueHalfUnlessSet() throws {
        #expect(try runtime([])["fetch.queue.backoff.ms"] == "10")
        #expect(try runtime([("fetch.queue.backoff.ms", "500")])["fetch.queue.backoff.ms"] == "500")
        // With the short backoff a 32 MiB queue keeps up (64 MiB only added ~60 MiB of peak RSS).
        #expect(try runtime([])["queued.max.messages.kbytes"] == "32768")
        #expect(try runtime([("queued.max.messages.kbytes", "65536")])["queued.max.messages.kbytes"] == "65536")
    }

    /// librdkafka bounds a fetch response on the wire only (32 MiB here unless set); decompressed that was
    /// several hundred MiB of an lz4 topic (305 MiB peak RSS on a 200,000-event backlog; 171 at 1 MiB).
    /// The sinks ask for 1 MiB per response unless a connector file says otherwise.
    @Test func oneFetchResponseIsOneMebibyteUnlessSet() throws {
        #expect(try runtime([])["fetch.max.bytes"] == "1048576")
        #expect(try runtime([])["max.partition.fetch.bytes"] == "8388608")
        #expect(try runtime([("fetch.max.bytes", "33554432")])["fetch.max.bytes"] == "33554432")
    }
}
