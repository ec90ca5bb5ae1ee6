import SluiceKafka
import SluiceSQLServer

/// A SQL Server login read from a connector file: a `mssql://` URL key (parsed by the client's
/// ``SQLServerURL``) and separate keys that override its parts. The source (`database.url`,
/// `database.hostname`, `database.port`, `database.user`, `database.password`) and the warehouse sink
/// (`connection.url`, `connection.user`, `connection.password`) read theirs with it.
public struct SQLServerLogin: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret
    /// The database the URL names, if any.
    public var database: String?

    /// The keys one connector reads; a nil key is not offered.
    public struct Keys: Sendable {
        public var url: String
        public var urlRequired: Bool
        public var host: String?
        public var port: String?
        public var user: String
        public var password: String

        public init(url: String, urlRequired: Bool, host: String? = nil, port: String? = nil, user: String, password: String) {
            self.url = url
            self.urlRequired = urlRequired
            self.host = host
            self.port = port
            self.user = user
            self.password = password
        }
    }

    /// Reads `keys` from `p`, recording a problem for a bad URL, an option after `?` (connector files do
    /// not read the client's URL options: dropping one silently would hide a setting the operator
    /// believes is in force) and a missing host, user or password.
    public static func read(_ keys: Keys, from p: inout ConnectorProperties) -> SQLServerLogin {
        var host = keys.host.flatMap { p.string($0) }
        var port = keys.port.flatMap { p.string($0) != nil ? p.int($0, default: 1433, range: 1...65535) : nil }
        var user = p.string(keys.user)
        var password = p.secret(keys.password)
        var database: String?
        if let text = p.string(keys.url, required: keys.urlRequired) {
            do {
                let url = try SQLServerURL(parsing: text)
                if !url.options.isEmpty {
                    p.addProblem(key: keys.url, "options after '?' are not read from connector files; remove them")
                }
                host = host ?? url.host
                port = port ?? url.port
                user = user ?? url.user
                password = password ?? url.password.map(Secret.init)
                database = url.database
            } catch {
                p.addProblem(key: keys.url, error.message)
            }
        } else if host == nil, let hostKey = keys.host {
            p.addProblem(key: hostKey, "missing: set \(keys.url) (mssql://user:password@host:port/Database) or \(hostKey)")
        }
        if user == nil { p.addProblem(key: keys.user, "missing: set it in \(keys.url) or \(keys.user)") }
        if password == nil { p.addProblem(key: keys.password, "missing: set it in \(keys.url) or \(keys.password)") }
        return SQLServerLogin(host: host ?? "", port: port ?? 1433, user: user ?? "", password: password ?? Secret(""),
                              database: database)
    }
}
