import Testing
import SluiceCore
@testable import SluiceSQLServerSource

/// The offset `sluice offsets reset <source> --to latest|<LSN>` stores, and how `--to` is read.
@Suite struct SourcePositionResetTests {
    static let customers = TableID(database: "CreditStaging", schema: "dbo", table: "customers")

    static func lsn(_ block: UInt32) -> LSN { LSN(vlf: 0x2a, block: block, slot: 0) }

    static func instance(_ name: String, start: UInt32) -> CaptureInstance {
        CaptureInstance(name: name, table: customers, startLSN: lsn(start), changeTableObjectID: 1, columns: [], keyColumns: ["id"])
    }

    static let configuration: SQLServerSourceConfiguration = {
        let json = #"{"name":"s","config":{"connector.class":"sqlserver-source","database.url":"mssql://u:p@db/CreditStaging","topic.prefix":"t","kafka.bootstrap.servers":"k:9092"}}"#
        return try! SQLServerSourceConfiguration(ConnectorProperties.parse(Array(json.utf8), origin: "t.json", environment: [:]))
    }()

    @Test("--to reads earliest, latest and both LSN forms; anything else is refused")
    func targets() {
        #expect(SourcePositionReset.Target("earliest") == .earliest)
        #expect(SourcePositionReset.Target("latest") == .latest)
        #expect(SourcePositionReset.Target("0000002a:00000010:0000") == .position(Self.lsn(0x10)))
        #expect(SourcePositionReset.Target("0x0000002a000000100000") == .position(Self.lsn(0x10)))
        #expect(SourcePositionReset.Target("yesterday") == nil)
        #expect(SourcePositionReset.Target("42") == nil)
    }

    @Test("the stored offset resumes right after the LSN, keeps a completed snapshot, and records the instances already readable")
    func offsetThroughAnLSN() {
        let reset = SourcePositionReset(configuration: Self.configuration)
        var stored = SourceOffset(position: SourcePosition(commitLSN: Self.lsn(0x50), commandID: 1, changeLSN: Self.lsn(0x50), eventSerialNo: 1),
                                  processedThrough: Self.lsn(0x50), snapshot: .completed(fence: Self.lsn(0x08)),
                                  captureInstances: ["dbo_customers": Self.lsn(0x08), "dbo_customers_v2": Self.lsn(0x40)])
        let instances = [Self.instance("dbo_customers", start: 0x05), Self.instance("dbo_customers_v2", start: 0x40)]
        let offset = reset.offset(through: Self.lsn(0x20), stored: stored, instances: instances)
        #expect(offset.streamingStart == .after(Self.lsn(0x20)))
        #expect(offset.position == nil)
        #expect(offset.snapshot == .completed(fence: Self.lsn(0x08)))
        // The newer instance starts after the LSN: it keeps where it was first read, so the switch to it
        // happens again at its start.
        #expect(offset.captureInstances == ["dbo_customers": Self.lsn(0x20), "dbo_customers_v2": Self.lsn(0x40)])

        stored.snapshot = .running(fence: Self.lsn(0x08), completedTables: [])
        #expect(reset.offset(through: Self.lsn(0x20), stored: stored, instances: instances).snapshot == .skipped(at: Self.lsn(0x20)))
        #expect(reset.offset(through: Self.lsn(0x20), stored: nil, instances: instances).snapshot == .skipped(at: Self.lsn(0x20)))
    }
}
