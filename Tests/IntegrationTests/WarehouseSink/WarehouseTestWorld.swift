import Foundation
import Logging
import SluiceCore
import SluiceSQLServer
import SluiceWarehouseSink

/// The warehouse the integration tests write: `SLUICE_WAREHOUSE_URL` (the local world's emulated
/// "warehouse" with db-init/warehouse loaded; a real SQL Server works the same). Tests use random,
/// disjoint key ranges so they never see each other's rows.
enum WarehouseTestWorld {
    struct TimedOut: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }

    static let logger: Logger = {
        var logger = Logger(label: "sluice.warehouse.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"] == "debug" ? .debug : .warning
        return logger
    }()

    static func configuration() throws -> SQLServerConfiguration {
        var configuration = try SQLServerConfiguration(url: LocalWorld.env("SLUICE_WAREHOUSE_URL"))
        configuration.options.loginTimeout = 10
        return configuration
    }

    static func connect() async throws -> SQLServerConnection {
        try await SQLServerConnection.connect(configuration: configuration(), logger: logger)
    }

    static func withConnection<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SQLServerConnection) async throws -> T
    ) async throws -> T {
        try await SQLServerConnection.withConnection(configuration: configuration(), logger: logger, body)
    }

    static let model = WarehouseModel(
        customer: .init(tracked: ["full_name", "national_id", "date_of_birth", "address", "monthly_income", "employment_status"],
                        type1: ["email", "phone", "created_at", "updated_at"]),
        application: .init(tracked: ["status"],
                           type1: ["customer_id", "product", "requested_amount", "term_months", "interest_rate", "submitted_by",
                                   "submitted_at", "decided_by", "decided_at", "decision_note"]))

    static var writer: WarehouseWriter { WarehouseWriter(model: model, logger: logger) }

    /// A key range no other test uses: `base + 0 …< base + 1000`.
    static func keyBase() -> Int64 { Int64.random(in: 1...2_000_000) * 1000 }

    /// Applies `events` in one transaction, as the sink does per batch.
    @discardableResult
    static func apply(_ events: [ChangeEvent], on connection: SQLServerConnection) async throws -> WarehouseWriter.Summary {
        let batch = try WarehouseBatch(events: events, model: model)
        return try await connection.withTransaction { connection in try await writer.apply(batch, on: connection) }
    }

    // MARK: Events (what the source publishes)

    /// A position for the `n`-th change of a test: increasing with `n`.
    static func position(_ n: Int, serial: Int = 1) -> SourcePosition {
        SourcePosition(commitLSN: LSN(vlf: 0x2a, block: UInt32(n), slot: 3), commandID: 1,
                       changeLSN: LSN(vlf: 0x2a, block: UInt32(n), slot: 4), eventSerialNo: serial)
    }

    static let t0: Int64 = 1_763_700_000_000  // 2025-11-21T04:40:00Z

    static func customerRow(_ id: Int64, address: String, income: String = "4261.60", email: String = "c@example.com",
                            name: String = "Quentin Haddad") -> JSONObject {
        ["customer_id": .int(id), "full_name": .string(name), "national_id": .string("E\(id)"), "date_of_birth": .int(12_655),
         "email": .string(email), "phone": .string("+49 152 6662475"), "address": .string(address),
         "monthly_income": .string(income), "employment_status": .string("employed"),
         "created_at": .int(t0), "updated_at": .int(t0)]
    }

    static func event(_ table: String, _ op: ChangeEvent.Operation, key: (String, Int64), row: JSONObject, before: JSONObject? = nil,
                      n: Int, commitMs: Int64) -> ChangeEvent {
        ChangeEvent(op: op, table: TableID(database: "CreditStaging", schema: "dbo", table: table), key: [key.0: .int(key.1)],
                    before: op == .delete ? row : before, after: op == .delete ? nil : row,
                    position: position(n), commitTimeMs: commitMs, processedAtMs: commitMs + 5)
    }

    static func customer(_ op: ChangeEvent.Operation, _ id: Int64, n: Int, at ms: Int64, address: String, income: String = "4261.60",
                         email: String = "c@example.com") -> ChangeEvent {
        event("customers", op, key: ("customer_id", id), row: customerRow(id, address: address, income: income, email: email), n: n, commitMs: ms)
    }

    static func application(_ op: ChangeEvent.Operation, _ id: Int64, customer: Int64, status: String, n: Int, at ms: Int64,
                            amount: String = "5000.00") -> ChangeEvent {
        event("credit_applications", op, key: ("application_id", id), row: [
            "application_id": .int(id), "customer_id": .int(customer), "product": .string("personal_loan"),
            "requested_amount": .string(amount), "term_months": .int(36), "interest_rate": .string("6.50"),
            "status": .string(status), "submitted_by": .string("officer1"), "submitted_at": .int(ms - 10),
            "decided_by": status == "submitted" ? .null : .string("officer2"),
            "decided_at": status == "submitted" ? .null : .int(ms - 5), "decision_note": .null,
        ], n: n, commitMs: ms)
    }

    static func repayment(_ op: ChangeEvent.Operation, _ id: Int64, application: Int64, amount: String, n: Int, at ms: Int64) -> ChangeEvent {
        event("repayments", op, key: ("repayment_id", id), row: [
            "repayment_id": .int(id), "application_id": .int(application), "amount": .string(amount), "paid_at": .int(ms - 1000),
        ], n: n, commitMs: ms)
    }

    // MARK: Reading the warehouse

    struct Version: Hashable {
        var surrogate: Int64
        var customerID: Int64
        var address: String?
        var income: String?
        var email: String?
        var validFrom: Int64
        var validTo: Int64?
        var isCurrent: Bool
        var isDeleted: Bool
    }

    static func customerVersions(_ ids: ClosedRange<Int64>, on connection: SQLServerConnection) async throws -> [Version] {
        let rows = try await connection.execute("""
            SELECT customer_version_key, customer_id, address, monthly_income, email, valid_from, valid_to, is_current, is_deleted
            FROM dw.dim_customer WHERE customer_id BETWEEN \(Int32(ids.lowerBound)) AND \(Int32(ids.upperBound))
            ORDER BY customer_id, valid_from, customer_version_key
            """).rows
        return rows.map { r in
            Version(surrogate: r[0].int64!, customerID: r[1].int64!, address: r[2].string, income: r[3].decimal?.description,
                    email: r[4].string, validFrom: r[5].dateTime!.millisecondsSinceEpoch,
                    validTo: r[6].dateTime.map(\.millisecondsSinceEpoch), isCurrent: r[7].bool!, isDeleted: r[8].bool!)
        }
    }

    /// Every column of every warehouse row of the key range, in a fixed order: two equal dumps are
    /// byte-for-byte equal warehouses (for those keys).
    static func dump(_ ids: ClosedRange<Int64>, on connection: SQLServerConnection) async throws -> [[SQLServerValue]] {
        let lo = Int32(ids.lowerBound), hi = Int32(ids.upperBound)
        var all: [[SQLServerValue]] = []
        for query: SQLServerQuery in [
            "SELECT * FROM dw.dim_customer WHERE customer_id BETWEEN \(lo) AND \(hi) ORDER BY customer_version_key",
            "SELECT * FROM dw.dim_application WHERE application_id BETWEEN \(lo) AND \(hi) ORDER BY application_version_key",
            "SELECT * FROM dw.fact_credit_application WHERE application_id BETWEEN \(lo) AND \(hi) ORDER BY application_id",
            "SELECT * FROM dw.fact_repayment WHERE repayment_id BETWEEN \(lo) AND \(hi) ORDER BY repayment_id",
        ] {
            all += try await connection.execute(query).rows.map { Array($0.values) }
        }
        return all
    }

    /// The operator's checksum of a range of dim_customer (docs/warehouse.md): SHA-256 over the rows as JSON.
    static let checksumQuery = """
        SELECT HASHBYTES('SHA2_256', (SELECT * FROM dw.dim_customer WHERE customer_id BETWEEN @lo AND @hi
            ORDER BY customer_version_key FOR JSON PATH, INCLUDE_NULL_VALUES)) AS checksum
        """
}
