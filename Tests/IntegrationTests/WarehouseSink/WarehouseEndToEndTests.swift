import Foundation
import SluiceCore
import SluiceSQLServer
import SluiceWarehouseSink
import Testing

/// Staging to warehouse through everything: a CDC-enabled `dbo.customers` on the emulated staging
/// server, `sluice run` with the source and the warehouse sink, and the versions compared with what
/// SQL Server recorded in `cdc.lsn_time_mapping`.
@Suite("Warehouse sink end to end: staging → source → Kafka → warehouse", .serialized)
struct WarehouseEndToEndTests {
    typealias W = WarehouseTestWorld

    static let customersColumns = """
        customer_id int NOT NULL PRIMARY KEY, full_name nvarchar(200) NOT NULL, national_id nvarchar(20) NOT NULL,
        date_of_birth date NOT NULL, email nvarchar(200) NULL, phone nvarchar(30) NULL, address nvarchar(400) NULL,
        monthly_income decimal(18,2) NULL, employment_status nvarchar(30) NULL,
        created_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME(), updated_at datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME()
        """

    @Test("five tracked updates: five closed versions and one current, valid_from = the commit times in cdc.lsn_time_mapping, no gaps; an email change makes no version")
    func fiveUpdatesCarryTheCommitTimesOfLsnTimeMapping() async throws {
        let world = try await SourceTestWorld.make("whe2e", tables: [("customers", Self.customersColumns)])
        let base = W.keyBase()
        let marker = base + 1, customer = base + 2
        func insert(_ id: Int64, on connection: SQLServerConnection) async throws {
            try await connection.execute("""
                INSERT INTO dbo.customers (customer_id, full_name, national_id, date_of_birth, email, address, monthly_income, employment_status)
                VALUES (\(Int32(id)), N'Ada Example', \("N\(id)"), '1980-02-03', N'ada@example.com', N'Street 0', 3000.00, N'employed')
                """)
        }
        // The marker exists before the connector starts (its snapshot reads it); the customer is
        // created and changed while the connector streams.
        try await world.withConnection { try await insert(marker, on: $0) }

        let directory = try SluiceProcess.scratchDirectory("whe2e-\(world.prefix)")
        let source = try SluiceProcess.writeConnectorFile(name: "source-\(world.prefix)", config: try world.properties(), in: directory)
        let warehouse = try SluiceProcess.writeSinkConnectorFile(name: "warehouse-\(world.prefix)", config: [
            "connector.class": "warehouse-sink", "topics": world.topic("customers"),
            "connection.url": try LocalWorld.env("SLUICE_WAREHOUSE_URL"),
        ], in: directory)
        let process = SluiceProcess(connectorFiles: [source, warehouse], log: directory.appendingPathComponent("sluice.log"))
        try process.start()
        defer { process.stop() }

        func versions(_ id: Int64) async throws -> [W.Version] { try await W.withConnection { try await W.customerVersions(id...id, on: $0) } }
        let started = try await eventually(timeout: .seconds(90)) { try await versions(marker).count == 1 }
        try #require(started, "the marker never reached the warehouse; log tail:\n\(process.logText.suffix(3000))")

        try await world.withConnection { connection in
            try await insert(customer, on: connection)
            for update in 1...5 {
                let change = update % 2 == 1 ? "address = N'Street \(update)'" : "monthly_income = \(3000 + update * 100).00"
                try await connection.execute("UPDATE dbo.customers SET \(unsafeRaw: change), updated_at = SYSUTCDATETIME() WHERE customer_id = \(Int32(customer))")
            }
            // Not tracked (type 1): overwritten in place, no version.
            try await connection.execute("UPDATE dbo.customers SET email = N'ada@new.example' WHERE customer_id = \(Int32(customer))")
        }
        let arrived = try await eventually(timeout: .seconds(90)) {
            let history = try await versions(customer)
            return history.count >= 6 && history.last?.email == "ada@new.example"
        }
        let history = try await versions(customer)
        try #require(arrived, "the history did not arrive: \(history); log tail:\n\(process.logText.suffix(3000))")

        // What SQL Server recorded: the commit time of each change to the customer, as UTC.
        let commits: [Int64] = try await world.withConnection { connection in
            try await connection.execute("""
                SELECT DATEADD(MINUTE, -DATEPART(TZOFFSET, SYSDATETIMEOFFSET()), CAST(m.tran_end_time AS datetime2(3)))
                FROM cdc.dbo_customers_CT ct JOIN cdc.lsn_time_mapping m ON m.start_lsn = ct.__$start_lsn
                WHERE ct.customer_id = \(Int32(customer)) AND ct.__$operation IN (2, 4)
                ORDER BY ct.__$start_lsn, ct.__$seqval
                """).rows.map { $0[0].dateTime!.millisecondsSinceEpoch }
        }
        #expect(commits.count == 7, "an insert, five tracked updates and the email change: \(commits)")
        #expect(history.count == 6)
        #expect(history.map(\.validFrom) == Array(commits.prefix(6)), "valid_from is the source commit time of each version")
        #expect(history.dropLast().allSatisfy { !$0.isCurrent && $0.validTo != nil }, "five closed versions")
        #expect(history.last?.isCurrent == true && history.last?.validTo == nil, "one current version")
        for (version, next) in zip(history, history.dropFirst()) {
            #expect(version.validTo == next.validFrom, "no gap or overlap between versions")
        }
        #expect(history.map(\.address) == ["Street 0", "Street 1", "Street 1", "Street 3", "Street 3", "Street 5"])
        #expect(history.map(\.income) == ["3000.00", "3000.00", "3200.00", "3200.00", "3400.00", "3400.00"])
        // The type-1 email is the same on every version (overwritten in place).
        #expect(Set(history.map(\.email)) == ["ada@new.example"])
        try? FileManager.default.removeItem(at: directory)
    }
}
