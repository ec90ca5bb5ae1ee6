/// One row of a result set: its values in column order, with the columns' metadata.
public struct SQLServerRow: Sendable, Hashable, RandomAccessCollection {
    public let columns: SQLServerColumns
    public let values: [SQLServerValue]

    public init(columns: SQLServerColumns, values: [SQLServerValue]) {
        self.columns = columns
        self.values = values
    }

    public var startIndex: Int { values.startIndex }
    public var endIndex: Int { values.endIndex }
    public subscript(position: Int) -> SQLServerValue { values[position] }

    /// The value of the first column with this name (case-insensitive, as SQL Server compares
    /// identifiers by default); `nil` when no column has it.
    public subscript(column name: String) -> SQLServerValue? {
        columns.index(of: name).map { values[$0] }
    }
}

/// The columns of a result set, shared by all its rows (one allocation per result set).
public final class SQLServerColumns: Sendable, Hashable, RandomAccessCollection {
    public let columns: [SQLServerColumn]
    private let indexByName: [String: Int]

    public init(_ columns: [SQLServerColumn]) {
        self.columns = columns
        var index: [String: Int] = [:]
        for (position, column) in columns.enumerated() where index[column.name.lowercased()] == nil {
            index[column.name.lowercased()] = position
        }
        self.indexByName = index
    }

    public var startIndex: Int { columns.startIndex }
    public var endIndex: Int { columns.endIndex }
    public subscript(position: Int) -> SQLServerColumn { columns[position] }

    public func index(of name: String) -> Int? { indexByName[name.lowercased()] }

    public static func == (lhs: SQLServerColumns, rhs: SQLServerColumns) -> Bool { lhs.columns == rhs.columns }
    public func hash(into hasher: inout Hasher) { hasher.combine(columns) }
}
