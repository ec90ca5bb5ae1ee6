import Testing
import SluiceCore
@testable import SluiceSQLServerSource

@Suite struct WatermarkWindowTests {
    static let customers = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
    static let loans = TableID(database: "CreditStaging", schema: "dbo", table: "loans")

    static func key(_ id: Int) -> JSONObject { ["id": .int(id)] }

    func window(_ ids: ClosedRange<Int>, last: Bool = false) -> WatermarkWindow {
        WatermarkWindow(table: Self.customers, lowID: "w-open", highID: "w-close",
                        rows: ids.map { (Self.key($0), ["id": .int($0), "name": .string("row \($0)")]) }, isLastChunk: last)
    }

    @Test func rowsChangedInsideTheWindowAreDroppedForTheStreamedEvent() {
        var w = window(1...5)
        w.streamed(table: Self.customers, key: Self.key(2))  // before the low watermark: the read already saw it
        let other = w.watermark("w-other"), opened = w.watermark("w-open")
        #expect(!other, "another chunk's watermark")
        #expect(!opened)
        w.streamed(table: Self.customers, key: Self.key(3))  // updated inside the window
        w.streamed(table: Self.customers, key: Self.key(5))  // deleted inside the window
        w.streamed(table: Self.loans, key: Self.key(4))      // same key, another table
        w.streamed(table: Self.customers, key: Self.key(9))  // not in the chunk
        let closed = w.watermark("w-close")
        #expect(closed)
        #expect(w.remaining.map(\.key) == [Self.key(1), Self.key(2), Self.key(4)])
        #expect(w.droppedCount == 2)
        w.streamed(table: Self.customers, key: Self.key(1))  // after the high watermark: newer than the chunk
        #expect(w.remaining.map(\.key) == [Self.key(1), Self.key(2), Self.key(4)])
    }

    @Test func nothingChangedEmitsTheWholeChunkInKeyOrder() {
        var w = window(10...12, last: true)
        _ = w.watermark("w-open")
        let closed = w.watermark("w-close")
        #expect(closed)
        #expect(w.remaining.map { $0.values["id"] } == [.int(10), .int(11), .int(12)])
        #expect(w.lastKey == Self.key(12) && w.isLastChunk)
    }

    @Test func anEmptyChunkClosesWithNothingToEmit() {
        var w = WatermarkWindow(table: Self.customers, lowID: "a", highID: "b", rows: [], isLastChunk: true)
        _ = w.watermark("a")
        let closed = w.watermark("b")
        #expect(closed && w.remaining.isEmpty && w.lastKey == nil)
    }
}

@Suite struct SourceSignalTests {
    @Test func parsesDebeziumsShapeFromATableRow() throws {
        let signal = try SourceSignal.parse(id: "ad-hoc-1", type: "execute-snapshot",
                                            dataText: #"{"data-collections": ["CreditStaging.dbo.customers", "CreditStaging.dbo.loans"], "type": "INCREMENTAL"}"#)
        #expect(signal.tables.map(\.qualifiedName) == ["dbo.customers", "dbo.loans"])
        #expect(try SourceSignal.parse(id: "s", type: "stop-snapshot", dataText: nil).action == .stopIncrementalSnapshot(tables: []))
        #expect(throws: SourceSignal.Problem.self) { try SourceSignal.parse(id: "x", type: "execute-snapshot", dataText: "{not json") }
    }

    @Test func theInboxRoutesSignalsToTheirDatabases() throws {
        let inbox = SourceSignalInbox()
        #expect(throws: SourceSignalInbox.PostError.noSource) {
            try inbox.post(SourceSignal(id: "a", action: .stopIncrementalSnapshot(tables: [])))
        }
        inbox.register(database: "A")
        inbox.register(database: "B")
        try inbox.post(SourceSignal(id: "1", action: .executeIncrementalSnapshot(tables: [TableID(database: "B", schema: "dbo", table: "t")])))
        try inbox.post(SourceSignal(id: "2", action: .stopIncrementalSnapshot(tables: [])))
        #expect(inbox.hasPending(database: "A") && inbox.hasPending(database: "B"))
        #expect(inbox.take(database: "A").map(\.id) == ["2"])
        #expect(!inbox.hasPending(database: "A") && inbox.hasPending(database: "B"), "an idle poll asks before taking")
        #expect(inbox.take(database: "B").map(\.id) == ["1", "2"])
        #expect(!inbox.hasPending(database: "B") && !inbox.hasPending(database: "C"))
    }
}
