import SluiceCore
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

@Suite struct DimensionPlannerTests {
    static let model = DimensionModel(
        name: "customer", schema: "dw", table: "dim_customer", keyColumn: "customer_id", surrogateColumn: "customer_version_key",
        tracked: [.init("address", .string(400))], type1: [.init("email", .string(200))])
    let planner = DimensionPlanner(model: Self.model)

    static func position(_ n: Int) -> SourcePosition {
        SourcePosition(commitLSN: LSN(vlf: 1, block: UInt32(n), slot: 1), commandID: 1, changeLSN: LSN(vlf: 1, block: UInt32(n), slot: 2), eventSerialNo: 1)
    }

    static func change(_ key: Int64, _ n: Int, address: String?, email: String? = "a@x", delete: Bool = false, at ms: Int64? = nil) -> DimensionChange {
        DimensionChange(key: key, isDelete: delete, position: position(n), commitTimeMs: ms ?? Int64(n) * 1000,
                        tracked: [address.map(SQLServerValue.string) ?? .null], type1: [email.map(SQLServerValue.string) ?? .null])
    }

    static func stored(_ key: Int64, _ n: Int, address: String, email: String = "a@x", deleted: Bool = false, last: Int? = nil) -> DimensionVersion {
        DimensionVersion(surrogateKey: 100 + key, versionID: VersionID.make(table: "dim_customer", key: key, position: position(n)),
                         key: key, tracked: [.string(address)], type1: [.string(email)], validFromMs: Int64(n) * 1000,
                         validToMs: nil, isDeleted: deleted, sourcePosition: position(n), lastPosition: position(last ?? n))
    }

    @Test func firstChangesOfAKeyMakeVersionsInOrderWithoutGaps() {
        let plan = planner.plan(current: [:], changes: (1...6).map { Self.change(7, $0, address: "street \($0)") })
        #expect(plan.closes.isEmpty)
        #expect(plan.inserts.count == 6)
        #expect(plan.inserts.map(\.validFromMs) == [1000, 2000, 3000, 4000, 5000, 6000])
        #expect(plan.inserts.dropLast().map(\.validToMs) == [2000, 3000, 4000, 5000, 6000])
        #expect(plan.inserts.last?.validToMs == nil)
        #expect(plan.inserts.filter(\.isCurrent).count == 1)
        #expect(plan.inserts.map(\.sourcePosition) == (1...6).map(Self.position))
        #expect(plan.inserts.dropLast().map(\.lastPosition) == (2...6).map(Self.position))
        #expect(plan.applied == 6)
        #expect(plan.keysWithNewVersions == [7])
    }

