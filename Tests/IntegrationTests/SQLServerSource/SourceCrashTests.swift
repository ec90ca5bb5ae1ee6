import Foundation
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource
import Testing

@Suite("SQL Server source: kill -9 of `sluice run` while streaming", .serialized)
struct SourceCrashTests {
    @Test("kill -9 at random points loses nothing; duplicates repeat the same key and position; the final state matches")
    func killNineLosesNothing() async throws {
        let world = try await SourceTestWorld.make("crash", tables: [("accounts", "id int NOT NULL PRIMARY KEY, balance int NOT NULL, note nvarchar(50) NULL")])
        let directory = try SluiceProcess.scratchDirectory("crash-\(world.prefix)")
        let connectorFile = try SluiceProcess.writeConnectorFile(name: "crash-\(world.prefix)", config: try world.properties(["max.iteration.transactions": "7"]),
                                                                 in: directory)
        let process = SluiceProcess(connectorFiles: [connectorFile], log: directory.appendingPathComponent("sluice.log"))

        // 15 rows exist before the connector starts; its snapshot reads them, then it streams.
        try await world.withConnection { conn in
            for id in 1...15 { try await conn.execute("INSERT INTO dbo.accounts (id, balance) VALUES (\(id), \(id))") }
        }
        try process.start()
        let reader = try await TopicReader(topics: [world.topic("accounts")])
        var events: [ChangeEvent] = []
        func drain() async throws {
            for message in try await reader.read(timeout: .milliseconds(300), until: { _ in false }) {
                if let event = try message.event() { events.append(event) }
            }
        }
        let snapshotDone = try await eventually(timeout: .seconds(60)) {
            try await drain()
            return events.filter { $0.op == .read }.count >= 15
        }
        try #require(snapshotDone, "the snapshot did not complete")

        // A writer commits 105 small transactions while the connector is killed (SIGKILL) and restarted.
        async let writing: Void = world.withConnection { conn in
            for i in 16...120 {
                let id = i % 15 + 1
                try await conn.withTransaction { conn in
                    if i % 11 == 0 {
                        try await conn.execute("DELETE FROM dbo.accounts WHERE id = \(id)")
                        try await conn.execute("INSERT INTO dbo.accounts (id, balance, note) VALUES (\(id), \(i), N'reinserted')")
                    } else {
                        try await conn.execute("UPDATE dbo.accounts SET balance = balance + \(i), note = N'tx \(i)' WHERE id = \(id)")
                    }
                }
                try await Task.sleep(for: .milliseconds(60))
            }
        }
        for _ in 0..<3 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 4000...7000)))
            process.killNine()
            try process.start()
        }
        try await writing

        // Expected: one event per change the capture job recorded after the snapshot's fence, counted once
        // it harvested the writer's last transaction (id 1's last update: under load the job lags, and an
        // early count is short).
        let lastBalance = try await world.withConnection { conn in
            try await conn.execute("SELECT balance FROM dbo.accounts WHERE id = 1").rows.first?[0].int ?? -1
        }
        let harvested = try await eventually(timeout: .seconds(60)) {
            try await world.withConnection { conn in
                try await conn.execute("SELECT COUNT(*) FROM cdc.dbo_accounts_CT WHERE id = 1 AND __$operation IN (2, 4) AND balance = \(lastBalance)").rows.first?[0].int ?? 0
            } > 0
        }
        try #require(harvested, "the capture job did not harvest the last transaction")
        let fence = try #require(events.first { $0.op == .read }?.position.commitLSN)
        let expected = try await world.withConnection { conn -> Int in
            let rows = try await conn.execute("SELECT COUNT(*) FROM cdc.dbo_accounts_CT WHERE __$operation IN (1, 2, 4) AND __$start_lsn > \(fence.bytes, as: .binary(10))").rows
            return rows.first?[0].int ?? -1
        }
        let finalRows = try await world.withConnection { conn in
            try await conn.execute("SELECT id, balance FROM dbo.accounts ORDER BY id").rows.map { ($0[0].int!, $0[1].int!) }
        }
        let streamedPositions = { Set(events.filter { $0.op != .read }.map(\.position)) }
        let done = try await eventually(timeout: .seconds(90)) {
            try await drain()
            return streamedPositions().count >= expected
        }
        process.stop()
        await reader.close()
        let logText = process.logText
        #expect(done, "saw \(streamedPositions().count) distinct positions of \(expected) changes; log tail:\n\(logText.suffix(3000))")

        // Duplicates carry identical content.
        var byPosition: [SourcePosition: ChangeEvent] = [:]
        for event in events where event.op != .read {
            if let seen = byPosition[event.position] {
                #expect(seen.key == event.key && seen.before == event.before && seen.after == event.after && seen.op == event.op,
                        "a duplicate at \(event.position) differs")
            } else {
                byPosition[event.position] = event
            }
        }
        #expect(byPosition.count == expected)
        // Per key, distinct events arrive in position order (a replay restarts from an earlier position, never skips).
        var lastByKey: [JSONObject: SourcePosition] = [:]
        var distinctInOrder: [ChangeEvent] = []
        var seenPositions = Set<SourcePosition>()
        for event in events where event.op != .read && seenPositions.insert(event.position).inserted {
            if let last = lastByKey[event.key] { #expect(last < event.position, "key \(event.key) went backwards") }
            lastByKey[event.key] = event.position
            distinctInOrder.append(event)
        }
        // Applying the distinct events gives the table's final state.
        var state: [Int64: Int64] = [:]
        for event in events where event.op == .read {
            if let id = event.key["id"]?.int64Value { state[id] = event.after?["balance"]?.int64Value }
        }
        for event in distinctInOrder {
            guard let id = event.key["id"]?.int64Value else { continue }
            if event.op == .delete { state[id] = nil } else { state[id] = event.after?["balance"]?.int64Value }
        }
        #expect(state.sorted { $0.key < $1.key }.map { Int($0.key) } == finalRows.map(\.0))
        #expect(state.sorted { $0.key < $1.key }.map { Int($0.value) } == finalRows.map(\.1))
        // A process killed during start-up may not get as far as loading; the ones that ran streamed on
        // from the stored offset (the first run plus at least one restart).
        #expect(process.logCount("Loaded stored offset") >= 2, "restarts loaded the stored offset")
        try? FileManager.default.removeItem(at: directory)
    }
}
