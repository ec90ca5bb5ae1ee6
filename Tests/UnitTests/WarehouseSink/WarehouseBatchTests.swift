import SluiceCore
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

@Suite struct WarehouseBatchTests {
    let model = WarehouseModel(
        customer: .init(tracked: ["address", "monthly_income"], type1: ["email", "date_of_birth", "updated_at"]),
        application: .init(tracked: ["status"], type1: ["customer_id", "requested_amount"]))

    func event(_ table: String, _ op: ChangeEvent.Operation, _ row: JSONObject) -> ChangeEvent {
        ChangeEvent(op: op, table: TableID(database: "CreditStaging", schema: "dbo", table: table), key: [:],
                    before: op == .delete ? row : nil, after: op == .delete ? nil : row,
                    position: DimensionPlannerTests.position(1), commitTimeMs: 1_700_000_000_123, processedAtMs: 0)
    }

    @Test func valuesAreConvertedAsTheTypeMappingWritesThem() throws {
        let batch = try WarehouseBatch(events: [
            event("customers", .update, ["customer_id": .int(3), "address": .string("Main St 1"), "monthly_income": .string("4261.60"),
                                         "email": .null, "date_of_birth": .int(-1), "updated_at": .int(1_736_156_220_358)]),
        ], model: model)
        let change = try #require(batch.customers.first)
        #expect(change.key == 3)
        #expect(change.tracked == [.string("Main St 1"), .decimal(SQLDecimal("4261.60")!)])
        #expect(change.type1[0] == .null)
        #expect(change.type1[1] == .date(SQLDate(year: 1969, month: 12, day: 31)))
        #expect(change.type1[2] == .dateTime(SQLDateTime(year: 2025, month: 1, day: 6, hour: 9, minute: 37, second: 0, nanosecond: 358_000_000)))
    }

    @Test func anApplicationFeedsItsDimensionAndItsFactWithTheApprovedAmount() throws {
        let batch = try WarehouseBatch(events: [
            event("credit_applications", .update, ["application_id": .int(8), "customer_id": .int(3), "status": .string("approved"),
                                                   "requested_amount": .string("1000.00")]),
        ], model: model)
        #expect(batch.applications.map(\.key) == [8])
        let values = try #require(batch.applicationFacts.first?.values)
        #expect(values.count == WarehouseModel.applicationFactTableColumns.count)
        let approved = WarehouseModel.applicationFactTableColumns.firstIndex { $0.name == "approved_amount" }!
        #expect(values[approved] == .decimal(SQLDecimal("1000.00")!))
    }

    @Test func poisonEventsAreReportedWithACode() {
        #expect { try WarehouseBatch(events: [event("customers", .create, ["customer_id": .int(1), "monthly_income": .string("abc")])], model: model) }
            throws: { ($0 as? WarehouseSinkError)?.code == .invalidValue }
        #expect { try WarehouseBatch(events: [event("customers", .create, ["address": .string("x")])], model: model) }
            throws: { ($0 as? WarehouseSinkError)?.code == .invalidEvent }
        #expect { try WarehouseBatch(events: [event("audit", .create, ["id": .int(1)])], model: model) }
            throws: { ($0 as? WarehouseSinkError)?.isPoison == true }
    }

    @Test func timesRoundTripThroughDatetime2() {
        for ms: Int64 in [0, 1, -1, 1_736_156_220_358, -86_400_001] {
            #expect(SQLDateTime(millisecondsSinceEpoch: ms).millisecondsSinceEpoch == ms)
        }
    }
}
