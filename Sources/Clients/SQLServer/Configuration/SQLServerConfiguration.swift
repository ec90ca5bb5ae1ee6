/// How to reach and log in to one SQL Server database.
///
/// Build it field by field, or from a URL with ``init(url:)``:
/// `mssql://user:password@host:port/Database?loginTimeout=5&queryTimeout=30&applicationName=sluice`.
///
/// The password is a secret: it never appears in ``description``, ``debugDescription`` or log lines.
public struct SQLServerConfiguration: Sendable, Hashable {
    /// Host name or IP address of the server.
    public var host: String
    /// TCP port (SQL Server's default is 1433).
    public var port: Int
    /// SQL Server login name.
    public var username: String
    /// SQL Server login password (secret: never logged).
    public var password: String
    /// The database to use after login (`nil`: the login's default database).
    public var database: String?
    /// Connection-level options.
    public var options: Options

    /// Connection-level options with defaults that suit a long-running service.
    public struct Options: Sendable, Hashable {
        /// Seconds to wait for the TCP connection and the login handshake. Default 15.
        public var loginTimeout: Int
        /// Seconds to wait for a server response to a query; 0 waits forever. Default 0.
        public var queryTimeout: Int
        /// The application name the server shows in `sys.dm_exec_sessions.program_name`. Default "sluice".
        public var applicationName: String
        /// Rows fetched per hop to the blocking thread while streaming. Default 256.
        public var rowsPerFetch: Int

        public init(loginTimeout: Int = 15, queryTimeout: Int = 0, applicationName: String = "sluice", rowsPerFetch: Int = 256) {
            self.loginTimeout = loginTimeout
            self.queryTimeout = queryTimeout
            self.applicationName = applicationName
            self.rowsPerFetch = rowsPerFetch
        }
    }

    public init(
        host: String,
        port: Int = 1433,
        username: String,
        password: String,
        database: String? = nil,
        options: Options = Options()
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.options = options
    }

    /// The server string db-lib's `dbopen` understands: `host:port`.
    var serverName: String { "\(host):\(port)" }
}

extension SQLServerConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// `mssql://user:***@host:port/Database`: the password is never printed.
    public var description: String {
        var text = "mssql://\(username):***@\(host):\(port)"
        if let database { text += "/\(database)" }
        return text
    }

    public var debugDescription: String {
        "SQLServerConfiguration(\(description), loginTimeout: \(options.loginTimeout)s, queryTimeout: \(options.queryTimeout)s, applicationName: \(options.applicationName))"
    }
}
