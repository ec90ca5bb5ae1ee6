/// The parts of `mssql://user:password@host[:port][/Database][?key=value&…]` (also `sqlserver://`):
/// the one parser of SQL Server URLs, behind ``SQLServerConfiguration/init(url:)`` and the connector
/// files' `database.url` / `connection.url`.
///
/// User, password and database are percent-decoded, so a password with `@`, `:` or `/` may be written
/// `p%40ss`; an unencoded `@` or `?` in the password also works (credentials end at the last `@`).
/// User and password are optional here (a connector file may give them as separate keys);
/// ``SQLServerConfiguration/init(url:)`` requires the user.
public struct SQLServerURL: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: String?
    /// The `?key=value` options in the order written, percent-decoded.
    public var options: [Option]

    public struct Option: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// Why a text is not a SQL Server URL. The message never contains the URL (it holds the password).
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(parsing text: String) throws(Problem) {
        let lower = text.lowercased()
        guard let scheme = ["mssql://", "sqlserver://"].first(where: { lower.hasPrefix($0) }) else {
            throw Problem(message: "must start with mssql:// (mssql://user:password@host:port/Database)")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var user: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.percentDecode(credentials[..<colon])
                password = Self.percentDecode(credentials[credentials.index(after: colon)...])
            } else {
                user = Self.percentDecode(credentials)
            }
            if user == nil || password == nil && credentials.contains(":") {
                throw Problem(message: "the user name or password has a malformed %-escape (write %40 for @, %25 for %)")
            }
        }
        var options: [Option] = []
        if let question = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: question)...].split(separator: "&") where !item.isEmpty {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = Self.percentDecode(pair[0]), let value = Self.percentDecode(pair.count > 1 ? pair[1] : "") else {
                    throw Problem(message: "an option after '?' has a malformed %-escape")
                }
                options.append(Option(name: name, value: value))
            }
            rest = rest[..<question]
        }
        var database: String?
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            guard !path.contains("/"), let decoded = Self.percentDecode(path) else {
                throw Problem(message: "the path must be a single database name")
            }
            database = decoded.isEmpty ? nil : decoded
            rest = rest[..<slash]
        }
        var host = String(rest), port = 1433
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw Problem(message: "the port in the URL is not a number from 1 to 65535")
            }
            port = p
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw Problem(message: "the URL has no host") }
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.options = options
    }

    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        let u = s.utf8
        var i = u.startIndex
        while i < u.endIndex {
            let b = u[i]
            if b == UInt8(ascii: "%") {
                let h = u.index(after: i)
                guard h < u.endIndex, u.index(after: h) < u.endIndex,
                      let v = UInt8(String(decoding: [u[h], u[u.index(after: h)]], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                i = u.index(h, offsetBy: 2)
            } else {
                bytes.append(b)
                i = u.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
