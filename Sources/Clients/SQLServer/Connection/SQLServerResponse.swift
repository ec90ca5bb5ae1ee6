/// A whole response, read into memory: see ``SQLServerConnection/execute(_:)``.
///
/// The client's four result types are a response and a row set (one result set), each either in
/// memory or as a stream: ``SQLServerResponse`` / ``SQLServerResponseStream``, ``SQLServerRowSet`` /
/// ``SQLServerRowStream``.
public struct SQLServerResponse: Sendable, Hashable {
    public var resultSets: [SQLServerRowSet]
    /// The row count of every statement that reported one, in order (result sets included).
    public var rowCounts: [Int]
    /// The RPC's return status (`sp_executesql` returns 0), if the server sent one.
    public var returnStatus: Int?
    public var outputParameters: [SQLServerOutputParameter]

    public init(resultSets: [SQLServerRowSet] = [], rowCounts: [Int] = [], returnStatus: Int? = nil, outputParameters: [SQLServerOutputParameter] = []) {
        self.resultSets = resultSets
        self.rowCounts = rowCounts
        self.returnStatus = returnStatus
        self.outputParameters = outputParameters
    }

    /// The rows of the first result set (empty when there is none).
    public var rows: [SQLServerRow] { resultSets.first?.rows ?? [] }

    /// The value of the output parameter with this name (with or without `@`).
    public func outputParameter(_ name: String) -> SQLServerValue? {
        let wanted = (name.hasPrefix("@") ? name : "@" + name).lowercased()
        return outputParameters.first { $0.name.lowercased() == wanted }?.value
    }
}
