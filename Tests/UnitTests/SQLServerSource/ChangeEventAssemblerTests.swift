import Testing
import SluiceCore
@testable import SluiceSQLServerSource

@Suite struct ChangeEventAssemblerTests {
    static let customers = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
    static let applications = TableID(database: "CreditStaging", schema: "dbo", table: "credit_applications")

    static func lsn(_ block: UInt32, _ slot: UInt16 = 0) -> LSN { LSN(vlf: 0x2a, block: block, slot: slot) }

    static func row(_ op: ChangeRow.Operation, commit: UInt32, seq: UInt16, cmd: Int, id: Int, name: String,
                    table: TableID = customers) -> ChangeRow {
        ChangeRow(captureInstance: "dbo_\(table.table)", table: table, startLSN: lsn(commit), seqval: lsn(commit - 1, seq),
                  operation: op, commandID: cmd, values: ["id": .int(id), "name": .string(name)])
    }

    func assembler(resumeAfter: SourcePosition? = nil) -> ChangeEventAssembler {
        ChangeEventAssembler(keyColumns: ["dbo_customers": ["id"], "dbo_credit_applications": ["id"]],
                             resumeAfter: resumeAfter, now: { 42 })
    }

    func run(_ rows: [ChangeRow], resumeAfter: SourcePosition? = nil) throws -> [ChangeEventAssembler.Output] {
        var a = assembler(resumeAfter: resumeAfter)
        var out: [ChangeEventAssembler.Output] = []
        for r in rows { out += try a.accept(r, commitTimeMs: Int64(r.startLSN.block) * 1000) }
        return out + (try a.finish())
    }

    func events(_ out: [ChangeEventAssembler.Output]) -> [ChangeEvent] {
        out.compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    @Test func foldsUpdateImagesIntoOneEvent() throws {
        let out = try run([
            Self.row(.updateBefore, commit: 100, seq: 1, cmd: 1, id: 7, name: "old"),
            Self.row(.updateAfter, commit: 100, seq: 1, cmd: 1, id: 7, name: "new"),
        ])
        let e = try #require(events(out).first)
        #expect(events(out).count == 1)
        #expect(e.op == .update)
        #expect(e.before?["name"] == .string("old"))
        #expect(e.after?["name"] == .string("new"))
        #expect(e.key == ["id": .int(7)])
        #expect(e.commitTimeMs == 100_000)
        #expect(e.position.eventSerialNo == 1)
    }

    @Test func primaryKeyUpdateBecomesDeleteThenCreate() throws {
        let evs = events(try run([
            Self.row(.updateBefore, commit: 100, seq: 1, cmd: 1, id: 7, name: "x"),
            Self.row(.updateAfter, commit: 100, seq: 1, cmd: 1, id: 8, name: "x"),
        ]))
        #expect(evs.map(\.op) == [.delete, .create])
        #expect(evs.map(\.key) == [["id": .int(7)], ["id": .int(8)]])
        #expect(evs.map(\.position.eventSerialNo) == [1, 2])
        #expect(evs[0].position < evs[1].position)
    }

    @Test func marksTransactionBoundariesWithCounts() throws {
        let out = try run([
            Self.row(.insert, commit: 100, seq: 1, cmd: 1, id: 1, name: "a"),
            Self.row(.insert, commit: 100, seq: 2, cmd: 2, id: 1, name: "app", table: Self.applications),
            Self.row(.delete, commit: 200, seq: 1, cmd: 1, id: 1, name: "a"),
        ])
        guard case .begin(let b1) = out[0], case .end(let e1) = out[3], case .begin(let b2) = out[4], case .end(let e2) = out[6] else {
            Issue.record("unexpected shape \(out)")
            return
        }
        #expect(out.count == 7)
        #expect(b1.commitLSN == Self.lsn(100) && e1.commitLSN == Self.lsn(100))
        #expect(e1.eventCounts == [Self.customers: 1, Self.applications: 1])
        #expect(b2.commitLSN == Self.lsn(200) && e2.totalEvents == 1)
        let evs = events(out)
        #expect(evs.map { $0.transaction?.totalOrder } == [1, 2, 1])
        #expect(evs.map { $0.transaction?.dataCollectionOrder } == [1, 1, 1])
    }

    @Test func skipsWhatWasAlreadyPublishedButKeepsOrders() throws {
        let rows = [
            Self.row(.insert, commit: 100, seq: 1, cmd: 1, id: 1, name: "a"),
            Self.row(.insert, commit: 100, seq: 2, cmd: 2, id: 2, name: "b"),
            Self.row(.insert, commit: 100, seq: 3, cmd: 3, id: 3, name: "c"),
        ]
        let all = events(try run(rows))
        let resumed = events(try run(rows, resumeAfter: all[1].position))
        #expect(resumed.count == 1)
        #expect(resumed.first == all[2])
        let none = try run(rows, resumeAfter: all[2].position)
        #expect(none.isEmpty)
    }

    @Test func refusesABeforeImageWithoutItsAfterImage() throws {
        var a = assembler()
        _ = try a.accept(Self.row(.updateBefore, commit: 100, seq: 1, cmd: 1, id: 7, name: "old"), commitTimeMs: 0)
        #expect(throws: ChangeEventAssembler.AssemblyError.self) {
            try a.accept(Self.row(.insert, commit: 100, seq: 2, cmd: 2, id: 8, name: "x"), commitTimeMs: 0)
        }
        var b = assembler()
        _ = try b.accept(Self.row(.updateBefore, commit: 100, seq: 1, cmd: 1, id: 7, name: "old"), commitTimeMs: 0)
        #expect(throws: ChangeEventAssembler.AssemblyError.self) { try b.finish() }
        var c = assembler()
        #expect(throws: ChangeEventAssembler.AssemblyError.self) {
            try c.accept(Self.row(.updateAfter, commit: 100, seq: 1, cmd: 1, id: 7, name: "new"), commitTimeMs: 0)
        }
    }
}

