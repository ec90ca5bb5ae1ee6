import Foundation
import Logging
import SluiceSQLServer

/// History from the SCD2 warehouse (`dw.dim_application`, `dw.dim_customer`, over TDS), read only.
public struct WarehouseStore: Sendable {
    let pool: SQLServerPool

    public init(pool: SQLServerPool) { self.pool = pool }

    static func text(_ v: SQLServerValue) -> String? {
        switch v {
        case .null: return nil
        case .dateTime(let d): return iso(d)
        case .date(let d): return d.description
        default: return v.string ?? v.decimal?.description ?? v.int64.map(String.init)
        }
    }

    static func iso(_ d: SQLDateTime) -> String {
        let s = d.description  // "YYYY-MM-DD HH:MM:SS.fffffff"
        let parts = s.split(separator: " ")
        guard parts.count == 2 else { return s }
        let time = parts[1].prefix(12)
        return "\(parts[0])T\(time)Z"
    }

    /// Rows of each warehouse table named `schema.table` (names from the connector configuration,
    /// bracket-quoted as identifiers); a table that does not exist is left out.
    public func rowCounts(_ tables: [String]) async throws -> [String: Int] {
        try await pool.withConnection { connection in
            var out: [String: Int] = [:]
            for name in tables {
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                func quote(_ s: String) -> String { "[" + s.replacingOccurrences(of: "]", with: "]]") + "]" }
                let object = "\(quote(parts[0])).\(quote(parts[1]))"
                let sql = "IF OBJECT_ID(N'\(object.replacingOccurrences(of: "'", with: "''"))', N'U') IS NOT NULL SELECT COUNT_BIG(*) FROM \(object)"
                let result = try await connection.execute(SQLServerQuery(sql: sql))
                if let n = result.rows.first?[0].int { out[name] = n }
            }
            return out
        }
    }

    /// The status versions of an application, oldest first (status is its tracked column; the type-1
    /// columns such as decided_by are overwritten on every version, so they say nothing per version).
    public func applicationHistory(id: Int) async throws -> [HistoryVersion] {
        try await pool.withConnection { connection in
            let result = try await connection.execute("""
                SELECT status, valid_from, valid_to, is_current FROM dw.dim_application
                WHERE application_id = \(Int32(clamping: id)) ORDER BY valid_from, application_version_key
                """)
            return result.rows.map { r in
                HistoryVersion(attributes: [("status", WarehouseStore.text(r[0]))],
                               validFrom: WarehouseStore.text(r[1]) ?? "", validTo: WarehouseStore.text(r[2]), isCurrent: r[3].bool ?? false)
            }
        }
    }

    /// The address and income versions of a customer, oldest first.
    public func customerHistory(id: Int) async throws -> [HistoryVersion] {
        try await pool.withConnection { connection in
            let result = try await connection.execute("""
                SELECT full_name, address, monthly_income, employment_status, valid_from, valid_to, is_current FROM dw.dim_customer
                WHERE customer_id = \(Int32(clamping: id)) ORDER BY valid_from, customer_version_key
                """)
            return result.rows.map { r in
                HistoryVersion(attributes: [("full_name", WarehouseStore.text(r[0])), ("address", WarehouseStore.text(r[1])), ("monthly_income", WarehouseStore.text(r[2])),
                                            ("employment_status", WarehouseStore.text(r[3]))],
                               validFrom: WarehouseStore.text(r[4]) ?? "", validTo: WarehouseStore.text(r[5]), isCurrent: r[6].bool ?? false)
            }
        }
    }

    public func ping() async throws {
        try await pool.withConnection { connection in _ = try await connection.execute("SELECT 1") }
    }
}
