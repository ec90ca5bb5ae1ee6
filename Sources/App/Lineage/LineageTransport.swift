/// Delivers one serialized OpenLineage event to a backend. Throwing means "not delivered"; the
/// dispatcher retries with a bound.
public protocol LineageTransport: Sendable {
    /// What the log calls this transport, e.g. `http://marquez:5000/api/v1/lineage`.
    var target: String { get }
    func send(_ event: [UInt8]) async throws
}
