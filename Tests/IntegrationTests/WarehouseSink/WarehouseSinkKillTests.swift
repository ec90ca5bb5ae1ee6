import Foundation
import NIOConcurrencyHelpers
import SluiceCore
import SluiceKafka
import Testing

/// The warehouse sink as an operator runs it, `sluice run warehouse.json`, killed with SIGKILL at
/// random points while the credit topics keep growing.
@Suite("Warehouse sink: kill -9 of `sluice run` at random points", .serialized)
struct WarehouseSinkKillTests {
    typealias W = WarehouseTestWorld
    typealias Stream = WarehouseSinkPipelineTests.Stream

    var pipeline: WarehouseSinkPipelineTests { WarehouseSinkPipelineTests() }

    @Test("kill -9 while applying, then restart: every version exactly once, facts on the right versions, a replay adds nothing")
    func killNineLosesNothingAndDoublesNothing() async throws {
        let base = W.keyBase()
        let stream = try await Stream(base: base, customers: 60)
        let group = "sluice-warehouse-kill-\(base)"
        let end = stream.messageCounts.values.reduce(0, +)

        let directory = try SluiceProcess.scratchDirectory(group)
        let connectorFile = try SluiceProcess.writeSinkConnectorFile(name: group, config: [
            "connector.class": "warehouse-sink", "topics": stream.topics.joined(separator: ","),
            "connection.url": try LocalWorld.env("SLUICE_WAREHOUSE_URL"), "warehouse.schema": "dw", "batch.size": "7",
        ], in: directory)
        let process = SluiceProcess(connectorFiles: [connectorFile], log: directory.appendingPathComponent("sluice.log"))

        // The topics fill in bursts while the sink is killed four times: once during start-up, then each
        // time within 1.5 s after it stored a new offset.
        try process.start()
        // (The bursts come slowly until the kills are done, so the sink never runs out of work.)
        let killing = NIOLockedValueBox(true)
        async let publishing: Void = stream.publish(burst: 10) {
            if killing.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(500)) }
        }
        let storedAtKill = try await process.killAndRestart(times: 4) { try await pipeline.storedTotal(stream, group: group) }
        killing.withLockedValue { $0 = false }
        try await publishing
        let caughtUp = try await eventually(timeout: .seconds(180)) { try await pipeline.storedTotal(stream, group: group) == end }
        process.stop()
        try #require(caughtUp, "the sink did not store \(end) offsets; log tail:\n\(process.logText.suffix(4000))")
        #expect(Array(storedAtKill.dropFirst()) == storedAtKill.dropFirst().sorted() && Set(storedAtKill.dropFirst()).count == 3,
                "stored offsets at the kills: \(storedAtKill)")
        #expect(process.logCount("Partitions assigned; starting at the offsets stored in the target") >= 2)

        try await stream.expectCompleteHistory()
        // Replaying every topic from the beginning in a fresh group changes not a byte.
        let keys = base...(base + 999)
        let afterKills = try await W.withConnection { try await W.dump(keys, on: $0) }
        #expect(try await pipeline.run(stream, group: group + "-replay"))
        #expect(try await W.withConnection { try await W.dump(keys, on: $0) } == afterKills)
        print("warehouse kill -9 test: stored offsets at the kills \(storedAtKill) of \(end)")
        try? FileManager.default.removeItem(at: directory)
    }
}
