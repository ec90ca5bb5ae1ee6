import PostgresNIO
import SluiceSinkKit

extension SinkError {
    /// Classifies an error from Postgres: connection problems, restarts, deadlocks and serialization
    /// failures are transient; integrity and data errors reject the events; undefined objects and other
    /// SQL errors (a table changed behind the sink's back) stop the table's topics.
    static func postgres(_ error: any Error, doing what: String, topics: [String]) -> SinkError {
        if let sinkError = error as? SinkError { return sinkError }
        if let transaction = error as? PostgresTransactionError {
            // The closure's error decides; then a failed BEGIN or COMMIT (e.g. the connection dropped).
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                return postgres(inner, doing: what, topics: topics)
            }
        }
        if error is CancellationError {
            return SinkError(code: .transient, message: "\(what) was cancelled")
        }
        if String(reflecting: type(of: error)).contains("ConnectionPoolError") {
            return SinkError(code: .transient, message: "\(what) failed: Postgres is unreachable (the connection pool cannot connect); check that it runs and that connection.url is right",
                             underlying: "\(error)")
        }
        guard let psql = error as? PSQLError else {
            return SinkError(code: .transient, message: "\(what) failed", underlying: "\(error)")
        }
        guard psql.code == .server, let info = psql.serverInfo, let state = info[.sqlState] else {
            return SinkError(code: .transient, message: "\(what) failed: Postgres is unreachable or closed the connection; check that it runs and that connection.url is right",
                             underlying: "\(psql.code)")
        }
        let message = info[.message] ?? ""
        let detail = [info[.detail], info[.hint]].compactMap { $0 }.joined(separator: "; ")
        let underlying = "SQLSTATE \(state): \(message)" + (detail.isEmpty ? "" : " (\(detail))")
        let stateClass = state.prefix(2)
        switch stateClass {
        case "23", "22":
            return SinkError(code: .recordRejected, message: "\(what): Postgres refused the data", underlying: underlying)
        case "42" where state != "42501":
            return SinkError(code: .tableStopped, message: "\(what): the table does not match what the sink expects; fix or drop it, then restart the sink",
                             topics: topics, underlying: underlying)
        default:
            return SinkError(code: .transient, message: "\(what) failed; retrying", underlying: underlying)
        }
    }
}
