import Foundation

/// Quotes a (multi-part) identifier for T-SQL: each part in brackets, `]` doubled, parts joined with
/// dots. `quoteIdentifier("dbo", "my]table")` is `[dbo].[my]]table]`.
///
/// The one place identifiers are quoted; values travel as parameters instead.
public func quoteIdentifier(_ parts: String...) -> String {
    quoteIdentifier(parts)
}

/// Quotes the parts of a (multi-part) identifier; see ``quoteIdentifier(_:)-(String...)``.
public func quoteIdentifier(_ parts: [String]) -> String {
    parts.map { "[" + $0.replacingOccurrences(of: "]", with: "]]") + "]" }.joined(separator: ".")
}
