import Logging
import PostgresNIO

/// The app's reads of the replica (schema `dbo` of `credit_app`, written only by the Postgres sink).
/// Every value travels as a bind parameter.
public struct ReplicaStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let applicationColumns = """
        a.application_id, a.customer_id, c.full_name::text, c.national_id::text, a.product::text, a.requested_amount::text,
        a.term_months, a.interest_rate::text, a.status::text, a.submitted_by::text,
        to_char(a.submitted_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), a.decided_by::text,
        to_char(a.decided_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), a.decision_note::text
        """

    typealias ApplicationTuple = (Int32, Int32, String?, String?, String, String, Int32, String?, String, String, String, String?, String?, String?)

    static func application(_ t: ApplicationTuple) -> ApplicationRow {
        ApplicationRow(applicationID: Int(t.0), customerID: Int(t.1), customerName: t.2, nationalID: t.3, product: t.4,
                       requestedAmount: t.5, termMonths: Int(t.6), interestRate: t.7, status: t.8, submittedBy: t.9,
                       submittedAt: t.10, decidedBy: t.11, decidedAt: t.12, decisionNote: t.13)
    }

    public struct Page<Item: Sendable>: Sendable {
        public var items: [Item]
        public var total: Int
    }

    /// Applications matching `filter`, newest first, one page, and how many match in all.
    public func applications(_ filter: ApplicationFilter) async throws -> Page<ApplicationRow> {
        let folded = filter.query.map { TextFolding.containsPattern(TextFolding.fold($0)) }
        let nationalPrefix = filter.query.map { String(TextFolding.containsPattern($0.uppercased()).dropFirst()) }
        let id = filter.queryApplicationID.map(Int32.init)
        let offset = Int64((filter.page - 1) * filter.pageSize)
        let from = TextFolding.translateFrom, to = TextFolding.translateTo
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.applicationColumns), count(*) OVER ()::int8
            FROM dbo.credit_applications a LEFT JOIN dbo.customers c ON c.customer_id = a.customer_id
            WHERE (\(filter.status)::text IS NULL OR a.status = \(filter.status)::text)
              AND (\(filter.product)::text IS NULL OR a.product = \(filter.product)::text)
              AND (\(filter.submittedFrom)::date IS NULL OR a.submitted_at >= \(filter.submittedFrom)::date)
              AND (\(filter.submittedTo)::date IS NULL OR a.submitted_at < \(filter.submittedTo)::date + 1)
              AND (\(filter.excludeSubmittedBy)::text IS NULL OR a.submitted_by <> \(filter.excludeSubmittedBy)::text)
              AND (\(folded)::text IS NULL
                   OR a.application_id = \(id)::int
                   OR upper(c.national_id) LIKE \(nationalPrefix)::text ESCAPE '\\'
                   OR lower(translate(c.full_name, \(from)::text, \(to)::text)) LIKE \(folded)::text ESCAPE '\\')
            ORDER BY a.submitted_at DESC, a.application_id DESC
            LIMIT \(Int64(filter.pageSize)) OFFSET \(offset)
            """
        var items: [ApplicationRow] = []
        var total = 0
        let rows = try await client.query(query, logger: logger)
        for try await row in rows.decode((Int32, Int32, String?, String?, String, String, Int32, String?, String, String, String, String?, String?, String?, Int64).self) {
            items.append(Self.application((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11, row.12, row.13)))
            total = Int(row.14)
        }
        if items.isEmpty && filter.page > 1 {
            // Past the last page: count separately so the caller can still say how many there are.
            var first = filter
            first.page = 1
            first.pageSize = 1
            total = try await applications(first).total
        }
        return Page(items: items, total: total)
    }

    public func application(id: Int) async throws -> ApplicationRow? {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.applicationColumns)
            FROM dbo.credit_applications a LEFT JOIN dbo.customers c ON c.customer_id = a.customer_id
            WHERE a.application_id = \(Int32(clamping: id))
            """, logger: logger)
        for try await t in rows.decode(ApplicationTuple.self) { return Self.application(t) }
        return nil
    }

    static let customerColumns = """
        customer_id, full_name::text, national_id::text, to_char(date_of_birth, 'YYYY-MM-DD'), email::text, phone::text,
        address::text, monthly_income::text, employment_status::text,
        to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        """

    typealias CustomerTuple = (Int32, String, String, String, String?, String?, String?, String?, String?, String, String)

    static func customer(_ t: CustomerTuple) -> CustomerRow {
        CustomerRow(customerID: Int(t.0), fullName: t.1, nationalID: t.2, dateOfBirth: t.3, email: t.4, phone: t.5,
                    address: t.6, monthlyIncome: t.7, employmentStatus: t.8, createdAt: t.9, updatedAt: t.10)
    }

    public func customer(id: Int) async throws -> CustomerRow? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.customerColumns) FROM dbo.customers WHERE customer_id = \(Int32(clamping: id))", logger: logger)
        for try await t in rows.decode(CustomerTuple.self) { return Self.customer(t) }
        return nil
    }

    public func customer(nationalID: String) async throws -> CustomerRow? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.customerColumns) FROM dbo.customers WHERE upper(national_id) = upper(\(nationalID))", logger: logger)
        for try await t in rows.decode(CustomerTuple.self) { return Self.customer(t) }
        return nil
    }

    /// Customers whose name (case- and accent-insensitive), national id (prefix) or id matches `q`.
    public func customers(query q: String?, page: Int, pageSize: Int) async throws -> Page<CustomerRow> {
        let folded = q.map { TextFolding.containsPattern(TextFolding.fold($0)) }
        let nationalPrefix = q.map { String(TextFolding.containsPattern($0.uppercased()).dropFirst()) }
        let id: Int32? = q.flatMap { $0.count <= 9 && $0.allSatisfy(\.isASCIIDigit) ? Int32($0) : nil }
        let from = TextFolding.translateFrom, to = TextFolding.translateTo
        let rows = try await client.query("""
            SELECT \(unescaped: Self.customerColumns), count(*) OVER ()::int8 FROM dbo.customers
            WHERE \(folded)::text IS NULL OR customer_id = \(id)::int
               OR upper(national_id) LIKE \(nationalPrefix)::text ESCAPE '\\'
               OR lower(translate(full_name, \(from)::text, \(to)::text)) LIKE \(folded)::text ESCAPE '\\'
            ORDER BY full_name, customer_id
            LIMIT \(Int64(pageSize)) OFFSET \(Int64((page - 1) * pageSize))
            """, logger: logger)
        var items: [CustomerRow] = []
        var total = 0
        for try await r in rows.decode((Int32, String, String, String, String?, String?, String?, String?, String?, String, String, Int64).self) {
            items.append(Self.customer((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10)))
            total = Int(r.11)
        }
        return Page(items: items, total: total)
    }

    public func applications(customerID: Int) async throws -> [ApplicationRow] {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.applicationColumns)
            FROM dbo.credit_applications a LEFT JOIN dbo.customers c ON c.customer_id = a.customer_id
            WHERE a.customer_id = \(Int32(clamping: customerID)) ORDER BY a.submitted_at DESC, a.application_id DESC LIMIT 100
            """, logger: logger)
        var out: [ApplicationRow] = []
        for try await t in rows.decode(ApplicationTuple.self) { out.append(Self.application(t)) }
        return out
    }

    // MARK: Dashboard and freshness

    /// The newest source position applied to any replicated table (its first 20 characters are the
    /// commit LSN in hex), nil when the replica is empty.
    public func newestPosition() async throws -> String? {
        let rows = try await client.query("""
            SELECT max(p) FROM (
                SELECT max(__sluice_position) AS p FROM dbo.customers
                UNION ALL SELECT max(__sluice_position) FROM dbo.credit_applications
                UNION ALL SELECT max(__sluice_position) FROM dbo.repayments) AS t
            """, logger: logger)
        for try await p in rows.decode(String?.self) { return p }
        return nil
    }

    public func rowCounts() async throws -> [String: Int] {
        let rows = try await client.query("""
            SELECT 'customers', count(*)::int8 FROM dbo.customers
            UNION ALL SELECT 'credit_applications', count(*) FROM dbo.credit_applications
            UNION ALL SELECT 'repayments', count(*) FROM dbo.repayments
            """, logger: logger)
        var out: [String: Int] = [:]
        for try await (name, n) in rows.decode((String, Int64).self) { out[name] = Int(n) }
        return out
    }

    public struct Statistics: Sendable {
        public var byStatus: [(String, Int)] = []
        public var byProduct: [(String, Int, String)] = []
        /// (month `YYYY-MM`, total requested, approved)
        public var byMonth: [(String, Double, Double)] = []
    }

    public func statistics() async throws -> Statistics {
        var s = Statistics()
        for try await (status, n) in try await client.query(
            "SELECT status::text, count(*)::int8 FROM dbo.credit_applications GROUP BY status ORDER BY status", logger: logger
        ).decode((String, Int64).self) { s.byStatus.append((status, Int(n))) }
        for try await (product, n, sum) in try await client.query(
            "SELECT product::text, count(*)::int8, sum(requested_amount)::text FROM dbo.credit_applications GROUP BY product ORDER BY product",
            logger: logger
        ).decode((String, Int64, String).self) { s.byProduct.append((product, Int(n), sum)) }
        for try await (month, total, approved) in try await client.query("""
            SELECT to_char(date_trunc('month', submitted_at), 'YYYY-MM'), sum(requested_amount)::float8,
                   COALESCE(sum(requested_amount) FILTER (WHERE status = 'approved'), 0)::float8
            FROM dbo.credit_applications GROUP BY 1 ORDER BY 1 DESC LIMIT 12
            """, logger: logger
        ).decode((String, Double, Double).self) { s.byMonth.insert((month, total, approved), at: 0) }
        return s
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }
}
