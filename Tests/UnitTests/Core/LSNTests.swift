import Testing
@testable import SluiceCore

@Suite struct LSNTests {
    @Test func printsAndParsesDebeziumTextForm() throws {
        let lsn = LSN(vlf: 0x2a, block: 0xd18, slot: 3)
        #expect(lsn.description == "0000002a:00000d18:0003")
        #expect(LSN("0000002a:00000d18:0003") == lsn)
        #expect(LSN("0x0000002A00000D180003") == lsn)
        #expect(LSN("0000002a:00000d18") == nil)
        #expect(LSN("zz00002a:00000d18:0003") == nil)
    }

    @Test func bytesRoundTripBigEndian() throws {
        let bytes: [UInt8] = [0, 0, 0, 0x2a, 0, 0, 0x0d, 0x18, 0, 3]
        let lsn = try #require(LSN(bytes: bytes))
        #expect(lsn == LSN(vlf: 0x2a, block: 0xd18, slot: 3))
        #expect(lsn.bytes == bytes)
        #expect(LSN(bytes: bytes.dropLast()) == nil)
    }

    @Test func ordersAsUnsignedBytes() {
        let a = LSN(vlf: 1, block: 0xffff_ffff, slot: 0xffff)
        let b = LSN(vlf: 2, block: 0, slot: 0)
        let c = LSN(vlf: 2, block: 0, slot: 1)
        #expect(a < b && b < c)
        #expect(LSN(vlf: 0x8000_0000, block: 0, slot: 0) > LSN(vlf: 0x7fff_ffff, block: 0, slot: 0))
    }
}

@Suite struct SourcePositionTests {
    let commit1 = LSN(vlf: 0x20, block: 0x100, slot: 2)
    let commit2 = LSN(vlf: 0x20, block: 0x200, slot: 2)

    @Test func commitLSNDominatesChangeLSN() {
        // change_lsn is not monotonic across transactions (DBZ-1090): a later commit may hold an earlier change.
        let early = SourcePosition(commitLSN: commit1, commandID: 1, changeLSN: LSN(vlf: 0x20, block: 0x0f0, slot: 9), eventSerialNo: 1)
        let late = SourcePosition(commitLSN: commit2, commandID: 1, changeLSN: LSN(vlf: 0x20, block: 0x050, slot: 1), eventSerialNo: 1)
        #expect(early < late)
    }

    @Test func commandIDOrdersBeforeSeqval() {
        // Deferred updates: a later command may carry a smaller seqval; command_id wins (debezium PR 7728).
        let first = SourcePosition(commitLSN: commit1, commandID: 1, changeLSN: LSN(vlf: 0x20, block: 0x0a0, slot: 5), eventSerialNo: 1)
        let second = SourcePosition(commitLSN: commit1, commandID: 2, changeLSN: LSN(vlf: 0x20, block: 0x0a0, slot: 4), eventSerialNo: 1)
        #expect(first < second)
    }

    @Test func snapshotSortsBeforeChangesAtItsFence() {
        let snap = SourcePosition.snapshot(at: commit1)
        let change = SourcePosition(commitLSN: commit1, commandID: 0, changeLSN: LSN(vlf: 0x20, block: 0x0a0, slot: 5), eventSerialNo: 1)
        #expect(snap < change)
        #expect(snap.isSnapshot && !change.isSnapshot)
    }

    @Test func serialNumberBreaksTies() {
        let seq = LSN(vlf: 0x20, block: 0x0a0, slot: 5)
        let delete = SourcePosition(commitLSN: commit1, commandID: 3, changeLSN: seq, eventSerialNo: 1)
        let create = SourcePosition(commitLSN: commit1, commandID: 3, changeLSN: seq, eventSerialNo: 2)
        #expect(delete < create)
        #expect(!(create < delete))
        #expect(!(create < create))
    }
}

@Suite struct SourcePositionSortKeyTests {
    @Test func sortKeyOrderIsPositionOrder() {
        let c = LSN(vlf: 0x2a, block: 0x100, slot: 1)
        let positions = [
            SourcePosition.snapshot(at: c),
            SourcePosition(commitLSN: c, commandID: 1, changeLSN: LSN(vlf: 0x2a, block: 0xf0, slot: 3), eventSerialNo: 1),
            SourcePosition(commitLSN: c, commandID: 1, changeLSN: LSN(vlf: 0x2a, block: 0xf0, slot: 3), eventSerialNo: 2),
            SourcePosition(commitLSN: c, commandID: 2, changeLSN: LSN(vlf: 0x2a, block: 0x10, slot: 0), eventSerialNo: 1),
            SourcePosition(commitLSN: LSN(vlf: 0x2b, block: 0, slot: 0), commandID: nil, changeLSN: nil, eventSerialNo: 0),
        ]
        #expect(positions.map(\.sortKey).sorted() == positions.map(\.sortKey))
        #expect(positions == positions.sorted())
        for p in positions { #expect(SourcePosition(sortKey: p.sortKey) == p) }
        #expect(SourcePosition(sortKey: "garbage") == nil)
        #expect(positions[1].sortKey == "0000002a000001000001.0000000001.0000002a000000f00003.00001")
    }
}
