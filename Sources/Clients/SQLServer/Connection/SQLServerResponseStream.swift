/// The response to one request, read as it arrives: result sets in order, then the row counts,
/// return status and output parameters. Valid only inside the `withResults` body that received it.
public final class SQLServerResponseStream {
    private let connection: SQLServerConnection
    private let rowsPerFetch: Int

    /// Row counts of the statements read so far, in order (result sets included).
    public private(set) var rowCounts: [Int] = []
    /// The RPC's return status, once the response is read to the end.
    public private(set) var returnStatus: Int?
    /// The RPC's output parameters, once the response is read to the end.
    public private(set) var outputParameters: [SQLServerOutputParameter] = []

    /// Whether the response was read to its end.
    public private(set) var isComplete = false

    // The current result set: rows fetched but not yet handed out.
    private var pending: [SQLServerRow] = []
    private var pendingIndex = 0
    private var currentSetEnded = true
    private var generation = 0

    init(connection: SQLServerConnection) {
        self.connection = connection
        self.rowsPerFetch = max(1, connection.configuration.options.rowsPerFetch)
    }

    /// The next result set, or `nil` at the end of the response. Rows of the previous result set
    /// that were not read are skipped.
    public func nextResultSet() async throws -> SQLServerRowStream? {
        while !currentSetEnded {
            _ = try await nextRow(generation: generation)
        }
        while !isComplete {
            switch try await fetch() {
            case .resultSet(let columns):
                generation += 1
                currentSetEnded = false
                pending = []
                pendingIndex = 0
                return SQLServerRowStream(columns: columns, results: self, generation: generation)
            case .rowCount(let count):
                if let count { rowCounts.append(count) }
            case .rows:
                continue
            case .done(let status, let outputs):
                returnStatus = status
                outputParameters = outputs
                isComplete = true
            }
        }
        return nil
    }

    /// Reads the rest of the response into memory.
    public func collect() async throws -> SQLServerResponse {
        var sets: [SQLServerRowSet] = []
        while let set = try await nextResultSet() {
            var rows: [SQLServerRow] = []
            for try await row in set { rows.append(row) }
            sets.append(SQLServerRowSet(columns: set.columns, rows: rows))
        }
        return SQLServerResponse(resultSets: sets, rowCounts: rowCounts, returnStatus: returnStatus, outputParameters: outputParameters)
    }

    /// The next row of result set `generation`, or `nil` at its end.
    func nextRow(generation: Int) async throws -> SQLServerRow? {
        guard generation == self.generation else { return nil }
        while true {
            if pendingIndex < pending.count {
                defer { pendingIndex += 1 }
                return pending[pendingIndex]
            }
            if currentSetEnded { return nil }
            try Task.checkCancellation()
            switch try await fetch() {
            case .rows(let rows, let end):
                pending = rows
                pendingIndex = 0
                if let end {
                    currentSetEnded = true
                    rowCounts.append(end)
                }
            case .resultSet, .rowCount, .done:
                // Cannot happen inside a result set; end it defensively.
                currentSetEnded = true
            }
        }
    }

    private func fetch() async throws -> DBFetchStep {
        let maxRows = rowsPerFetch
        do {
            return try await connection.runBlocking { handle in try handle.step(maxRows: maxRows) }
        } catch {
            // A failed statement ends the response (the handle has read or cancelled the rest).
            isComplete = true
            currentSetEnded = true
            pending = []
            pendingIndex = 0
            throw error
        }
    }
}
