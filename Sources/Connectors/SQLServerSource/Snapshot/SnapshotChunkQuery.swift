import SluiceCore
import SluiceSQLServer

/// The query that reads the next chunk of a table in message-key order (keyset pagination), the unit a
/// snapshot acknowledges and resumes at:
///
/// ```sql
/// SELECT TOP (2000) [c1], [c2], …  FROM [dbo].[t]
/// WHERE [k1] > CAST(@p1 AS int) OR ([k1] = CAST(@p2 AS int) AND [k2] > CAST(@p3 AS nvarchar(20)))
/// ORDER BY [k1], [k2]
/// ```
///
/// The last key is carried as the JSON the events already hold and turned back into the column's type
/// by `CAST` on the server, so the comparison uses the column's own type and collation (a parameter of
/// another string type would compare under different rules and could skip rows). Only key columns
/// whose JSON text casts back exactly can resume mid-table (`canResume`): integers, bit, strings,
/// uniqueidentifier, and decimals under `decimal.handling.mode=string`; a table keyed otherwise is read
/// again from its first row after a crash.
struct SnapshotChunkQuery: Sendable {
    let instance: CaptureInstance
    let chunkSize: Int
    /// Read rows after this key (nil: from the first row).
    let afterKey: JSONObject?

    /// Whether a key of `instance` can be turned back into a `WHERE` bound.
    static func canResume(_ instance: CaptureInstance, decimalMode: SQLServerTypeMapping.DecimalMode) -> Bool {
        instance.keyColumns.allSatisfy { name in
            guard let column = instance.columns.first(where: { $0.name == name }) else { return false }
            switch column.typeName {
            case "bit", "tinyint", "smallint", "int", "bigint", "char", "varchar", "nchar", "nvarchar", "uniqueidentifier":
                return true
            case "decimal", "numeric", "money", "smallmoney":
                return decimalMode == .string
            default:
                return false
            }
        }
    }

    struct KeyError: Error, CustomStringConvertible {
        let description: String
    }

    var query: SQLServerQuery {
        get throws {
            let columns = instance.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
            let order = instance.keyColumns.map { quoteIdentifier($0) }.joined(separator: ", ")
            var query: SQLServerQuery = "SELECT TOP (\(unsafeRaw: String(chunkSize))) \(unsafeRaw: columns) FROM \(identifier: instance.table.schema, instance.table.table)"
            if let afterKey {
                query.sql += " WHERE "
                try appendAfter(afterKey, to: &query)
            }
            query.sql += " ORDER BY \(order)"
            return query
        }
    }

    /// `k1 > v1 OR (k1 = v1 AND k2 > v2) OR …`: rows strictly after `key` in key order.
    private func appendAfter(_ key: JSONObject, to query: inout SQLServerQuery) throws {
        var disjuncts: [String] = []
        for i in instance.keyColumns.indices {
            var terms: [String] = []
            for j in 0...i {
                let name = instance.keyColumns[j]
                guard let column = instance.columns.first(where: { $0.name == name }) else {
                    throw KeyError(description: "key column \(name) is not captured")
                }
                guard let value = key[name], let text = Self.text(value) else {
                    throw KeyError(description: "the stored key has no usable value for \(name)")
                }
                let parameter = "@p\(query.parameters.count + 1)"
                query.parameters.append(SQLServerParameter(name: parameter, value: .string(text), type: .nvarchar(.count(4000))))
                let cast = "CAST(\(parameter) AS \(DatabaseContext.sqlTypeText(column)))"
                terms.append("\(quoteIdentifier(name)) \(j == i ? ">" : "=") \(cast)")
            }
            disjuncts.append(terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " AND ") + ")")
        }
        query.sql += disjuncts.joined(separator: " OR ")
    }

    /// The text of a key value as the event holds it.
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "1" : "0"
        default:
            if let i = value.int64Value { return String(i) }
            return nil
        }
    }
}
