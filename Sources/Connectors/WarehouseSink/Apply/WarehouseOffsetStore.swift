import SluiceKafka
import SluiceSQLServer

/// The sink's consumer offsets in the warehouse (`dw.sluice_offsets`): stored in the same transaction as
/// the rows of each batch, read back when partitions are assigned, so the warehouse and its offsets
/// never disagree (exactly-once in effect).
public struct WarehouseOffsetStore: Sendable {
    public let schema: String
    public let group: String

    public init(schema: String, group: String) {
        self.schema = schema
        self.group = group
    }

    var table: String { quoteIdentifier(schema, "sluice_offsets") }

    /// The next offsets stored for `partitions` (partitions never stored are absent).
    public func load(_ partitions: [TopicPartition], on connection: SQLServerConnection) async throws -> [TopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let wanted = Set(partitions)
        var s = StatementBuilder("SELECT topic, partition_id, next_offset FROM \(table) WHERE consumer_group = ")
        let groupParameter = s.bind(.string(group), as: .nvarchar(.count(255)))
        var topicParameters: [String] = []
        for topic in Set(partitions.map(\.topic)).sorted() {
            topicParameters.append(s.bind(.string(topic), as: .nvarchar(.count(249))))
        }
        s.append("\(groupParameter) AND topic IN (\(topicParameters.joined(separator: ", ")))")
        var result: [TopicPartition: Int64] = [:]
        for row in try await connection.execute(s.query).rows {
            guard let topic = row[0].string, let partition = row[1].int64, let offset = row[2].int64 else { continue }
            let tp = TopicPartition(topic: topic, partition: Int32(truncatingIfNeeded: partition))
            if wanted.contains(tp) { result[tp] = offset }
        }
        return result
    }

    /// Upserts the next offsets; run it in the batch's transaction.
    public func store(_ offsets: [TopicPartition: Int64], on connection: SQLServerConnection) async throws {
        var s = StatementBuilder()
        appendStore(offsets, to: &s)
        if !s.isEmpty { try await connection.execute(s.query) }
    }

    /// The statement of `store`, appended to `s` (the sink sends it with the batch's writes); nothing for no offsets.
    func appendStore(_ offsets: [TopicPartition: Int64], to s: inout StatementBuilder) {
        guard !offsets.isEmpty else { return }
        let columns: [(name: String, type: SQLServerDataType)] = [
            ("consumer_group", .nvarchar(.count(255))), ("topic", .nvarchar(.count(249))), ("partition_id", .int), ("next_offset", .bigint),
        ]
        var rows = PackedRows(types: columns.map(\.type), expectedRows: offsets.count)
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rows.beginRow()
            rows.append(.string(group))
            rows.append(.string(tp.topic))
            rows.appendInt(Int64(tp.partition))
            rows.appendInt(offset)
            rows.endRow()
        }
        s.append("MERGE \(table) WITH (HOLDLOCK) AS t USING ")
        s.appendRows(rows, columns: columns)
        s.append("""
             ON t.consumer_group = s.consumer_group AND t.topic = s.topic AND t.partition_id = s.partition_id
            WHEN MATCHED THEN
                UPDATE SET next_offset = s.next_offset, updated_at = SYSUTCDATETIME()
            WHEN NOT MATCHED BY TARGET THEN
                INSERT (consumer_group, topic, partition_id, next_offset, updated_at)
                VALUES (s.consumer_group, s.topic, s.partition_id, s.next_offset, SYSUTCDATETIME());

            """)
    }
}
