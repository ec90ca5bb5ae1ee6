import Testing
@testable import SluiceCore

@Suite struct SourceOffsetTests {
    let fence = LSN(vlf: 0x2a, block: 0x100, slot: 1)
    let later = LSN(vlf: 0x2a, block: 0x200, slot: 1)

    @Test func roundTripsThroughJSON() throws {
        let offset = SourceOffset(
            position: SourcePosition(commitLSN: later, commandID: 3, changeLSN: LSN(vlf: 0x2a, block: 0x1f0, slot: 2), eventSerialNo: 2),
            processedThrough: fence, snapshot: .completed(fence: fence),
            captureInstances: ["dbo_customers": fence, "dbo_repayments": later])
        let text = offset.json.serializedString
        #expect(try SourceOffset(json: JSONValue.parse(text)) == offset)
        let running = SourceOffset(snapshot: .running(fence: fence, completedTables: ["dbo.customers"]))
        #expect(try SourceOffset(json: JSONValue.parse(running.json.serializedString)) == running)
        let resuming = SourceOffset(snapshot: .running(fence: fence, completedTables: ["dbo.branches"],
                                                       resume: .init(table: "dbo.customers", afterKey: ["region": .string("north"), "id": .int(4000)])))
        #expect(try SourceOffset(json: JSONValue.parse(resuming.json.serializedString)) == resuming)
        #expect(resuming.json.objectValue?["snapshot_last_key"] == .object(["region": .string("north"), "id": .int(4000)]))
        var incremental = offset
        incremental.incrementalSnapshot = .init(id: "ad-hoc-1", tables: ["dbo.customers", "dbo.loans"], lastKey: ["id": .int(1024)])
        #expect(try SourceOffset(json: JSONValue.parse(incremental.json.serializedString)) == incremental)
    }

    @Test func resumesInsideAPartlyPublishedTransaction() {
        let p = SourcePosition(commitLSN: later, commandID: 1, changeLSN: later, eventSerialNo: 1)
        #expect(SourceOffset(position: p, processedThrough: fence, snapshot: .completed(fence: fence)).streamingStart == .within(p))
    }

    @Test func resumesAfterACompletedWindow() {
        let p = SourcePosition(commitLSN: fence, commandID: 1, changeLSN: fence, eventSerialNo: 1)
        #expect(SourceOffset(position: p, processedThrough: later, snapshot: .completed(fence: fence)).streamingStart == .after(later))
        #expect(SourceOffset(snapshot: .completed(fence: fence)).streamingStart == .after(fence))
        #expect(SourceOffset(snapshot: .skipped(at: fence)).streamingStart == .after(fence))
    }

    @Test func anUnfinishedSnapshotHasNoStreamingStart() {
        #expect(SourceOffset().streamingStart == nil)
        #expect(SourceOffset(snapshot: .running(fence: fence, completedTables: [])).streamingStart == nil)
    }

    @Test func rejectsCorruptOffsets() {
        #expect(throws: EnvelopeError.self) { try SourceOffset(json: .array([])) }
        #expect(throws: EnvelopeError.self) { try SourceOffset(json: .object(["commit_lsn": .string("nope")])) }
        #expect(throws: EnvelopeError.self) { try SourceOffset(json: .object(["snapshot": .string("sideways")])) }
    }
}
