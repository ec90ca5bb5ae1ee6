import SluiceCore
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

/// SCD2 history and facts written by `WarehouseWriter` into the warehouse (no broker: the batches are
/// what the sink would hand it).
@Suite struct WarehouseSCD2Tests {
    typealias W = WarehouseTestWorld

    @Test func fiveUpdatesYieldFiveClosedVersionsAndOneCurrentWithCommitTimes() async throws {
        let id = W.keyBase()
        let times = (0...5).map { W.t0 + Int64($0) * 60_000 + 123 }
        var events = [W.customer(.create, id, n: 1, at: times[0], address: "Main St 1")]
        for i in 1...5 {
            events.append(W.customer(.update, id, n: 1 + i, at: times[i], address: i % 2 == 0 ? "Main St \(i)" : "Main St \(i - 1)",
                                     income: "\(4000 + i * 100).50"))
        }
        try await W.withConnection { connection in
            // Two batches: one with the create and two updates, one with the rest.
            try await W.apply(Array(events[0..<3]), on: connection)
            try await W.apply(Array(events[3...]), on: connection)
            let versions = try await W.customerVersions(id...id, on: connection)
            #expect(versions.count == 6)
            #expect(versions.filter { !$0.isCurrent }.count == 5)
            #expect(versions.filter(\.isCurrent).count == 1)
            #expect(versions.last?.isCurrent == true)
            #expect(versions.map(\.validFrom) == times)
            for (version, next) in zip(versions, versions.dropFirst()) {
                #expect(version.validTo == next.validFrom)  // no gap, no overlap
            }
            #expect(versions.last?.validTo == nil)
            #expect(versions.last?.income == "4500.50")
            #expect(versions.map(\.surrogate) == versions.map(\.surrogate).sorted())
        }
    }

    /// A full batch of `batch.size` 500 (the shipped default): 250 keys created and updated, so every
    /// row set packs hundreds of rows into one JSON parameter far past 4000 characters (first found
    /// running `make demo`, when each value was its own parameter).
    @Test func aFullBatchOfFiveHundredEventsAppliesInOneTransaction() async throws {
        let base = W.keyBase()
        var events: [ChangeEvent] = []
        for c in 0..<Int64(250) {
            events.append(W.customer(.create, base + c, n: 2 * Int(c) + 1, at: W.t0 + c, address: "Street \(c)"))
            events.append(W.customer(.update, base + c, n: 2 * Int(c) + 2, at: W.t0 + 1000 + c, address: "Avenue \(c)"))
        }
        try await W.withConnection { connection in
            let summary = try await W.apply(events, on: connection)
            #expect(summary.versionsCreated.values.reduce(0, +) == 500, "\(summary)")
            let versions = try await W.customerVersions(base...(base + 249), on: connection)
            #expect(versions.count == 500 && versions.filter(\.isCurrent).count == 250)
        }
    }

