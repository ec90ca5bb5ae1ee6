import Foundation
import Logging
import SluiceCore
import SluiceSQLServer

/// The app's writes, all to staging (the source of truth, over TDS with `sp_executesql` parameters);
/// CDC carries them to the replica and the warehouse.
public struct StagingStore: Sendable {
    let pool: SQLServerPool
    let logger: Logger

    public init(pool: SQLServerPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    public struct Submitted: Sendable, Hashable {
        public var applicationID: Int
        public var customerID: Int
    }

    /// Inserts the application, and creates the customer or updates the one with that national id,
    /// in one transaction. A known `customer_id` that does not exist is a 422.
    public func submit(_ submission: ApplicationSubmission, by user: String) async throws -> Submitted {
        let submitted: Submitted
        do {
            submitted = try await submitOnce(submission, by: user)
        } catch let error as SQLServerError where error.code == .duplicateKey {
            // Two submissions created the same new customer at once; the other one won: reuse it.
            submitted = try await submitOnce(submission, by: user)
        }
        AppMetrics.submitted()
        return submitted
    }

    private func submitOnce(_ submission: ApplicationSubmission, by user: String) async throws -> Submitted {
        try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                let customerID: Int
                switch submission.applicant {
                case .customerID(let id):
                    let found = try await connection.execute(
                        "SELECT customer_id FROM dbo.customers WITH (UPDLOCK) WHERE customer_id = \(Int32(id))")
                    guard found.rows.first?[0].int != nil else {
                        throw APIError(.unprocessableContent, "validation failed", fields: [("customer_id", "no customer has this id")])
                    }
                    customerID = id
                case .customer(let c):
                    let dob = SQLDate(year: c.dateOfBirth.year!, month: c.dateOfBirth.month!, day: c.dateOfBirth.day!)
                    let income = c.monthlyIncome.flatMap { SQLDecimal($0)?.rescaled(to: 2) }
                    let existing = try await connection.execute("""
                        SELECT customer_id FROM dbo.customers WITH (UPDLOCK, HOLDLOCK) WHERE national_id = \(c.nationalID, as: .nvarchar(.count(20)))
                        """)
                    if let id = existing.rows.first?[0].int {
                        try await connection.execute("""
                            UPDATE dbo.customers SET full_name = \(c.fullName, as: .nvarchar(.count(200))), date_of_birth = \(dob),
                                email = \(c.email, as: .nvarchar(.count(200))), phone = \(c.phone, as: .nvarchar(.count(30))),
                                address = \(c.address, as: .nvarchar(.count(400))), monthly_income = \(income, as: .decimal(precision: 18, scale: 2)),
                                employment_status = \(c.employmentStatus, as: .nvarchar(.count(30))), updated_at = SYSUTCDATETIME()
                            WHERE customer_id = \(Int32(id))
                            """)
                        customerID = id
                    } else {
                        let inserted = try await connection.execute("""
                            INSERT INTO dbo.customers (full_name, national_id, date_of_birth, email, phone, address, monthly_income, employment_status)
                            OUTPUT INSERTED.customer_id
                            VALUES (\(c.fullName, as: .nvarchar(.count(200))), \(c.nationalID, as: .nvarchar(.count(20))), \(dob),
                                    \(c.email, as: .nvarchar(.count(200))), \(c.phone, as: .nvarchar(.count(30))), \(c.address, as: .nvarchar(.count(400))),
                                    \(income, as: .decimal(precision: 18, scale: 2)), \(c.employmentStatus, as: .nvarchar(.count(30))))
                            """)
                        guard let id = inserted.rows.first?[0].int else { throw StagingError("INSERT INTO dbo.customers returned no customer_id") }
                        customerID = id
                    }
                }
                let amount = SQLDecimal(submission.requestedAmount)?.rescaled(to: 2)
                let inserted = try await connection.execute("""
                    INSERT INTO dbo.credit_applications (customer_id, product, requested_amount, term_months, status, submitted_by)
                    OUTPUT INSERTED.application_id
                    VALUES (\(Int32(customerID)), \(submission.product.rawValue, as: .nvarchar(.count(30))),
                            \(amount, as: .decimal(precision: 18, scale: 2)), \(Int32(submission.termMonths)), N'submitted',
                            \(user, as: .nvarchar(.count(100))))
                    """)
                guard let applicationID = inserted.rows.first?[0].int else { throw StagingError("INSERT INTO dbo.credit_applications returned no application_id") }
                return Submitted(applicationID: applicationID, customerID: customerID)
            }
        }
    }

    public enum DecisionOutcome: Sendable, Hashable {
        case decided(status: String)
        case notFound
        case ownApplication
        case notSubmitted(currentStatus: String)
    }

    /// Decides an application: one guarded UPDATE (`WHERE status = 'submitted' AND submitted_by <> @me`),
    /// so of two approvers deciding at once exactly one changes the row; the other learns why not.
    public func decide(applicationID: Int, _ decision: ApplicationDecision, by user: String) async throws -> DecisionOutcome {
        let outcome = try await decideOnce(applicationID: applicationID, decision, by: user)
        switch outcome {
        case .decided(let status): AppMetrics.decision(status)
        case .ownApplication: AppMetrics.decision("four_eyes")
        case .notSubmitted: AppMetrics.decision("conflict")
        case .notFound: break
        }
        return outcome
    }

    private func decideOnce(applicationID: Int, _ decision: ApplicationDecision, by user: String) async throws -> DecisionOutcome {
        try await pool.withConnection { connection in
            try await connection.withTransaction { connection in
                let status = decision.outcome.status
                let rate = decision.interestRate.flatMap { SQLDecimal($0)?.rescaled(to: 2) }
                let updated = try await connection.execute("""
                    UPDATE dbo.credit_applications
                    SET status = \(status, as: .nvarchar(.count(20))), decided_by = \(user, as: .nvarchar(.count(100))),
                        decided_at = SYSUTCDATETIME(), decision_note = \(decision.note, as: .nvarchar(.count(400))),
                        interest_rate = COALESCE(\(rate, as: .decimal(precision: 5, scale: 2)), interest_rate)
                    OUTPUT INSERTED.status
                    WHERE application_id = \(Int32(applicationID)) AND status = N'submitted' AND submitted_by <> \(user, as: .nvarchar(.count(100)))
                    """)
                if let newStatus = updated.rows.first?[0].string { return .decided(status: newStatus) }
                let current = try await connection.execute(
                    "SELECT status, submitted_by FROM dbo.credit_applications WHERE application_id = \(Int32(applicationID))")
                guard let row = current.rows.first, let currentStatus = row[0].string else { return .notFound }
                if row[1].string == user { return .ownApplication }
                return .notSubmitted(currentStatus: currentStatus)
            }
        }
    }

    /// Row counts of the replicated tables in staging (the dashboard's "source" column).
    public func rowCounts() async throws -> [String: Int] {
        try await pool.withConnection { connection in
            // The names are cast to one type: the emulator types a UNION's column from its first row.
            let result = try await connection.execute("""
                SELECT CAST(N'customers' AS nvarchar(30)), COUNT(*) FROM dbo.customers
                UNION ALL SELECT CAST(N'credit_applications' AS nvarchar(30)), COUNT(*) FROM dbo.credit_applications
                UNION ALL SELECT CAST(N'repayments' AS nvarchar(30)), COUNT(*) FROM dbo.repayments
                """)
            var counts: [String: Int] = [:]
            for row in result.rows { if let name = row[0].string, let n = row[1].int { counts[name] = n } }
            return counts
        }
    }

    /// The staging database's user tables and their columns in order (INFORMATION_SCHEMA), for the
    /// lineage graph; CDC's own tables (schema `cdc`) and system tables are left out.
    public func catalog() async throws -> [TableID: [String]] {
        try await pool.withConnection { connection in
            let result = try await connection.execute("""
                SELECT CAST(DB_NAME() AS nvarchar(128)), CAST(c.TABLE_SCHEMA AS nvarchar(128)), CAST(c.TABLE_NAME AS nvarchar(128)),
                       CAST(c.COLUMN_NAME AS nvarchar(128))
                FROM INFORMATION_SCHEMA.COLUMNS c
                JOIN INFORMATION_SCHEMA.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
                WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_SCHEMA NOT IN ('cdc', 'sys')
                ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
                """)
            var out: [TableID: [String]] = [:]
            for row in result.rows {
                guard let db = row[0].string, let schema = row[1].string, let table = row[2].string, let column = row[3].string else { continue }
                out[TableID(database: db, schema: schema, table: table), default: []].append(column)
            }
            return out
        }
    }

    /// How long the oldest change committed after `lsn` has been waiting (ms; 0 when none), from
    /// `cdc.lsn_time_mapping` (times are the server's; the difference is taken on the server).
    public func pendingAge(after lsnBytes: [UInt8]) async throws -> Int {
        try await pool.withConnection { connection in
            let result = try await connection.execute("""
                SELECT DATEDIFF(millisecond, MIN(tran_end_time), SYSDATETIME()) FROM cdc.lsn_time_mapping
                WHERE start_lsn > \(lsnBytes, as: .binary(10)) AND tran_id <> 0x00
                """)
            return max(0, result.rows.first?[0].int ?? 0)
        }
    }

    public func ping() async throws {
        try await pool.withConnection { connection in _ = try await connection.execute("SELECT 1") }
    }
}

struct StagingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
