import SluiceKafka

/// How one batch is split among `apply.connections` Postgres connections that apply it in parallel.
///
/// The unit is the partition: each partition's rows and its next offset are written in one transaction
/// on one connection, so a partition's events keep their order and its offset is stored with exactly
/// the rows it produced. Keys hash to partitions, so two partitions of one topic never write the same
/// row. Two *topics* that feed the same target table may carry the same key, though: their partitions
/// are kept together in one lane, so one row is never written by two concurrent transactions.
///
/// Units are given to lanes largest first, each to the lane with the fewest records so far; the plan is
/// a pure function of the batch (no state carries over: batch n is committed in every lane before batch
/// n+1 starts).
struct ApplyLanes: Equatable {
    /// The partitions of each lane, none empty; a single lane when the batch cannot be split.
    var lanes: [[TopicPartition]]

    /// - Parameters:
    ///   - records: per record of the batch, its partition and its target table (`schema.table`);
    ///   - partitions: every partition whose offset the batch stores (tombstone-only ones too);
    ///   - connections: the most lanes wanted.
    init(records: some Sequence<(partition: TopicPartition, table: String)>, partitions: some Collection<TopicPartition>, connections: Int) {
        let all = partitions.sorted()
        guard connections > 1, all.count > 1 else {
            lanes = all.isEmpty ? [] : [all]
            return
        }
        var index: [TopicPartition: Int] = [:]
        for (i, partition) in all.enumerated() { index[partition] = i }
        var units = UnionFind(count: all.count)
        var counts = [Int](repeating: 0, count: all.count)
        /// Per target table, the topics and the partitions that write it.
        var writers: [String: (topics: Set<String>, partitions: Set<Int>)] = [:]
        var previous: (partition: TopicPartition, table: String)?
        for record in records {
            guard let i = index[record.partition] else { continue }
            counts[i] += 1
            // Consecutive records nearly always share partition and table.
            if let previous, previous.partition == record.partition, previous.table == record.table { continue }
            previous = record
            writers[record.table, default: ([], [])].topics.insert(record.partition.topic)
            writers[record.table, default: ([], [])].partitions.insert(i)
        }
        // A table several topics write: every partition writing it shares one lane.
        for (_, writer) in writers where writer.topics.count > 1 {
            let members = writer.partitions.sorted()
            for member in members.dropFirst() { units.union(members[0], member) }
        }
        var grouped: [Int: (partitions: [TopicPartition], records: Int)] = [:]
        for (i, partition) in all.enumerated() {
            let root = units.find(i)
            grouped[root, default: ([], 0)].partitions.append(partition)
            grouped[root, default: ([], 0)].records += counts[i]
        }
        let ordered = grouped.values.sorted { a, b in
            a.records != b.records ? a.records > b.records : a.partitions[0] < b.partitions[0]
        }
        var lanes = [(partitions: [TopicPartition], records: Int)](repeating: ([], 0), count: min(connections, ordered.count))
        for unit in ordered {
            let target = lanes.indices.min { a, b in
                lanes[a].records != lanes[b].records ? lanes[a].records < lanes[b].records : a < b
            }!
            lanes[target].partitions.append(contentsOf: unit.partitions)
            lanes[target].records += unit.records
        }
        self.lanes = lanes.map { $0.partitions.sorted() }.filter { !$0.isEmpty }
    }

    private struct UnionFind {
        var parent: [Int]

        init(count: Int) { parent = Array(0..<count) }

        mutating func find(_ i: Int) -> Int {
            var root = i
            while parent[root] != root { root = parent[root] }
            var node = i
            while parent[node] != root {
                let next = parent[node]
                parent[node] = root
                node = next
            }
            return root
        }

        mutating func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
    }
}
