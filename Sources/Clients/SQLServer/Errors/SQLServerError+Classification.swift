extension SQLServerError {
    /// The error for a message the server sent with severity 11 or more.
    static func server(_ message: ServerMessage, during phase: Phase) -> SQLServerError {
        let code: Code
        let advice: String
        switch message.number {
        case 18456, 18452, 18486, 18487, 18488:
            code = .loginFailed
            advice = "Login failed: check the user name and password in the URL (percent-encoded) and that the login is enabled on the server."
        case 4060 where phase == .login:
            code = .loginFailed
            advice = "Login failed: the database does not exist or the login cannot open it. Check the database name in the URL and the login's permissions."
        case 102, 156, 170, 105, 319:
            code = .syntaxError
            advice = "The T-SQL does not parse: fix the statement text."
        case 207, 208, 2812, 4902:
            code = .invalidObject
            advice = "An object, column or procedure the statement names does not exist: check the name, the schema and the current database."
        case 2627, 2601:
            code = .duplicateKey
            advice = "A row with the same key already exists: a primary key or unique constraint was violated."
        case 547, 515:
            code = .constraintViolation
            advice = "A foreign key, check or NOT NULL constraint was violated."
        case 1205:
            code = .deadlock
            advice = "The transaction was chosen as deadlock victim and rolled back: retry it."
        default:
            code = .server
            advice = "The server reported an error."
        }
        return SQLServerError(code: code, message: "\(advice) Server said: \(message.text)", serverMessage: message)
    }

    /// The error for a db-lib (client-side) error, given when it happened.
    static func library(_ error: LibraryError, during phase: Phase, server: String) -> SQLServerError {
        switch (error.number, phase) {
        case (20003, .login): // SYBETIME
            return SQLServerError(
                code: .loginTimeout,
                message: "Connecting to \(server) timed out: the server did not complete the login in time. Check that a SQL Server listens there, or raise loginTimeout.",
                libraryError: error)
        case (20003, .query):
            return SQLServerError(
                code: .queryTimeout,
                message: "The query timed out on \(server) and was cancelled: make it faster, or raise queryTimeout.",
                libraryError: error)
        case (20009, _), (20013, _), (20008, _): // SYBECONN, SYBEUHST, SYBESOCK
            if error.osErrorText?.localizedLowercase.contains("timed out") == true || error.osErrorNumber == 110 {
                return SQLServerError(
                    code: .loginTimeout,
                    message: "Connecting to \(server) timed out: nothing answered. Check the host, port and firewall, or raise loginTimeout.",
                    libraryError: error)
            }
            return SQLServerError(
                code: .serverUnreachable,
                message: "Cannot reach SQL Server at \(server) (connection refused or unknown host): check host and port, and that the server is running.",
                libraryError: error)
        case (20012, _): // SYBEHNF? FreeTDS: the name is neither resolvable nor a freetds.conf entry
            return SQLServerError(
                code: .serverUnreachable,
                message: "Cannot reach SQL Server at \(server): the host name is unknown (not in DNS, /etc/hosts or freetds.conf). Check the host in the URL.",
                libraryError: error)
        case (20004, _), (20006, _), (20017, _), (20047, _): // read/write failed, EOF, dead DBPROCESS
            return SQLServerError(
                code: .connectionClosed,
                message: "The connection to \(server) was lost: open a new connection.",
                libraryError: error)
        case (20002, .login): // SYBEFCON: the login failed, the real reason is in another message
            return SQLServerError(
                code: .serverUnreachable,
                message: "Connecting to \(server) failed: check that it is a SQL Server (TDS 7.4) and that the network allows the connection.",
                libraryError: error)
        default:
            return SQLServerError(
                code: .clientLibrary,
                message: "FreeTDS db-lib reported an error: \(error.text)",
                libraryError: error)
        }
    }

    /// When an error happened: while logging in, or while running a query.
    enum Phase: Sendable { case login, query }

    /// The error reported when several messages arrived: login failures and timeouts beat the generic
    /// "connection failed" db-lib adds after them, and server errors beat "check messages" (20018).
    static func mostRelevant(_ errors: [SQLServerError]) -> SQLServerError? {
        func rank(_ error: SQLServerError) -> Int {
            switch error.code {
            case .loginFailed, .loginTimeout, .queryTimeout: return 0
            case .clientLibrary where error.libraryError?.number == 20018: return 9
            case .serverUnreachable where error.libraryError?.number == 20002: return 5
            default: return error.serverMessage != nil ? 1 : 2
            }
        }
        return errors.enumerated().min { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }?.element
    }
}
