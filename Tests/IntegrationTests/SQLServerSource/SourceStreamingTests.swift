import Foundation
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource
import Testing

@Suite("SQL Server source: snapshot and streaming against the local world", .serialized)
struct SourceStreamingTests {
    static let customers = "id int NOT NULL PRIMARY KEY, name nvarchar(100) NULL, income decimal(18,2) NULL, updated datetime2(3) NULL"

    @Test("the snapshot plus the stream deliver every committed change once, in commit order, with before/after images")
    func snapshotThenStream() async throws {
        let world = try await SourceTestWorld.make("stream", tables: [("customers", Self.customers)], beforeCDC: [
            "INSERT INTO dbo.customers (id, name, income, updated) VALUES (1, N'Zoë Ørsted', 1000.50, '2025-01-06T09:37:00.358'), (2, N'Ben', 2000.00, NULL), (3, N'Chloé', NULL, NULL)",
        ])
        let topic = world.topic("customers")
        let reader = try await TopicReader(topics: [topic])
        let txReader = try await TopicReader(topics: [TopicNamer(prefix: world.prefix).transactionTopic])
        let configuration = SourceConfigurationBox(value: try world.configuration())
        let messages = try await world.withConnector(configuration) { health in
            let snapshot = try await reader.read { $0.count >= 3 }
            #expect(snapshot.count == 3)
            try await world.withConnection { conn in
                try await conn.withTransaction { conn in
                    try await conn.execute("INSERT INTO dbo.customers (id, name, income) VALUES (4, N'Dmitri', 4000.25)")
                    try await conn.execute("UPDATE dbo.customers SET income = 1100.75 WHERE id = 1")
                }
                try await conn.execute("DELETE FROM dbo.customers WHERE id = 2")
                try await conn.execute("UPDATE dbo.customers SET id = 30 WHERE id = 3")
                do {
                    try await conn.withTransaction { conn in
                        try await conn.execute("INSERT INTO dbo.customers (id, name) VALUES (5, N'rolled back')")
                        throw CancellationError()
                    }
                } catch is CancellationError {}
            }
            // 3 snapshot reads, c + u, d + tombstone, d + tombstone + c (primary-key change).
            let rest = try await reader.read { $0.count >= 7 }
            #expect(health.isReady)
            return snapshot + rest
        }
        await reader.close()
        try #require(messages.count == 10, "got \(messages.count) messages")
        let events = try messages.compactMap { try $0.event() }
        try #require(events.count == 8)
        #expect(events.map(\.op) == [.read, .read, .read, .create, .update, .delete, .delete, .create])
        #expect(events.prefix(3).map { $0.key["id"] } == [.number("1"), .number("2"), .number("3")])
        #expect(Set(events.prefix(3).map(\.position)).count == 1, "snapshot reads share the fence position")
        #expect(events[0].snapshot == .first && events[2].snapshot == .last)
        // Streamed positions strictly increase, and all follow the snapshot.
        let streamed = events.dropFirst(3).map(\.position)
        #expect(zip(streamed, streamed.dropFirst()).allSatisfy { $0 < $1 })
        #expect(events[2].position < streamed.first!)
        // The two changes of one transaction share the commit LSN; the insert (first command) comes first.
        #expect(events[3].position.commitLSN == events[4].position.commitLSN)
        #expect(events[3].after?["id"] == .number("4") && events[3].after?["income"] == .string("4000.25"))
        #expect(events[4].before?["income"] == .string("1000.50") && events[4].after?["income"] == .string("1100.75"))
        #expect(events[0].after?["name"] == .string("Zoë Ørsted"))
        #expect(events[0].after?["updated"] == .number("1736156220358"))
        #expect(events[5].before?["id"] == .number("2") && events[5].after == nil)
        #expect(messages[6].value == nil && messages[6].key == messages[5].key, "a tombstone follows the delete")
        #expect(events[6].key == ["id": .number("3")] && events[7].key == ["id": .number("30")])
        #expect(events[6].position.eventSerialNo == 1 && events[7].position.eventSerialNo == 2 || events[6].position.commitLSN == events[7].position.commitLSN)
        // Commit time from cdc.lsn_time_mapping, not the processing clock far in the past or future.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(events[3].commitTimeMs - now) < 120_000)
        #expect(!events.contains { $0.after?["id"] == .number("5") }, "rolled-back work never appears")

        // Transaction metadata: BEGIN/END around the two-event transaction.
        let markers = try await txReader.read(timeout: .seconds(20)) { $0.count >= 2 }
        await txReader.close()
        let first = try #require(markers.first?.value.map { try JSONValue.parse($0) })
        #expect(first["status"] == .string("BEGIN") && first["id"] == .string(events[3].position.commitLSN.description))
        let end = try #require(markers.dropFirst().first?.value.map { try JSONValue.parse($0) })
        #expect(end["status"] == .string("END") && end["event_count"] == .number("2"))
    }

