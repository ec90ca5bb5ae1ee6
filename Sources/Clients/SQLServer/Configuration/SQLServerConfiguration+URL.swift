import Foundation

extension SQLServerConfiguration {
    /// Parses `mssql://user:password@host[:port][/Database][?key=value&…]` (also `sqlserver://`).
    ///
    /// User, password and database are percent-decoded, so a password with `@`, `:` or `/` is written
    /// `p%40ss`. Query keys (all optional): `loginTimeout` (seconds), `queryTimeout` (seconds),
    /// `applicationName`, `rowsPerFetch`. Unknown keys are rejected so a typo is not silently ignored.
    public init(url: String) throws(SQLServerError) {
        func invalid(_ why: String) -> SQLServerError {
            // Never echo the URL: it holds the password.
            SQLServerError(
                code: .invalidConfiguration,
                message: "Invalid SQL Server URL: \(why). Expected mssql://user:password@host:port/Database (percent-encode special characters in the password)."
            )
        }
        guard let components = URLComponents(string: url) else { throw invalid("it is not a URL") }
        guard let scheme = components.scheme?.lowercased(), scheme == "mssql" || scheme == "sqlserver" else {
            throw invalid("the scheme must be mssql://")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("the host is missing") }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw invalid("the user name is missing")
        }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? ""
        let port = components.port ?? 1433
        guard (1...65535).contains(port) else { throw invalid("the port must be between 1 and 65535") }
        var database: String?
        let path = components.percentEncodedPath
        if path.count > 1 {
            guard let decoded = String(path.dropFirst()).removingPercentEncoding, !decoded.contains("/") else {
                throw invalid("the path must be a single database name")
            }
            database = decoded
        }
        var options = Options()
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "loginTimeout":
                guard let seconds = Int(value), seconds > 0 else { throw invalid("loginTimeout must be a positive number of seconds") }
                options.loginTimeout = seconds
            case "queryTimeout":
                guard let seconds = Int(value), seconds >= 0 else { throw invalid("queryTimeout must be a number of seconds (0 = none)") }
                options.queryTimeout = seconds
            case "applicationName":
                options.applicationName = value
            case "rowsPerFetch":
                guard let rows = Int(value), rows > 0 else { throw invalid("rowsPerFetch must be a positive number") }
                options.rowsPerFetch = rows
            default:
                throw invalid("unknown option '\(item.name)' (known: loginTimeout, queryTimeout, applicationName, rowsPerFetch)")
            }
        }
        self.init(host: host, port: port, username: user, password: password, database: database, options: options)
    }
}
