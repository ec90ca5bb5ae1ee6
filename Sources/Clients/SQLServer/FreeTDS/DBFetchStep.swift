/// What one hop to the blocking thread brought back while reading a response.
enum DBFetchStep: Sendable {
    /// A result set begins.
    case resultSet(SQLServerColumns)
    /// Rows of the current result set; `end` is its row count when it ended in this step.
    case rows([SQLServerRow], end: Int?)
    /// A statement without a result set ended (INSERT, UPDATE, …) with this count, if it reported one.
    case rowCount(Int?)
    /// The response ended: the return status and output parameters of an RPC, if any.
    case done(returnStatus: Int?, outputParameters: [SQLServerOutputParameter])
}