    @Test func aChangeOfATrackedColumnClosesTheStoredCurrentVersion() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "old")], changes: [Self.change(7, 2, address: "new")])
        #expect(plan.closes == [.init(key: 7, versionID: Self.stored(7, 1, address: "old").versionID, validToMs: 2000, lastPosition: Self.position(2))])
        #expect(plan.inserts.count == 1)
        #expect(plan.inserts[0].tracked == [.string("new")])
        #expect(plan.inserts[0].validFromMs == 2000)
        #expect(plan.type1Updates.isEmpty)
    }

    @Test func aChangeOfOnlyType1ColumnsMakesNoVersion() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "same")],
                                changes: [Self.change(7, 2, address: "same", email: "new@x")])
        #expect(plan.inserts.isEmpty)
        #expect(plan.closes.isEmpty)
        #expect(plan.type1Updates == [.init(key: 7, type1: [.string("new@x")], lastPosition: Self.position(2), allVersions: true)])
    }

    @Test func anUpdateChangingNothingKeptOnlyAdvancesTheCurrentVersion() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "same")], changes: [Self.change(7, 2, address: "same")])
        #expect(plan.inserts.isEmpty)
        #expect(plan.type1Updates == [.init(key: 7, type1: [.string("a@x")], lastPosition: Self.position(2), allVersions: false)])
    }

    @Test func eventsNotNewerThanTheAppliedHistoryAreIgnored() {
        let stored = Self.stored(7, 5, address: "five", last: 6)
        let plan = planner.plan(current: [7: stored], changes: [
            Self.change(7, 3, address: "late"), Self.change(7, 6, address: "replayed"), Self.change(7, 7, address: "seven"),
            Self.change(7, 7, address: "duplicate in batch"),
        ])
        #expect(plan.ignored.map(\.position) == [Self.position(3), Self.position(6), Self.position(7)])
        #expect(plan.ignored.map(\.lastApplied) == [Self.position(6), Self.position(6), Self.position(7)])
        #expect(plan.inserts.map(\.tracked) == [[.string("seven")]])
        #expect(plan.applied == 1)
    }

    @Test func replayingABatchAgainstItsOwnResultPlansNothing() {
        let changes = (1...4).map { Self.change(9, $0, address: "a\($0)", email: "e\($0)") }
        let first = planner.plan(current: [:], changes: changes)
        var current = first.inserts.last!
        current.surrogateKey = 1
        let again = planner.plan(current: [9: current], changes: changes)
        #expect(again.isEmpty)
        #expect(again.ignored.count == 4)
    }

    @Test func aDeleteClosesHistoryWithADeletedVersionAndADeleteOfADeletedKeyChangesNothing() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "home")], changes: [
            Self.change(7, 2, address: "home", delete: true), Self.change(7, 3, address: "home", delete: true),
        ])
        #expect(plan.closes.map(\.validToMs) == [2000])
        #expect(plan.inserts.count == 1)
        #expect(plan.inserts[0].isDeleted)
        #expect(plan.inserts[0].isCurrent)
        #expect(plan.inserts[0].lastPosition == Self.position(3))
        #expect(plan.ignored.isEmpty)
    }

    @Test func aKeyCreatedAgainAfterItsDeleteGetsANewVersion() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "gone", deleted: true)],
                                changes: [Self.change(7, 2, address: "gone")])
        #expect(plan.closes.count == 1)
        #expect(plan.inserts.map(\.isDeleted) == [false])
    }

    @Test func validFromNeverMovesBackBeforeThePreviousVersion() {
        let plan = planner.plan(current: [:], changes: [
            Self.change(7, 1, address: "a", at: 5000), Self.change(7, 2, address: "b", at: 4000),
        ])
        #expect(plan.inserts.map(\.validFromMs) == [5000, 5000])
        #expect(plan.inserts[0].validToMs == 5000)
    }

    @Test func type1ValuesEndAsTheNewestOnEveryVersion() {
        let plan = planner.plan(current: [7: Self.stored(7, 1, address: "a", email: "old")], changes: [
            Self.change(7, 2, address: "b", email: "mid"), Self.change(7, 3, address: "c", email: "new"),
        ])
        #expect(plan.inserts.map(\.type1) == [[.string("new")], [.string("new")]])
        #expect(plan.type1Updates == [.init(key: 7, type1: [.string("new")], lastPosition: Self.position(3), allVersions: true)])
    }

    @Test func thePlanDoesNotDependOnBatchBoundaries() {
        let changes = [
            Self.change(1, 1, address: "a"), Self.change(2, 2, address: "x"), Self.change(1, 3, address: "a", email: "m"),
            Self.change(1, 4, address: "b"), Self.change(2, 5, address: "x", delete: true), Self.change(1, 6, address: "c", email: "n"),
        ]
        let whole = planner.plan(current: [:], changes: changes)
        // The same changes in two batches, the second planned against the first's result.
        let first = planner.plan(current: [:], changes: Array(changes[0..<3]))
        var stored: [Int64: DimensionVersion] = [:]
        for version in first.inserts where version.isCurrent {
            var v = version
            v.surrogateKey = 1
            stored[v.key] = v
        }
        let second = planner.plan(current: stored, changes: Array(changes[3...]))
        let versions = (first.inserts.filter { !$0.isCurrent || !second.closes.map(\.versionID).contains($0.versionID) }
            .map(\.versionID)) + second.closes.map(\.versionID) + second.inserts.map(\.versionID)
        #expect(Set(versions) == Set(whole.inserts.map(\.versionID)))
        #expect(second.closes.map(\.validToMs).sorted() == whole.inserts.filter { second.closes.map(\.versionID).contains($0.versionID) }.compactMap(\.validToMs).sorted())
    }
}

@Suite struct FactPlannerTests {
    func change(_ key: Int64, _ n: Int, _ value: String, delete: Bool = false) -> FactChange {
        FactChange(key: key, isDelete: delete, position: DimensionPlannerTests.position(n), commitTimeMs: Int64(n) * 1000,
                   values: [.string(value)])
    }

    @Test func theNewestEventWinsAndOlderOnesAreIgnored() {
        let plan = FactPlanner().plan(lastPositions: [2: DimensionPlannerTests.position(5)], changes: [
            change(1, 1, "submitted"), change(2, 4, "late"), change(1, 6, "approved"), change(2, 7, "repaid", delete: true),
        ])
        #expect(plan.upserts.map(\.key) == [1, 2])
        #expect(plan.upserts[0].values == [.string("approved")])
        #expect(plan.upserts[0].recordedAtMs == 1000)
        #expect(plan.upserts[1].isDeleted)
        #expect(plan.ignored.map(\.key) == [2])
        #expect(plan.applied == 3)
    }
}
