import Logging
import PostgresNIO

/// What the lineage page and the dashboard read about the replica database's shape: column lists
/// from `information_schema`, and the dbt marts when `make dbt` has built them.
public struct ReplicaCatalog: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// `schema.table` → its columns in order, for the tables of `schemas`.
    public func columns(schemas: [String]) async throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let rows = try await client.query("""
            SELECT table_schema::text, table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = ANY(\(schemas)) ORDER BY table_schema, table_name, ordinal_position
            """, logger: logger)
        for try await (schema, table, column) in rows.decode((String, String, String).self) {
            out["\(schema).\(table)", default: []].append(column)
        }
        return out
    }

    /// Rows of each table named (`schema.table`, as the catalog returned them: names come from
    /// `information_schema` and are quoted as identifiers).
    public func rowCounts(_ tables: [String]) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for name in tables {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let sql = "SELECT count(*)::int8 FROM \(Self.quote(parts[0])).\(Self.quote(parts[1]))"
            do {
                let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
                for try await n in rows.decode(Int64.self) { out[name] = Int(n) }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
                continue  // not created yet (a dbt table before the first build)
            }
        }
        return out
    }

    static func quote(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    public struct ProductPortfolio: Sendable, Hashable {
        public var product: String
        public var approved: Double
        public var repaid: Double
        public var outstanding: Double
        public var approvalRate: Double?
        public var submitted: Int
    }

    /// The dbt marts `analytics_marts.portfolio_by_product` and `approval_funnel_by_product`, or nil
    /// while they do not exist (dbt has not run against this replica).
    public func marts(schema: String = "analytics_marts") async throws -> [ProductPortfolio]? {
        let check = try await client.query("""
            SELECT to_regclass(\(schema + ".portfolio_by_product"))::text, to_regclass(\(schema + ".approval_funnel_by_product"))::text
            """, logger: logger)
        var present = false
        for try await (a, b) in check.decode((String?, String?).self) { present = a != nil && b != nil }
        guard present else { return nil }
        let s = Self.quote(schema)
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            SELECT coalesce(f.product, p.product)::text,
                   coalesce(p.approved_amount, 0)::float8, coalesce(p.repaid_amount, 0)::float8, coalesce(p.outstanding_amount, 0)::float8,
                   f.approval_rate::float8, coalesce(f.submitted_count, 0)::int8
            FROM \(s).approval_funnel_by_product f FULL JOIN \(s).portfolio_by_product p ON p.product = f.product
            ORDER BY 1
            """), logger: logger)
        var out: [ProductPortfolio] = []
        for try await r in rows.decode((String, Double, Double, Double, Double?, Int64).self) {
            out.append(ProductPortfolio(product: r.0, approved: r.1, repaid: r.2, outstanding: r.3, approvalRate: r.4, submitted: Int(r.5)))
        }
        return out
    }
}
