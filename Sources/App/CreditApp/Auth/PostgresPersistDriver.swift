import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Hummingbird's `PersistDriver` (the store behind hummingbird-auth's sessions) on Postgres, table
/// `app.sessions (key_hash, value, expires_at)`: sessions survive an app restart and are shared by
/// every app process.
///
/// Keys are stored as their SHA-256, so reading the table does not give anyone a usable session
/// cookie. Expired rows are never returned, and are deleted by ``pruneExpired()`` (run every five
/// minutes by ``StatusMonitor``).
public struct PostgresPersistDriver: PersistDriver {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static func keyHash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func expiry(_ expires: Duration?) -> Date? {
        expires.map { Date.now.addingTimeInterval(Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) }
    }

    static func encode<Object: Codable>(_ value: Object) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    public func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let hash = Self.keyHash(key), json = try Self.encode(value), expiresAt = Self.expiry(expires)
        let rows = try await client.query("""
            INSERT INTO app.sessions (key_hash, value, expires_at) VALUES (\(hash), \(json)::jsonb, \(expiresAt))
            ON CONFLICT (key_hash) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                WHERE app.sessions.expires_at IS NOT NULL AND app.sessions.expires_at <= now()
            RETURNING 1
            """, logger: logger)
        var inserted = false
        for try await _ in rows { inserted = true }
        if !inserted { throw PersistError.duplicate }
    }

    public func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let hash = Self.keyHash(key), json = try Self.encode(value), expiresAt = Self.expiry(expires)
        // A nil expiry keeps the stored one (PersistDriver's contract).
        try await client.query("""
            INSERT INTO app.sessions (key_hash, value, expires_at) VALUES (\(hash), \(json)::jsonb, \(expiresAt))
            ON CONFLICT (key_hash) DO UPDATE SET value = EXCLUDED.value,
                expires_at = COALESCE(EXCLUDED.expires_at, app.sessions.expires_at), updated_at = now()
            """, logger: logger)
    }

    public func get<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: type)?.object
    }

    public func getWithTTL<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> (object: Object, ttl: Duration?)? {
        let hash = Self.keyHash(key)
        let rows = try await client.query("""
            SELECT value::text, EXTRACT(EPOCH FROM (expires_at - now()))::float8 FROM app.sessions
            WHERE key_hash = \(hash) AND (expires_at IS NULL OR expires_at > now())
            """, logger: logger)
        for try await (json, ttl) in rows.decode((String, Double?).self) {
            do {
                let object = try JSONDecoder().decode(Object.self, from: Data(json.utf8))
                return (object, ttl.map { .milliseconds(Int64($0 * 1000)) })
            } catch {
                throw PersistError.invalidConversion
            }
        }
        return nil
    }

    public func remove(key: String) async throws {
        try await client.query("DELETE FROM app.sessions WHERE key_hash = \(Self.keyHash(key))", logger: logger)
    }

    /// Deletes expired sessions; returns how many.
    @discardableResult
    public func pruneExpired() async throws -> Int {
        let rows = try await client.query("DELETE FROM app.sessions WHERE expires_at <= now() RETURNING 1", logger: logger)
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }
}
