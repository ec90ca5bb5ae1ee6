import Logging
import PostgresNIO
import SluiceCore

/// The app's Postgres (`credit_app`): the replica in schema `dbo` (read only) and the app's own tables in
/// schema `app` (users, sessions, login failures; created by db-init/postgres).
public enum AppDatabase {
    /// A `PostgresClient` (a connection pool and a `Service`) for `url`.
    public static func makeClient(url: PostgresURL, logger: Logger) throws -> PostgresClient {
        let tls: PostgresClient.Configuration.TLS = switch url.sslMode {
        case "require": .require(.makeClientConfiguration())
        case "prefer": .prefer(.makeClientConfiguration())
        default: .disable
        }
        var configuration = PostgresClient.Configuration(host: url.host, port: url.port, username: url.user ?? "postgres",
                                                         password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 10
        configuration.options.additionalStartupParameters = [("application_name", "sluice-app")]
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` with `client` running beside it (for the one-shot `sluice app users` commands).
    public static func withRunningClient<T: Sendable>(_ client: PostgresClient, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            group.addTask { try await body() }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw CancellationError()
        }
    }
}