    @Test("a graceful restart resumes after the stored position: no duplicates, nothing lost")
    func gracefulRestartResumes() async throws {
        let world = try await SourceTestWorld.make("restart", tables: [("customers", Self.customers)])
        let configuration = SourceConfigurationBox(value: try world.configuration())
        let reader = try await TopicReader(topics: [world.topic("customers")])
        try await world.withConnector(configuration) { health in
            try #require(try await eventually { health.isReady }, "the source did not start streaming")
            try await world.withConnection { conn in
                for id in 1...5 { try await conn.execute("INSERT INTO dbo.customers (id, name) VALUES (\(id), N'first run')") }
            }
            let seen = try await reader.read { $0.count >= 5 }
            #expect(seen.count == 5)
        }
        try await world.withConnection { conn in
            for id in 6...8 { try await conn.execute("INSERT INTO dbo.customers (id, name) VALUES (\(id), N'while stopped')") }
        }
        try await world.withConnector(configuration) { health in
            try #require(try await eventually { health.isReady }, "the source did not resume streaming")
            try await world.withConnection { conn in
                try await conn.execute("UPDATE dbo.customers SET name = N'second run' WHERE id = 1")
            }
            let more = try await reader.read { $0.count >= 4 }
            let events = try more.compactMap { try $0.event() }
            try #require(events.count == 4, "got \(events.count) events")
            #expect(events.map(\.op) == [.create, .create, .create, .update])
            #expect(events.prefix(3).compactMap { $0.after?["id"]?.int64Value } == [6, 7, 8])
            // Nothing more arrives: the first run's events are not re-published.
            let extra = try await reader.read(timeout: .seconds(3)) { _ in false }
            #expect(extra.isEmpty, "duplicates after a graceful restart: \(extra.count)")
        }
        await reader.close()
    }

    @Test("every captured type maps to its documented JSON representation without precision loss")
    func typeRepresentations() async throws {
        let columns = """
            id int NOT NULL PRIMARY KEY, b bit NULL, ti tinyint NULL, si smallint NULL, bi bigint NULL,
            d decimal(38,10) NULL, m money NULL, r real NULL, f float NULL, c char(3) NULL, vc varchar(20) NULL,
            nvc nvarchar(max) NULL, bin varbinary(16) NULL, dt date NULL, t time(3) NULL, sdt smalldatetime NULL,
            dtm datetime NULL, dt2 datetime2(6) NULL, dto datetimeoffset(3) NULL, u uniqueidentifier NULL
            """
        let world = try await SourceTestWorld.make("types", tables: [("alltypes", columns)])
        let reader = try await TopicReader(topics: [world.topic("alltypes")])
        let event = try await world.withConnector(SourceConfigurationBox(value: try world.configuration())) { health in
            try #require(try await eventually { health.isReady }, "the source did not start streaming")
            try await world.withConnection { conn in
                try await conn.execute("""
                    INSERT INTO dbo.alltypes VALUES (1, 1, 255, -32768, 9223372036854775807,
                      1234567890123456789012345678.0123456789, 922337203685477.5807, 1.5, 2.25, 'abc', 'plain',
                      N'日本語 text', 0x00FF10, '2024-02-29', '13:45:30.123', '2024-02-29 13:45:00',
                      '2024-02-29 13:45:30.123', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123 +05:30',
                      '6F9619FF-8B86-D011-B42D-00C04FC964FF')
                    """)
            }
            return try #require(try await reader.read { !$0.isEmpty }.first?.event())
        }
        await reader.close()
        let after = try #require(event.after)
        #expect(after["b"] == .bool(true))
        #expect(after["ti"] == .number("255") && after["si"] == .number("-32768"))
        #expect(after["bi"] == .number("9223372036854775807"))
        #expect(after["d"] == .string("1234567890123456789012345678.0123456789"))
        #expect(after["m"] == .string("922337203685477.5807"))
        #expect(after["r"] == .number("1.5") && after["f"] == .number("2.25"))
        #expect(after["c"] == .string("abc") && after["vc"] == .string("plain") && after["nvc"] == .string("日本語 text"))
        #expect(after["bin"] == .string("AP8Q"))
        #expect(after["dt"] == .number("19782"))
        #expect(after["t"] == .number("49530123"))
        #expect(after["sdt"] == .number("1709214300000"))
        #expect(after["dtm"] == .number("1709214330123"))
        #expect(after["dt2"] == .number("1709214330123456"))
        #expect(after["dto"] == .string("2024-02-29T13:45:30.123+05:30"))
        #expect(after["u"] == .string("6F9619FF-8B86-D011-B42D-00C04FC964FF"))
    }
}
