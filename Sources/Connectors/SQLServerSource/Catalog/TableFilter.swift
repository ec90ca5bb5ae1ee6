import Foundation
import SluiceCore

/// Debezium's `table.include.list` / `table.exclude.list`: comma-separated regular expressions matched
/// against the whole `schema.table` name, case-insensitively (SQL Server's default collation). An empty
/// include list includes everything.
public struct TableFilter: Sendable {
    public let include: [String]
    public let exclude: [String]

    public init(include: [String], exclude: [String]) {
        self.include = include
        self.exclude = exclude
    }

    public func matches(_ table: TableID) -> Bool {
        let name = table.qualifiedName
        if !include.isEmpty && !include.contains(where: { Self.fullMatch($0, name) }) { return false }
        return !exclude.contains(where: { Self.fullMatch($0, name) })
    }

    static func fullMatch(_ pattern: String, _ name: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$", options: [.caseInsensitive]) else {
            return pattern.caseInsensitiveCompare(name) == .orderedSame
        }
        return regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }
}