@Suite struct ChangeRowMergeTests {
    struct ListIterator: AsyncIteratorProtocol {
        var rows: [ChangeRow]
        mutating func next() async throws -> ChangeRow? { rows.isEmpty ? nil : rows.removeFirst() }
    }

    typealias T = ChangeEventAssemblerTests

    @Test func mergesInstancesByCommitThenCommandThenSeqval() async throws {
        let customers = [
            T.row(.insert, commit: 100, seq: 5, cmd: 1, id: 1, name: "a"),
            T.row(.insert, commit: 300, seq: 1, cmd: 2, id: 2, name: "b"),
        ]
        let applications = [
            T.row(.insert, commit: 100, seq: 2, cmd: 2, id: 1, name: "x", table: T.applications),  // later command, smaller seqval
            T.row(.insert, commit: 200, seq: 9, cmd: 1, id: 2, name: "y", table: T.applications),
        ]
        var merge = ChangeRowMerge([ListIterator(rows: customers), ListIterator(rows: applications)])
        var order: [String] = []
        while let r = try await merge.next() { order.append("\(r.startLSN.block)/\(r.commandID)/\(r.table.table)") }
        #expect(order == ["100/1/customers", "100/2/credit_applications", "200/1/credit_applications", "300/2/customers"])
    }

    @Test func refusesAnInputThatGoesBackwards() async throws {
        var merge = ChangeRowMerge([ListIterator(rows: [
            T.row(.insert, commit: 200, seq: 1, cmd: 1, id: 1, name: "a"),
            T.row(.insert, commit: 100, seq: 1, cmd: 1, id: 2, name: "b"),
        ])])
        await #expect(throws: ChangeRowMerge<ListIterator>.OrderViolation.self) {
            while try await merge.next() != nil {}
        }
    }
}
