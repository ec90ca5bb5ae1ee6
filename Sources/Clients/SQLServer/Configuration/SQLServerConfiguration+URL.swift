extension SQLServerConfiguration {
    /// Parses `mssql://user:password@host[:port][/Database][?key=value&…]` (also `sqlserver://`) with
    /// ``SQLServerURL``.
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
        let parsed: SQLServerURL
        do {
            parsed = try SQLServerURL(parsing: url)
        } catch {
            throw invalid(error.message)
        }
        guard let user = parsed.user, !user.isEmpty else { throw invalid("the user name is missing") }
        var options = Options()
        for item in parsed.options {
            let value = item.value
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
        self.init(host: parsed.host, port: parsed.port, username: user, password: parsed.password ?? "",
                  database: parsed.database, options: options)
    }
}
