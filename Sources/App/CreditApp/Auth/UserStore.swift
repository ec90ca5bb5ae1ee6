import Logging
import PostgresNIO

/// The app's users (`app.users`) and their login failures (`app.login_failures`), in Postgres.
public struct UserStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public struct StoredUser: Sendable {
        public var user: AppUser
        public var passwordHash: String
        public var disabled: Bool
    }

    public func find(username: String) async throws -> StoredUser? {
        let rows = try await client.query(
            "SELECT username, role, password_hash, disabled FROM app.users WHERE username = \(username)", logger: logger)
        for try await (name, role, hash, disabled) in rows.decode((String, String, String, Bool).self) {
            guard let role = Role(rawValue: role) else { return nil }
            return StoredUser(user: AppUser(username: name, role: role), passwordHash: hash, disabled: disabled)
        }
        return nil
    }

    /// The user of a session, or nil when the user no longer exists or is disabled.
    public func activeUser(username: String) async throws -> AppUser? {
        guard let stored = try await find(username: username), !stored.disabled else { return nil }
        return stored.user
    }

    /// Adds a user, or replaces the role and password of an existing one. Returns whether it was new.
    @discardableResult
    public func upsert(username: String, role: Role, passwordHash: String) async throws -> Bool {
        let rows = try await client.query("""
            INSERT INTO app.users (username, role, password_hash) VALUES (\(username), \(role.rawValue), \(passwordHash))
            ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash,
                disabled = false, updated_at = now()
            RETURNING (xmax = 0)
            """, logger: logger)
        for try await inserted in rows.decode(Bool.self) { return inserted }
        return false
    }

    public struct Listing: Sendable {
        public var username: String
        public var role: String
        public var disabled: Bool
        public var createdAt: String
    }

    public func list() async throws -> [Listing] {
        let rows = try await client.query("""
            SELECT username, role, disabled, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM app.users ORDER BY username
            """, logger: logger)
        var out: [Listing] = []
        for try await (name, role, disabled, created) in rows.decode((String, String, Bool, String).self) {
            out.append(Listing(username: name, role: role, disabled: disabled, createdAt: created))
        }
        return out
    }

    // MARK: Login throttling

    /// How many failed logins `username` had within the last `window`, and how many seconds until the
    /// oldest of them leaves the window.
    public func recentFailures(username: String, window: Duration) async throws -> (count: Int, retryAfterSeconds: Int) {
        let seconds = Double(window.components.seconds)
        let rows = try await client.query("""
            SELECT count(*)::int8,
                   COALESCE(CEIL(EXTRACT(EPOCH FROM (min(failed_at) + make_interval(secs => \(seconds)) - now())))::int8, 0)
            FROM app.login_failures
            WHERE username = \(username) AND failed_at > now() - make_interval(secs => \(seconds))
            """, logger: logger)
        for try await (count, retry) in rows.decode((Int64, Int64).self) { return (Int(count), max(1, Int(retry))) }
        return (0, 0)
    }

    public func recordFailure(username: String, remoteAddress: String?) async throws {
        try await client.query(
            "INSERT INTO app.login_failures (username, remote_address) VALUES (\(username), \(remoteAddress))", logger: logger)
    }

    /// Deletes login failures older than a day (long past any lockout window).
    public func pruneFailures() async throws {
        try await client.query("DELETE FROM app.login_failures WHERE failed_at < now() - interval '1 day'", logger: logger)
    }

    public func clearFailures(username: String) async throws {
        try await client.query("DELETE FROM app.login_failures WHERE username = \(username)", logger: logger)
    }
}
