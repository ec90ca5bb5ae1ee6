import SluiceCore
import SluiceKafka
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

/// Rows and offsets commit together or not at all; the operator's checksum query.
@Suite struct WarehouseTransactionTests {
    typealias W = WarehouseTestWorld

    struct Crash: Error {}

    @Test func aBatchInterruptedBeforeCommitLeavesNeitherRowsNorOffsetsAndItsRedoAppliesOnce() async throws {
        let base = W.keyBase()
        let group = "sluice-warehouse-test-\(base)"
        let store = WarehouseOffsetStore(schema: "dw", group: group)
        let partition = TopicPartition(topic: "credit.CreditStaging.dbo.customers", partition: 0)
        let events = (1...4).map { W.customer($0 == 1 ? .create : .update, base + 1, n: $0, at: W.t0 + Int64($0) * 1000, address: "Street \($0)") }
        try await W.withConnection { connection in
            try await connection.withTransaction { connection in
                try await W.writer.apply(try WarehouseBatch(events: Array(events[0..<2]), model: W.model), on: connection)
                try await store.store([partition: 2], on: connection)
            }
            // The second batch dies after its rows were written, before the commit.
            await #expect(throws: Crash.self) {
                try await connection.withTransaction { connection in
                    try await W.writer.apply(try WarehouseBatch(events: Array(events[2...]), model: W.model), on: connection)
                    try await store.store([partition: 4], on: connection)
                    throw Crash()
                }
            }
            #expect(try await store.load([partition], on: connection) == [partition: 2])
            #expect(try await W.customerVersions((base + 1)...(base + 1), on: connection).count == 2)
            // The restarted sink resumes at offset 2 and applies the second batch again — plus a duplicate of the first.
            try await connection.withTransaction { connection in
                try await W.writer.apply(try WarehouseBatch(events: Array(events[1...]), model: W.model), on: connection)
                try await store.store([partition: 4], on: connection)
            }
            #expect(try await store.load([partition], on: connection) == [partition: 4])
            let versions = try await W.customerVersions((base + 1)...(base + 1), on: connection)
            #expect(versions.map(\.address) == ["Street 1", "Street 2", "Street 3", "Street 4"])
        }
    }

    /// The checksum query of docs/warehouse.md, as an operator runs it before and after a replay.
    @Test func theChecksumQueryIsStableAcrossAReplay() async throws {
        let base = W.keyBase()
        let events = (1...3).map { W.customer($0 == 1 ? .create : .update, base + 1, n: $0, at: W.t0 + Int64($0) * 1000, address: "Street \($0)") }
        try await W.withConnection { connection in
            try await W.apply(events, on: connection)
            func checksum() async throws -> [UInt8]? {
                let query = SQLServerQuery(sql: W.checksumQuery.replacingOccurrences(of: "@lo", with: "@p1").replacingOccurrences(of: "@hi", with: "@p2"),
                                           parameters: [.init(name: "@p1", value: .int(Int32(base))), .init(name: "@p2", value: .int(Int32(base + 999)))])
                return try await connection.execute(query).rows.first?[0].bytes
            }
            let before = try await checksum()
            #expect(before?.count == 32)
            try await W.apply(events, on: connection)
            #expect(try await checksum() == before)
        }
    }
}
