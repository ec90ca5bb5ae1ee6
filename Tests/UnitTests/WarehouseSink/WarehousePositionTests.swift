import SluiceCore
import SluiceWarehouseSink
import Testing

@Suite struct WarehousePositionTests {
    @Test func positionColumnsReadBackAsTheSamePosition() throws {
        let lsn = LSN(vlf: 0x2a, block: 0xd18, slot: 3)
        let positions = [
            SourcePosition(commitLSN: lsn, commandID: 7, changeLSN: LSN(vlf: 0xffff_ffff, block: 0xabcdef01, slot: 0xffff), eventSerialNo: 2),
            SourcePosition(commitLSN: .zero, commandID: 0, changeLSN: .zero, eventSerialNo: 0),
            .snapshot(at: lsn),
            // Wider than the fixed width: the text parser reads it.
            SourcePosition(commitLSN: lsn, commandID: 12_345_678_901, changeLSN: lsn, eventSerialNo: 123_456),
        ]
        for position in positions {
            #expect(SourcePosition(warehouseBytes: position.warehouseBytes) == position)
        }
        var damaged = positions[0].warehouseBytes
        damaged[3] = UInt8(ascii: "x")
        #expect(SourcePosition(warehouseBytes: damaged) == nil)
        #expect(SourcePosition(warehouseBytes: Array("not a position".utf8)) == nil)
    }
}
