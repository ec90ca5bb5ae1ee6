import Logging
import SluiceSQLServer

/// A few SQL Server connections reused across requests (a `SQLServerConnection` serves one caller at a
/// time). A connection that failed is closed, not returned; at most `maxIdle` wait idle.
public actor SQLServerPool {
    public let configuration: SQLServerConfiguration
    let logger: Logger
    let maxIdle: Int
    private var idle: [SQLServerConnection] = []

    public init(configuration: SQLServerConfiguration, maxIdle: Int = 4, logger: Logger) {
        self.configuration = configuration
        self.maxIdle = maxIdle
        self.logger = logger
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (SQLServerConnection) async throws -> T) async throws -> T {
        let connection: SQLServerConnection
        if let reused = idle.popLast() {
            connection = reused
        } else {
            connection = try await SQLServerConnection.connect(configuration: configuration, logger: logger)
        }
        do {
            let value = try await body(connection)
            if !keep(connection, healthy: true) { await connection.close() }
            return value
        } catch {
            if !keep(connection, healthy: !Self.breaksConnection(error)) { await connection.close() }
            throw error
        }
    }

    /// Whether an error leaves the connection unusable (rather than one statement failed).
    static func breaksConnection(_ error: any Error) -> Bool {
        guard let error = error as? SQLServerError else { return false }
        switch error.code {
        case .connectionClosed, .serverUnreachable, .queryTimeout, .clientLibrary, .loginTimeout, .connectionBusy: return true
        default: return false
        }
    }

    /// Puts a connection back among the idle ones; false when it should be closed instead.
    private func keep(_ connection: SQLServerConnection, healthy: Bool) -> Bool {
        guard healthy && !connection.isClosed && !connection.isInTransaction && idle.count < maxIdle else { return false }
        idle.append(connection)
        return true
    }

    public func closeAll() async {
        let all = idle
        idle = []
        for c in all { await c.close() }
    }
}
