import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource
import Testing

@Suite("SQL Server source: kill -9 during the initial snapshot resumes at the last acknowledged chunk", .serialized)
struct SourceSnapshotResumeTests {
    /// Rows of the table (`SLUICE_SNAPSHOT_RESUME_ROWS`; 200000 is the size, run by hand).
    static let rows = Int(ProcessInfo.processInfo.environment["SLUICE_SNAPSHOT_RESUME_ROWS"] ?? "") ?? 20_000
    static let chunk = max(100, rows / 40)

    @Test("a kill -9 mid-table resumes after the stored key: rows before it are not read again, nothing is missing, streaming covers the downtime")
    func killNineMidTableResumes() async throws {
        let n = Self.rows
        let world = try await SourceTestWorld.make("resume", tables: [
            ("agencies", "id int NOT NULL PRIMARY KEY, name nvarchar(40) NOT NULL"),
            ("big", "id int NOT NULL PRIMARY KEY, region nvarchar(10) NOT NULL, amount int NOT NULL"),
        ])
        let loadStart = ContinuousClock.now
        try await world.withConnection { conn in
            try await conn.execute("INSERT INTO dbo.agencies VALUES (1, N'north'), (2, N'south')")
            var id = 1
            while id <= n {
                let upper = min(id + 999, n)
                let values = (id...upper).map { "(\($0), N'r\($0 % 7)', \($0 * 3))" }.joined(separator: ", ")
                try await conn.execute(SQLServerQuery(sql: "INSERT INTO dbo.big (id, region, amount) VALUES \(values)"))
                id = upper + 1
            }
        }
        print("snapshot-resume: loaded \(n) rows in \(ContinuousClock.now - loadStart)")
        let directory = try SluiceProcess.scratchDirectory("resume-\(world.prefix)")
        let file = try SluiceProcess.writeConnectorFile(
            name: "resume-\(world.prefix)", config: try world.properties(["snapshot.fetch.size": String(Self.chunk)]), in: directory)
        let process = SluiceProcess(connectorFiles: [file], log: directory.appendingPathComponent("sluice.log"))
        let reader = try await TopicReader(topics: [world.topic("big")])
        var ids: [Int] = []
        var events: [ChangeEvent] = []
        func drain() async throws {
            for message in try await reader.read(timeout: .milliseconds(300), until: { _ in false }) {
                guard let event = try message.event() else { continue }
                events.append(event)
                if event.op == .read, let id = event.key["id"]?.int64Value { ids.append(Int(id)) }
            }
        }

        let started = ContinuousClock.now
        try process.start()
        // Kill once about a third of the table was read (the source's own count on /metrics: chunks are
        // acknowledged before the next is read, so several are stored by then).
        let port = try await process.operationsPort()
        let third = try await eventually(timeout: .seconds(600)) { try await Self.rowsRead(port: port, table: "dbo.big") >= n / 3 }
        try #require(third, "the snapshot did not get a third of the way; log:\n\(process.logText.suffix(3000))")
        process.killNine()
        let firstRun = ContinuousClock.now - started
        try await drain()
        let beforeKill = ids.count
        // While it is down: a row already read changes, a new row arrives past the resume point.
        try await world.withConnection { conn in
            try await conn.execute("UPDATE dbo.big SET amount = -1 WHERE id = 1")
            try await conn.execute("INSERT INTO dbo.big (id, region, amount) VALUES (\(n + 1), N'late', 7)")
        }
        let restarted = ContinuousClock.now
        try process.start()
        let complete = try await eventually(timeout: .seconds(900)) {
            try await drain()
            return Set(ids).count >= n + 1 && events.contains { $0.op == .update && $0.key["id"]?.int64Value == 1 }
        }
        let secondRun = ContinuousClock.now - restarted
        let log = process.logText
        process.stop()
        await reader.close()
        try #require(complete, "saw \(Set(ids).count) of \(n + 1) rows; log tail:\n\(log.suffix(3000))")

        // The resume point the log names: after key {"id":X}, somewhere inside the table.
        let marker = "Snapshot resuming at dbo.big after key {\"id\":"
        let line = try #require(log.components(separatedBy: "\n").first { $0.contains(marker) }, "no resume line; log:\n\(log.suffix(3000))")
        let resumeKey = try #require(Int(line.components(separatedBy: marker)[1].prefix { $0.isNumber }))
        print("snapshot-resume: \(n) rows, chunk \(Self.chunk); killed after \(beforeKill) rows read (\(firstRun)); resumed after id \(resumeKey); second run \(secondRun); \(ids.count - Set(ids).count) row(s) read twice")
        #expect(resumeKey > 0 && resumeKey < n, "resumed mid-table")
        #expect(resumeKey >= Self.chunk, "at least one chunk was acknowledged before the kill")
        var counts: [Int: Int] = [:]
        for id in ids { counts[id, default: 0] += 1 }
        #expect(Set(ids) == Set(1...(n + 1)), "every row read")
        #expect((1...resumeKey).allSatisfy { counts[$0] == 1 }, "rows up to the resume key are not read again")
        // Only the unacknowledged tail (at most one chunk plus the row held back) is read twice.
        #expect(ids.count - Set(ids).count <= Self.chunk + 1, "read twice: \(ids.count - Set(ids).count)")
        // The change made during the downtime to a row read before the crash is streamed.
        let update = try #require(events.first { $0.op == .update && $0.key["id"]?.int64Value == 1 })
        #expect(update.after?["amount"]?.int64Value == -1)
        #expect(events.filter { $0.op == .read && $0.snapshot == .last }.count == 1)
        #expect(process.logCount("Snapshot complete") == 1)
        try? FileManager.default.removeItem(at: directory)
    }

    /// `sluice_source_snapshot_rows_total` of `table` on the process's /metrics (0 until it appears).
    static func rowsRead(port: Int, table: String) async throws -> Int {
        guard let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!) else { return 0 }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("sluice_source_snapshot_rows_total{") && $0.contains("table=\"\(table)\"") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int(Double($0) ?? 0) } ?? 0
    }
}
