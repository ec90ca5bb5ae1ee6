/// Quotes a Postgres identifier: the one place identifiers enter SQL text (values always travel as
/// bind parameters).
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacing("\"", with: "\"\"") + "\""
}

/// `"schema"."table"`.
public func quoteIdentifier(schema: String, table: String) -> String {
    quoteIdentifier(schema) + "." + quoteIdentifier(table)
}
