/// One result set read into memory.
public struct SQLServerRowSet: Sendable, Hashable {
    public var columns: SQLServerColumns
    public var rows: [SQLServerRow]

    public init(columns: SQLServerColumns, rows: [SQLServerRow]) {
        self.columns = columns
        self.rows = rows
    }
}
