/// An error from the SQL Server client: a server message (with its number, state, severity, line and
/// procedure), a db-lib client error, or a misuse of the client.
///
/// Match on ``code``; read ``message`` for what to do about it. ``isRetriable`` says whether trying
/// again (after reconnecting, for connection errors) can succeed.
public struct SQLServerError: Error, Sendable, Hashable {
    /// What went wrong, as a stable, extensible code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration, serverUnreachable, loginFailed, loginTimeout, queryTimeout
            case connectionClosed, connectionBusy, transactionAlreadyActive
            case server, syntaxError, invalidObject, duplicateKey, constraintViolation, deadlock
            case unsupportedValue, clientLibrary
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// The configuration (or URL) is not usable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// No TCP connection: connection refused, unknown host, network unreachable.
        public static let serverUnreachable = Code(.serverUnreachable)
        /// The server rejected the login (error 18456 and friends).
        public static let loginFailed = Code(.loginFailed)
        /// The TCP connection or the login handshake did not finish within the login timeout.
        public static let loginTimeout = Code(.loginTimeout)
        /// The server did not answer a query within the query timeout; the query was cancelled.
        public static let queryTimeout = Code(.queryTimeout)
        /// The connection is closed or dead (network failure, server shut down, `close()` called).
        public static let connectionClosed = Code(.connectionClosed)
        /// Another caller is using this connection: one caller at a time (use one connection per task).
        public static let connectionBusy = Code(.connectionBusy)
        /// `withTransaction` was called while a transaction is already open on this connection.
        public static let transactionAlreadyActive = Code(.transactionAlreadyActive)
        /// A server error not covered by a more specific code; see ``SQLServerError/number``.
        public static let server = Code(.server)
        /// Error 102/156/…: the T-SQL does not parse.
        public static let syntaxError = Code(.syntaxError)
        /// Error 208/207/2812: an object, column or procedure does not exist.
        public static let invalidObject = Code(.invalidObject)
        /// Error 2627/2601: a primary key or unique constraint/index would be violated.
        public static let duplicateKey = Code(.duplicateKey)
        /// Error 547/515: a foreign key, check or NOT NULL constraint would be violated.
        public static let constraintViolation = Code(.constraintViolation)
        /// Error 1205: chosen as deadlock victim. Retry the transaction.
        public static let deadlock = Code(.deadlock)
        /// A parameter value cannot be sent (e.g. out of range for its declared type).
        public static let unsupportedValue = Code(.unsupportedValue)
        /// Any other db-lib (FreeTDS) client error; see ``SQLServerError/libraryError``.
        public static let clientLibrary = Code(.clientLibrary)
    }

    /// A message sent by the server (an ERROR token).
    public struct ServerMessage: Sendable, Hashable, CustomStringConvertible {
        public var number: Int
        public var state: Int
        public var severity: Int
        public var line: Int
        public var procedure: String?
        public var serverName: String?
        public var text: String

        public init(number: Int, state: Int, severity: Int, line: Int, procedure: String? = nil, serverName: String? = nil, text: String) {
            self.number = number
            self.state = state
            self.severity = severity
            self.line = line
            self.procedure = procedure
            self.serverName = serverName
            self.text = text
        }

        /// `Msg 2627, Level 14, State 1, Line 1: Violation of …` (as sqlcmd prints it).
        public var description: String {
            var text = "Msg \(number), Level \(severity), State \(state)"
            if let procedure, !procedure.isEmpty { text += ", Procedure \(procedure)" }
            return text + ", Line \(line): \(self.text)"
        }
    }

    /// An error raised by db-lib itself (FreeTDS), with the operating system's error if any.
    public struct LibraryError: Sendable, Hashable, CustomStringConvertible {
        public var number: Int
        public var severity: Int
        public var text: String
        public var osErrorNumber: Int
        public var osErrorText: String?

        public init(number: Int, severity: Int, text: String, osErrorNumber: Int = 0, osErrorText: String? = nil) {
            self.number = number
            self.severity = severity
            self.text = text
            self.osErrorNumber = osErrorNumber
            self.osErrorText = osErrorText
        }

        public var description: String {
            var description = "db-lib error \(number): \(text)"
            if osErrorNumber != 0 || osErrorText != nil {
                description += " (OS error \(osErrorNumber): \(osErrorText ?? "unknown"))"
            }
            return description
        }
    }

    public var code: Code
    /// What happened and what to do about it.
    public var message: String
    /// The server's message, when the server reported the error.
    public var serverMessage: ServerMessage?
    /// db-lib's error, when the client library reported it.
    public var libraryError: LibraryError?

    public init(code: Code, message: String, serverMessage: ServerMessage? = nil, libraryError: LibraryError? = nil) {
        self.code = code
        self.message = message
        self.serverMessage = serverMessage
        self.libraryError = libraryError
    }

    /// The server's error number (e.g. 2627), if the server reported the error.
    public var number: Int? { serverMessage?.number }
    public var state: Int? { serverMessage?.state }
    public var severity: Int? { serverMessage?.severity }
    public var line: Int? { serverMessage?.line }
    public var procedure: String? { serverMessage?.procedure }

    /// Whether trying again can succeed: connection problems, timeouts, deadlocks, and the server's
    /// documented transient errors (Azure SQL throttling and failover numbers included).
    public var isRetriable: Bool {
        switch code {
        case .serverUnreachable, .loginTimeout, .queryTimeout, .connectionClosed, .deadlock, .connectionBusy:
            return true
        case .server:
            guard let number else { return false }
            return Self.transientServerErrors.contains(number)
        default:
            return false
        }
    }

    /// Server error numbers that are transient by nature (lock timeout, snapshot conflict, resource
    /// limits, database failover in progress).
    static let transientServerErrors: Set<Int> = [1222, 3960, 8645, 8651, 701, 4060, 40197, 40501, 40613, 49918, 49919, 49920, 10928, 10929]
}

extension SQLServerError: CustomStringConvertible {
    public var description: String {
        var text = "SQLServerError.\(code): \(message)"
        if let serverMessage { text += " [\(serverMessage)]" }
        if let libraryError { text += " [\(libraryError)]" }
        return text
    }
}
