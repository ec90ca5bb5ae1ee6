import SluiceSQLServer

/// Change rows of one capture instance's result, mapped from SQL Server values.
struct MappedRows: AsyncIteratorProtocol {
    var base: SQLServerRowStream.AsyncIterator
    let query: ChangeTableQuery
    let mapping: ChangeEventMapping

    mutating func next() async throws -> ChangeRow? {
        guard let row = try await base.next() else { return nil }
        return try query.changeRow(row, mapping: mapping)
    }
}
