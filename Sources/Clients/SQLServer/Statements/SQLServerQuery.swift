/// T-SQL text and its typed parameters. Values never become part of the text:
///
/// ```swift
/// let query: SQLServerQuery = "SELECT * FROM \(identifier: "dbo", "customers") WHERE customer_id = \(id) AND email = \(email)"
/// // sql: SELECT * FROM [dbo].[customers] WHERE customer_id = @p1 AND email = @p2
/// ```
///
/// A query without parameters runs as a plain batch; with parameters it runs through
/// `sp_executesql`, whose `@params` is ``parameterDeclarations``.
///
/// Text assembled elsewhere goes in labelled, `SQLServerQuery(sql: text)`. There is deliberately no
/// unlabelled `SQLServerQuery(_: String)`: Swift reads `SQLServerQuery("… \(x) …")` as the literal
/// `"… \(x) …" as SQLServerQuery`, so `x` would become a parameter where a reader expects text.
public struct SQLServerQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var parameters: [SQLServerParameter]

    public init(sql: String, parameters: [SQLServerParameter] = []) {
        self.sql = sql
        self.parameters = parameters
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(sql: stringInterpolation.sql, parameters: stringInterpolation.parameters)
    }

    /// The `@params` declaration string passed to `sp_executesql`.
    public var parameterDeclarations: String { parameters.declarationList }

    /// The SQL text and parameter declarations, never the values (they may be personal data).
    public var description: String {
        parameters.isEmpty ? sql : "\(sql) -- \(parameterDeclarations)"
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var parameters: [SQLServerParameter] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 4)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// A value, sent as the next parameter `@pN` with its default type.
        public mutating func appendInterpolation(_ value: some SQLServerValueConvertible) {
            appendInterpolation(value, as: nil)
        }

        /// A value sent as parameter `@pN` declared with `type` (e.g. `.decimal(precision: 18, scale: 2)`).
        public mutating func appendInterpolation(_ value: some SQLServerValueConvertible, as type: SQLServerDataType?) {
            let name = "@p\(parameters.count + 1)"
            parameters.append(SQLServerParameter(name: name, value: value.sqlServerValue, type: type))
            sql += name
        }

        /// An optional value: NULL when `nil`.
        public mutating func appendInterpolation<Value: SQLServerValueConvertible>(_ value: Value?) {
            appendInterpolation(value, as: nil)
        }

        /// An optional value declared with `type`: NULL when `nil`.
        public mutating func appendInterpolation<Value: SQLServerValueConvertible>(_ value: Value?, as type: SQLServerDataType?) {
            let name = "@p\(parameters.count + 1)"
            parameters.append(SQLServerParameter(name: name, value: value?.sqlServerValue ?? .null, type: type ?? value?.sqlServerValue.defaultParameterType ?? .nvarchar(.count(1))))
            sql += name
        }

        /// A quoted identifier (`[dbo].[my]]table]`), from one or more name parts.
        public mutating func appendInterpolation(identifier parts: String...) {
            sql += quoteIdentifier(parts)
        }

        /// Trusted SQL text spliced as is (never user input).
        public mutating func appendInterpolation(unsafeRaw text: String) {
            sql += text
        }
    }
}
