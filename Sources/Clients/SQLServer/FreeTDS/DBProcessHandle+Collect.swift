extension DBProcessHandle {
    /// Reads the whole response in this one blocking call: what ``SQLServerConnection/execute(_:)``
    /// returns, without a hop between the thread pool and the caller for every step. Throws like
    /// `step` (the handle is ready again afterwards).
    func collect() throws(SQLServerError) -> SQLServerResponse {
        var result = SQLServerResponse()
        var current: SQLServerRowSet?
        while true {
            switch try step(maxRows: Int.max) {
            case .resultSet(let columns):
                if let set = current { result.resultSets.append(set) }
                current = SQLServerRowSet(columns: columns, rows: [])
            case .rows(let rows, let end):
                current?.rows += rows
                if let end {
                    if let set = current { result.resultSets.append(set) }
                    current = nil
                    result.rowCounts.append(end)
                }
            case .rowCount(let count):
                if let count { result.rowCounts.append(count) }
            case .done(let returnStatus, let outputParameters):
                if let set = current { result.resultSets.append(set) }
                result.returnStatus = returnStatus
                result.outputParameters = outputParameters
                return result
            }
        }
    }
}
