import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import SluiceCore

/// One Postgres connection of the sink (one per `apply.connections`: each applies its lane of a batch,
/// one statement after another). Connects on first use; after an error that left the connection closed (Postgres
/// restarted, the session was terminated, the network dropped) the next call connects again.
///
/// Every statement goes through `run`, which never waits forever: postgres-nio drops a query written
/// while the server is closing the session and leaves its caller waiting (seen with `PostgresClient`'s
/// pool and with plain connections when sessions are terminated). `run` checks the connection and
/// writes the query on the connection's event loop in one step, and fails the call after `timeout`,
/// closing the connection.
public final class PostgresSession: Sendable {
    /// Makes the connection configuration (called before each connect; TLS contexts are built there).
    let makeConfiguration: @Sendable () throws -> PostgresConnection.Configuration
    /// How long one statement may take before the connection is closed under it.
    public let timeout: Duration
    let logger: Logger
    private let state = NIOLockedValueBox<State>(State())

    private struct State {
        var connection: PostgresConnection?
        var nextID = 1
        var closed = false
    }

    public struct Closed: Error, CustomStringConvertible {
        public var description: String { "the Postgres connection is closed" }
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public var timeout: Duration
        public var description: String {
            "a Postgres statement took longer than \(timeout) (statement.timeout.ms); the connection was closed and the batch will be retried"
        }
    }

    public init(timeout: Duration = .seconds(60), logger: Logger,
                configuration: @escaping @Sendable () throws -> PostgresConnection.Configuration) {
        self.makeConfiguration = configuration
        self.timeout = timeout
        self.logger = logger
    }

    /// Runs `body` on the session's connection, connecting first when there is none. Run statements
    /// with `run(_:on:)`.
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await current()
        do {
            return try await body(connection)
        } catch {
            if connection.isClosed { discard(connection) }
            throw error
        }
    }

    /// Runs `body` between BEGIN and COMMIT (ROLLBACK when it throws).
    public func withTransaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await run("BEGIN", on: connection)
            let result: T
            do {
                result = try await body(connection)
            } catch {
                if !connection.isClosed { _ = try? await run("ROLLBACK", on: connection) }
                throw error
            }
            try await run("COMMIT", on: connection)
            return result
        }
    }

    /// Runs one statement and returns all its rows.
    @discardableResult
    public func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> PostgresQueryResult {
        let eventLoop = connection.eventLoop
        let promise = eventLoop.makePromise(of: PostgresQueryResult.self)
        let logger = self.logger
        let timeout = self.timeout
        eventLoop.execute {
            // On the event loop: the check and the write cannot interleave with the channel's teardown.
            guard !connection.isClosed else {
                promise.fail(Closed())
                return
            }
            let deadline = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
                logger.warning("A Postgres statement timed out; closing its connection", metadata: ["psql_connection_id": "\(connection.id)"])
                promise.fail(TimedOut(timeout: timeout))
                connection.close().whenComplete { _ in }
            }
            connection.query(query, logger: logger).whenComplete { result in
                deadline.cancel()
                promise.completeWith(result)
            }
        }
        return try await promise.futureResult.get()
    }

    /// Closes the connection; later calls fail with `Closed`.
    public func close() async {
        let connection = state.withLockedValue { state -> PostgresConnection? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        try? await connection?.close()
    }

    private func current() async throws -> PostgresConnection {
        let (existing, id, closed) = state.withLockedValue { state in
            defer { state.nextID += 1 }
            return (state.connection, state.nextID, state.closed)
        }
        if closed { throw Closed() }
        if let existing, !existing.isClosed { return existing }
        let connection = try await PostgresConnection.connect(configuration: try makeConfiguration(), id: id, logger: logger)
        let (kept, extra) = state.withLockedValue { state -> (PostgresConnection, PostgresConnection?) in
            if let other = state.connection, !other.isClosed { return (other, connection) }
            state.connection = connection
            return (connection, nil)
        }
        if let extra { try? await extra.close() }
        logger.debug("Postgres session connected", metadata: ["psql_connection_id": "\(id)"])
        return kept
    }

    private func discard(_ connection: PostgresConnection) {
        state.withLockedValue { state in
            if state.connection === connection { state.connection = nil }
        }
    }
}

extension PostgresSession {
    /// The session for a sink's configuration (`application_name` = `sluice-<connector name>`).
    public convenience init(_ sink: PostgresSinkConfiguration, logger: Logger) {
        self.init(timeout: .milliseconds(sink.statementTimeoutMs), logger: logger) {
            let tls: PostgresConnection.Configuration.TLS = switch sink.sslMode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var configuration = PostgresConnection.Configuration(host: sink.host, port: sink.port, username: sink.user,
                                                                 password: sink.password?.value, database: sink.database, tls: tls)
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.additionalStartupParameters = [("application_name", PostgresSinkConnector.applicationName(sink))]
            return configuration
        }
    }
}
