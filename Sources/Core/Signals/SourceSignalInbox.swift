import NIOConcurrencyHelpers

/// Where `POST /signals` (the App layer) leaves signals for the source connectors of one `sluice run`,
/// and where each database's capture picks up the ones naming its tables. The HTTP side only validates
/// and posts; what a signal does is the connector's business.
public final class SourceSignalInbox: Sendable {
    private let state = NIOLockedValueBox(State())

    private struct State {
        var databases: Set<String> = []
        /// Pending signals per database.
        var pending: [String: [SourceSignal]] = [:]
    }

    public init() {}

    /// A source capturing `database` takes signals from here (called when it starts).
    public func register(database: String) {
        state.withLockedValue { _ = $0.databases.insert(database) }
    }

    public enum PostError: Error, Hashable, Sendable, CustomStringConvertible {
        case noSource
        case unknownDatabase(String, known: [String])

        public var description: String {
            switch self {
            case .noSource: return "this sluice run has no SQL Server source to signal"
            case .unknownDatabase(let db, let known):
                return "no source of this sluice run captures database \"\(db)\" (it captures \(known.joined(separator: ", "))); name tables as database.schema.table"
            }
        }
    }

    /// Queues `signal` for the databases its tables belong to (every database for a `stop-snapshot`
    /// that names no table).
    public func post(_ signal: SourceSignal) throws(PostError) {
        let problem: PostError? = state.withLockedValue { state in
            guard !state.databases.isEmpty else { return PostError.noSource }
            let targets = signal.tables.isEmpty ? state.databases : Set(signal.tables.map(\.database))
            for database in targets where !state.databases.contains(database) {
                return PostError.unknownDatabase(database, known: state.databases.sorted())
            }
            for database in targets { state.pending[database, default: []].append(signal) }
            return nil
        }
        if let problem { throw problem }
    }

    /// Whether signals are queued for `database` (what `take` would return is not empty).
    public func hasPending(database: String) -> Bool {
        state.withLockedValue { !($0.pending[database]?.isEmpty ?? true) }
    }

    /// Removes and returns the signals queued for `database`, oldest first.
    public func take(database: String) -> [SourceSignal] {
        state.withLockedValue { $0.pending.removeValue(forKey: database) ?? [] }
    }
}