    /// The batch's rows travel as one JSON parameter unpacked by OPENJSON: every value arrives exactly
    /// (decimals without float rounding, milliseconds, Unicode and control characters, NULLs), and a
    /// string longer than its column is refused, not cut.
    @Test func valuesSurviveTheJSONPackingExactlyAndAnOversizeStringIsRefused() async throws {
        let id = W.keyBase()
        let name = "Zoë \"Q\" O'Brien\\\n\t\u{01} 山田 😀 </script>"
        var row = W.customerRow(id, address: "Line 1\r\nLine 2", income: "-99999999.99", email: "e@example.com", name: name)
        row["phone"] = .null
        row["updated_at"] = .int(W.t0 + 999)
        let event = W.event("customers", .create, key: ("customer_id", id), row: row, n: 1, commitMs: W.t0 + 7)
        try await W.withConnection { connection in
            try await W.apply([event], on: connection)
            let r = try #require(try await connection.execute("""
                SELECT full_name, address, monthly_income, phone, updated_at, valid_from, date_of_birth
                FROM dw.dim_customer WHERE customer_id = \(Int32(id))
                """).rows.first)
            #expect(r[0].string == name)
            #expect(r[1].string == "Line 1\r\nLine 2")
            #expect(r[2].decimal?.description == "-99999999.99")
            #expect(r[3].isNull)
            #expect(r[4].dateTime?.millisecondsSinceEpoch == W.t0 + 999)
            #expect(r[5].dateTime?.millisecondsSinceEpoch == W.t0 + 7)
            #expect(r[6] == .date(SQLDate(daysSince1900: 12_655 + SQLDate.daysFrom1900To1970)))

            var long = W.customerRow(id + 1, address: "x")
            long["national_id"] = .string(String(repeating: "9", count: 21))  // nvarchar(20)
            let refused = W.event("customers", .create, key: ("customer_id", id + 1), row: long, n: 2, commitMs: W.t0)
            await #expect(throws: (any Error).self) { try await W.apply([refused], on: connection) }
            #expect(try await W.customerVersions((id + 1)...(id + 1), on: connection).isEmpty)
        }
    }

    @Test func aChangeOfNoTrackedColumnCreatesNoVersionAndOverwritesType1() async throws {
        let id = W.keyBase()
        try await W.withConnection { connection in
            try await W.apply([W.customer(.create, id, n: 1, at: W.t0, address: "Kungsgatan 2"),
                               W.customer(.update, id, n: 2, at: W.t0 + 1000, address: "Kungsgatan 3")], on: connection)
            try await W.apply([W.customer(.update, id, n: 3, at: W.t0 + 2000, address: "Kungsgatan 3", email: "new@example.com")],
                              on: connection)
            let versions = try await W.customerVersions(id...id, on: connection)
            #expect(versions.count == 2)
            #expect(versions.map(\.email) == ["new@example.com", "new@example.com"])  // type 1: every version
        }
    }

    @Test func aDeleteClosesTheHistoryWithADeletedVersion() async throws {
        let id = W.keyBase()
        try await W.withConnection { connection in
            try await W.apply([W.customer(.create, id, n: 1, at: W.t0, address: "Via Roma 1")], on: connection)
            try await W.apply([W.customer(.delete, id, n: 2, at: W.t0 + 5000, address: "Via Roma 1")], on: connection)
            let versions = try await W.customerVersions(id...id, on: connection)
            #expect(versions.count == 2)
            #expect(versions[0].validTo == W.t0 + 5000 && !versions[0].isCurrent && !versions[0].isDeleted)
            #expect(versions[1].isDeleted && versions[1].isCurrent && versions[1].validFrom == W.t0 + 5000)
        }
    }

    @Test func replayedAndLateEventsChangeNothing() async throws {
        let base = W.keyBase()
        let customer = base + 1, application = base + 2, repayment = base + 3
        let events = [
            W.customer(.create, customer, n: 1, at: W.t0, address: "A"),
            W.application(.create, application, customer: customer, status: "submitted", n: 2, at: W.t0 + 1000),
            W.customer(.update, customer, n: 3, at: W.t0 + 2000, address: "B"),
            W.application(.update, application, customer: customer, status: "approved", n: 4, at: W.t0 + 3000),
            W.repayment(.create, repayment, application: application, amount: "150.00", n: 5, at: W.t0 + 4000),
            W.customer(.update, customer, n: 6, at: W.t0 + 5000, address: "B", email: "x@example.com"),
            W.customer(.delete, customer, n: 7, at: W.t0 + 6000, address: "B"),
        ]
        try await W.withConnection { connection in
            try await W.apply(events, on: connection)
            let before = try await W.dump(base...(base + 999), on: connection)
            #expect(!before.isEmpty)
            // Everything again, in other batch boundaries: a replay from offset 0.
            for chunk in [events[0..<2], events[2..<5], events[5...]] {
                let summary = try await W.apply(Array(chunk), on: connection)
                #expect(summary.versionsCreated.values.reduce(0, +) == 0)
            }
            // A late event: older than the key's history.
            let late = W.customer(.update, customer, n: 2, at: W.t0 + 1500, address: "LATE")
            let summary = try await W.apply([late], on: connection)
            #expect(summary.ignored["dim_customer"] == 1)
            #expect(try await W.dump(base...(base + 999), on: connection) == before)
        }
    }

    @Test func factsJoinToTheVersionsValidWhenTheyWereRecorded() async throws {
        let base = W.keyBase()
        let customer = base + 1, application = base + 2, repayment = base + 3
        let customerEvents = [
            W.customer(.create, customer, n: 1, at: W.t0, address: "A"),
            W.customer(.update, customer, n: 3, at: W.t0 + 2000, address: "B"),
            W.customer(.update, customer, n: 6, at: W.t0 + 5000, address: "C"),
        ]
        let applicationEvents = [
            W.application(.create, application, customer: customer, status: "submitted", n: 2, at: W.t0 + 1000),
            W.application(.update, application, customer: customer, status: "approved", n: 4, at: W.t0 + 3000, amount: "5000.00"),
        ]
        let repaymentEvents = [W.repayment(.create, repayment, application: application, amount: "150.00", n: 5, at: W.t0 + 4000)]
        try await W.withConnection { connection in
            // Facts arrive before the dimension history they point to (topics are consumed independently).
            try await W.apply(repaymentEvents, on: connection)
            try await W.apply(applicationEvents, on: connection)
            try await W.apply(customerEvents, on: connection)
            let rows = try await connection.execute("""
                SELECT f.application_id, f.status, f.approved_amount, dc.address AS address_at_submission,
                       r.amount, rc.address AS address_when_paid, ra.status AS status_when_paid, r.customer_id
                FROM dw.fact_credit_application AS f
                JOIN dw.dim_customer AS dc ON dc.customer_version_key = f.customer_version_key
                JOIN dw.fact_repayment AS r ON r.application_id = f.application_id
                JOIN dw.dim_customer AS rc ON rc.customer_version_key = r.customer_version_key
                JOIN dw.dim_application AS ra ON ra.application_version_key = r.application_version_key
                WHERE f.application_id = \(Int32(application))
                """).rows
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(row[column: "status"]?.string == "approved")
            #expect(row[column: "approved_amount"]?.decimal?.description == "5000.00")
            #expect(row[column: "address_at_submission"]?.string == "A")
            #expect(row[column: "address_when_paid"]?.string == "B")
            #expect(row[column: "status_when_paid"]?.string == "approved")
            #expect(row[column: "customer_id"]?.int64 == customer)
        }
    }
}
