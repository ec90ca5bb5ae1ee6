import SluiceCore
import SluiceKafka
import SluiceSQLServer

/// Every problem the SQL Server source reports: an extensible `code`, a message that names the fix, the
/// underlying client error when there is one, and `isFatal`, decided by the code: a fatal error stops
/// that database (health `down` with the message, lineage FAIL, no retry loop); any other ends the
/// session, which restarts from the stored offset after the backoff.
///
/// `SourceError(classifying:)` turns whatever a session threw into one, so the decision is made in one
/// place, by the error, not by which `catch` caught it.
public struct SourceError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case tableNotCaptured = "table_not_captured", tableWithoutKey = "table_without_key"
            case noCapturedTable = "no_captured_table", unsupportedColumnType = "unsupported_column_type"
            case changesPurged = "changes_purged", snapshotIsolationNotAllowed = "snapshot_isolation_not_allowed"
            case noStreamingPosition = "no_streaming_position", signalTableNotCaptured = "signal_table_not_captured"
            case queryTimeout = "query_timeout", sqlServer = "sql_server", broker = "broker"
            case changeStream = "change_stream", offsetStore = "offset_store", other
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        // Fatal: retrying cannot help until someone changes the database or the configuration.
        /// A `table.include.list` entry matches no CDC-enabled table.
        public static let tableNotCaptured = Code(.tableNotCaptured)
        /// An included table has neither a key in its capture instance nor `message.key.columns`.
        public static let tableWithoutKey = Code(.tableWithoutKey)
        /// No CDC-enabled table is included at all.
        public static let noCapturedTable = Code(.noCapturedTable)
        /// A captured column has a type Sluice does not map (xml, geography, sql_variant, …).
        public static let unsupportedColumnType = Code(.unsupportedColumnType)
        /// The cleanup job purged changes not yet read, under `offset.purged.policy=fail`.
        public static let changesPurged = Code(.changesPurged)
        /// The snapshot needs snapshot isolation and the database does not allow it (error 3952).
        public static let snapshotIsolationNotAllowed = Code(.snapshotIsolationNotAllowed)
        /// The stored offset gives no position to stream from and the snapshot mode takes none.
        public static let noStreamingPosition = Code(.noStreamingPosition)
        /// `signal.data.collection` names a table without CDC.
        public static let signalTableNotCaptured = Code(.signalTableNotCaptured)

        // Retried with the backoff.
        /// SQL Server did not answer within `database.query.timeout.ms`.
        public static let queryTimeout = Code(.queryTimeout)
        /// SQL Server unreachable, a connection dropped, a server error.
        public static let sqlServer = Code(.sqlServer)
        /// The broker failed (unreachable, a delivery refused).
        public static let broker = Code(.broker)
        /// The change rows read were not in the order or shape CDC promises (re-read from the offset).
        public static let changeStream = Code(.changeStream)
        /// Reading or writing the stored offsets failed.
        public static let offsetStore = Code(.offsetStore)
        /// Anything else.
        public static let other = Code(.other)

        /// Whether this kind of problem stops the database instead of being retried.
        public var isFatal: Bool {
            switch base {
            case .tableNotCaptured, .tableWithoutKey, .noCapturedTable, .unsupportedColumnType, .changesPurged,
                 .snapshotIsolationNotAllowed, .noStreamingPosition, .signalTableNotCaptured:
                return true
            case .queryTimeout, .sqlServer, .broker, .changeStream, .offsetStore, .other:
                return false
            }
        }
    }

    public let code: Code
    /// What happened and what fixes it.
    public let message: String
    /// The client error behind it, if any.
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var isFatal: Bool { code.isFatal }
    public var description: String { message }

    /// The source's view of any error a session threw.
    /// - Parameter queryTimeoutMs: `database.query.timeout.ms`, named in a timeout's message.
    public init(classifying error: any Error, queryTimeoutMs: Int) {
        switch error {
        case let error as SourceError:
            self = error
        case let error as SQLServerTypeMapping.UnsupportedType:
            self.init(.unsupportedColumnType, error.description, underlying: error)
        case let error as SQLServerError where error.code == .queryTimeout:
            self.init(.queryTimeout, "SQL Server did not answer within database.query.timeout.ms (\(queryTimeoutMs) ms): the server is frozen, overloaded or unreachable without closing the connection (\(error))", underlying: error)
        case let error as SQLServerError:
            self.init(.sqlServer, "\(error)", underlying: error)
        case let error as KafkaError:
            self.init(.broker, "\(error)", underlying: error)
        case let error as SourcePositionStoreError:
            self.init(.offsetStore, "\(error)", underlying: error)
        case let error as ChangeEventAssembler.AssemblyError:
            self.init(.changeStream, "\(error)", underlying: error)
        case let error as ChangeRowMerge<MappedRows>.OrderViolation:
            self.init(.changeStream, "\(error)", underlying: error)
        default:
            self.init(.other, "\(error)", underlying: error)
        }
    }
}
