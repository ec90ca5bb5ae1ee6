import Testing
import SluiceCore
@testable import SluiceSQLServerSource

@Suite struct WindowPlannerTests {
    static let customers = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
    static let loans = TableID(database: "CreditStaging", schema: "dbo", table: "loans")

    static func lsn(_ block: UInt32) -> LSN { LSN(vlf: 0x2a, block: block, slot: 1) }

    static func instance(_ name: String, _ table: TableID = customers, start: UInt32) -> CaptureInstance {
        CaptureInstance(name: name, table: table, startLSN: lsn(start), changeTableObjectID: 1, columns: [], keyColumns: ["id"])
    }

    func offset(_ recorded: [String: UInt32]) -> SourceOffset {
        SourceOffset(processedThrough: Self.lsn(10), snapshot: .completed(fence: Self.lsn(10)),
                     captureInstances: recorded.mapValues(Self.lsn))
    }

    @Test func readsEachInstanceFromTheLaterOfFromAndItsStart() {
        let plan = WindowPlanner.plan([Self.instance("dbo_customers", start: 5), Self.instance("dbo_loans", Self.loans, start: 30)],
                                      offset: offset(["dbo_customers": 5]), from: Self.lsn(20), to: Self.lsn(40))
        #expect(plan.queries.map(\.instance.name) == ["dbo_customers", "dbo_loans"])
        #expect(plan.queries.map(\.from) == [Self.lsn(20), Self.lsn(30)])
        #expect(plan.queries.allSatisfy { $0.to == Self.lsn(40) && $0.stop == nil })
        #expect(plan.purged.isEmpty && plan.switched.isEmpty)
    }

    @Test func anInstanceStartingAfterTheWindowIsNotRead() {
        let plan = WindowPlanner.plan([Self.instance("dbo_loans", Self.loans, start: 50)], offset: offset([:]),
                                      from: Self.lsn(20), to: Self.lsn(40))
        #expect(plan.queries.isEmpty && plan.purged.isEmpty)
    }

    @Test func aNewerInstanceTakesOverAtItsStartAndIsASwitch() {
        let old = Self.instance("dbo_customers", start: 5), new = Self.instance("dbo_customers_v2", start: 25)
        let plan = WindowPlanner.plan([old, new], offset: offset(["dbo_customers": 5]), from: Self.lsn(20), to: Self.lsn(40))
        #expect(plan.queries.map(\.instance.name) == ["dbo_customers", "dbo_customers_v2"])
        #expect(plan.queries[0].stop == Self.lsn(25), "the old instance is cut where the new one starts")
        #expect(plan.queries[1].from == Self.lsn(25) && plan.queries[1].stop == nil)
        #expect(plan.switched.map(\.name) == ["dbo_customers_v2"])
    }

    @Test func aSupersededInstanceIsSkippedOnceFromPassedTheSwitch() {
        let old = Self.instance("dbo_customers", start: 5), new = Self.instance("dbo_customers_v2", start: 25)
        let plan = WindowPlanner.plan([old, new], offset: offset(["dbo_customers": 5, "dbo_customers_v2": 25]),
                                      from: Self.lsn(26), to: Self.lsn(40))
        #expect(plan.queries.map(\.instance.name) == ["dbo_customers_v2"])
        #expect(plan.switched.isEmpty, "a known instance is no switch")
    }

    @Test func aLowEndMovedPastWhatWasNeededIsAPurge() {
        // Read from 5 before; the cleanup job moved start_lsn to 30, but changes from 20 are needed.
        let plan = WindowPlanner.plan([Self.instance("dbo_customers", start: 30)], offset: offset(["dbo_customers": 5]),
                                      from: Self.lsn(20), to: Self.lsn(40))
        #expect(plan.queries.isEmpty)
        #expect(plan.purged.map(\.instance.name) == ["dbo_customers"])
        #expect(plan.purged.first?.needed == Self.lsn(20))
    }

    @Test func aNewTableStartingLaterIsNoPurge() {
        // Never read before (not in the offset): its start after `from` is where it begins, not a gap.
        let plan = WindowPlanner.plan([Self.instance("dbo_loans", Self.loans, start: 30)], offset: offset([:]),
                                      from: Self.lsn(20), to: Self.lsn(40))
        #expect(plan.purged.isEmpty && plan.queries.map(\.from) == [Self.lsn(30)])
    }
}

@Suite struct StallDetectorTests {
    static let lsn = LSN(vlf: 1, block: 2, slot: 3)

    @Test func stallsOnlyWhenNoNewLSNAppearsWithinTheTimeout() {
        var detector = StallDetector(timeout: .seconds(5))
        let idle = detector.check()
        #expect(!idle, "idle without a heartbeat action is no stall")
        detector.sourceChanged(maxLSN: Self.lsn)
        #expect(detector.awaitingHarvest)
        let early = detector.check()
        #expect(!early)
        let late = detector.check(now: .now + .seconds(6))
        #expect(late)
        detector.observed(maxLSN: Self.lsn)
        #expect(detector.isStalled, "the same LSN is no progress")
        detector.observed(maxLSN: LSN(vlf: 1, block: 2, slot: 4))
        #expect(!detector.isStalled && !detector.awaitingHarvest)
    }
}
