import Foundation
import Logging
import SluiceSQLServer

/// The SQL Server the integration tests use: `SLUICE_STAGING_URL` (the local world's "staging"; a
/// real SQL Server works the same).
enum SQLServerTestWorld {
    static func configuration() throws -> SQLServerConfiguration {
        var configuration = try SQLServerConfiguration(url: LocalWorld.env("SLUICE_STAGING_URL"))
        configuration.options.loginTimeout = 10
        return configuration
    }

    static let logger: Logger = {
        var logger = Logger(label: "sluice.sqlserver.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"] == "debug" ? .debug : .warning
        return logger
    }()

    static func connect(_ adjust: (inout SQLServerConfiguration) -> Void = { _ in }) async throws -> SQLServerConnection {
        var configuration = try configuration()
        adjust(&configuration)
        return try await SQLServerConnection.connect(configuration: configuration, logger: logger)
    }

    /// Runs `body` with a fresh connection, closed afterwards.
    static func withConnection<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SQLServerConnection) async throws -> T
    ) async throws -> T {
        try await SQLServerConnection.withConnection(configuration: configuration(), logger: logger, body)
    }

    /// Whether the server is the project's SQL Server emulator (a test fixture whose documented
    /// differences some assertions account for), from `@@VERSION`.
    static func isEmulator(_ connection: SQLServerConnection) async throws -> Bool {
        let version = try await connection.execute("SELECT @@VERSION").rows.first?[0].string ?? ""
        return version.contains("SQL Server emulator")
    }

    /// A table name no other test uses: `sluice_test_<what>_<random>`.
    static func uniqueTable(_ what: String) -> String {
        "sluice_test_\(what)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates a table, runs `body`, drops the table (also when `body` throws).
    static func withTable<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ what: String, columns: String, on connection: SQLServerConnection,
        _ body: (String) async throws -> T
    ) async throws -> T {
        let name = uniqueTable(what)
        try await connection.execute("CREATE TABLE \(identifier: "dbo", name) (\(unsafeRaw: columns))")
        do {
            let value = try await body(name)
            try await connection.execute("DROP TABLE \(identifier: "dbo", name)")
            return value
        } catch {
            _ = try? await connection.execute("DROP TABLE \(identifier: "dbo", name)")
            throw error
        }
    }
}
