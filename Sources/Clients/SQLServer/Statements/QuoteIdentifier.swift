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
    var quoted = ""
    for (index, part) in parts.enumerated() {
        if index > 0 { quoted += "." }
        quoted += "["
        // Most names hold no `]`: append them as they are (Foundation's replacing was a few percent of
        // the warehouse sink's CPU, which quotes its column names for every statement).
        if part.utf8.contains(UInt8(ascii: "]")) {
            quoted += part.replacingOccurrences(of: "]", with: "]]")
        } else {
            quoted += part
        }
        quoted += "]"
    }
    return quoted
}
