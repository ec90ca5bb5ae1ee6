@testable import SluicePostgresSink
import SluiceKafka
import Testing

@Suite struct ApplyLanesTests {
    static func tp(_ topic: String, _ partition: Int32) -> TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// `count` records of `partition` into `table`.
    static func records(_ counts: [(TopicPartition, String, Int)]) -> [(partition: TopicPartition, table: String)] {
        counts.flatMap { partition, table, count in Array(repeating: (partition: partition, table: table), count: count) }
    }

    @Test("one connection, or one partition: one lane with every partition")
    func oneLane() {
        let partitions = [Self.tp("a", 0), Self.tp("b", 0)]
        let records = Self.records([(partitions[0], "s.a", 5), (partitions[1], "s.b", 5)])
        #expect(ApplyLanes(records: records, partitions: partitions, connections: 1).lanes == [partitions])
        #expect(ApplyLanes(records: records.prefix(5), partitions: [partitions[0]], connections: 4).lanes == [[partitions[0]]])
        #expect(ApplyLanes(records: [], partitions: [], connections: 4).lanes == [])
    }

    @Test("partitions are balanced by record count, largest first, over at most `connections` lanes")
    func balanced() {
        let p = (0..<4).map { Self.tp("t", $0) }
        let records = Self.records([(p[0], "s.t", 100), (p[1], "s.t", 60), (p[2], "s.t", 50), (p[3], "s.t", 10)])
        let plan = ApplyLanes(records: records, partitions: p, connections: 2)
        #expect(plan.lanes == [[p[0], p[3]], [p[1], p[2]]])  // 100 + 10 | 60 + 50
        let three = ApplyLanes(records: records, partitions: p, connections: 3)
        #expect(three.lanes == [[p[0]], [p[1]], [p[2], p[3]]])  // 100 | 60 | 50 + 10
        #expect(ApplyLanes(records: records, partitions: p, connections: 16).lanes.count == 4)
    }

    @Test("a partition with only tombstones (no records) still gets a lane, so its offset is stored")
    func offsetOnlyPartitions() {
        let p = [Self.tp("t", 0), Self.tp("t", 1)]
        let plan = ApplyLanes(records: Self.records([(p[0], "s.t", 3)]), partitions: p, connections: 2)
        #expect(Set(plan.lanes.flatMap { $0 }) == Set(p))
        #expect(plan.lanes.count == 2)
    }

    @Test("topics that write the same table share one lane (they may carry the same key); other tables stay apart")
    func sharedTableSharesALane() {
        let a0 = Self.tp("east.accounts", 0), a1 = Self.tp("east.accounts", 1), b0 = Self.tp("west.accounts", 0), c0 = Self.tp("loans", 0)
        let records = Self.records([(a0, "r.accounts", 10), (a1, "r.accounts", 10), (b0, "r.accounts", 10), (c0, "r.loans", 10)])
        let plan = ApplyLanes(records: records, partitions: [a0, a1, b0, c0], connections: 3)
        #expect(plan.lanes.count == 2)
        #expect(plan.lanes.contains([a0, a1, b0]))
        #expect(plan.lanes.contains([c0]))
    }

    @Test("one topic's partitions writing one table are split (keys hash to partitions: no row is shared)")
    func onePartitionedTopicIsSplit() {
        let p = (0..<6).map { Self.tp("t", $0) }
        let plan = ApplyLanes(records: Self.records(p.map { ($0, "s.t", 10) }), partitions: p, connections: 3)
        #expect(plan.lanes.count == 3 && plan.lanes.allSatisfy { $0.count == 2 })
    }
}
