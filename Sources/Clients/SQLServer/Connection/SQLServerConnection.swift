import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// One connection to SQL Server over FreeTDS db-lib (TDS 7.4, UTF-8).
///
/// ```swift
/// let connection = try await SQLServerConnection.connect(configuration: try .init(url: url), logger: logger)
/// let result = try await connection.execute("SELECT name FROM dbo.customers WHERE customer_id = \(id)")
/// try await connection.withResults("SELECT * FROM dbo.big") { results in
///     while let set = try await results.nextResultSet() {
///         for try await row in set { … }          // streamed, a few hundred rows per hop
///     }
/// }
/// await connection.close()
/// ```
///
/// A connection serves one caller at a time: a call made while another is running throws
/// ``SQLServerError/Code/connectionBusy``. Every blocking db-lib call runs on the connection's
/// `NIOThreadPool`, never on Swift's cooperative pool.
public final class SQLServerConnection: Sendable {
    public let configuration: SQLServerConfiguration
    let logger: Logger
    let threadPool: NIOThreadPool
    private let transfer: DBProcessTransfer
    private let state = NIOLockedValueBox(SQLServerConnectionStateMachine())

    private init(configuration: SQLServerConfiguration, logger: Logger, threadPool: NIOThreadPool, transfer: DBProcessTransfer) {
        self.configuration = configuration
        self.logger = logger
        self.threadPool = threadPool
        self.transfer = transfer
    }

    /// Statements run once after login so that behaviour matches what SQL Server tools (ODBC, .NET)
    /// use: ANSI semantics needed by filtered indexes, indexed views and MERGE; unlimited text size
    /// so `(max)` values are not cut at db-lib's default.
    static let sessionSetup = """
        SET ANSI_NULLS ON; SET ANSI_PADDING ON; SET ANSI_WARNINGS ON; SET ARITHABORT ON; \
        SET CONCAT_NULL_YIELDS_NULL ON; SET QUOTED_IDENTIFIER ON; SET ANSI_NULL_DFLT_ON ON; \
        SET TEXTSIZE 2147483647;
        """

    /// Opens a connection and logs in. Throws ``SQLServerError`` with code `.serverUnreachable`,
    /// `.loginFailed` or `.loginTimeout` when it cannot.
    ///
    /// - Parameter threadPool: where the blocking db-lib calls run. The default shared pool has one
    ///   thread per core; a process with many busy connections should pass a pool of its own.
    public static func connect(
        configuration: SQLServerConfiguration,
        logger: Logger = Logger(label: "sluice.sqlserver"),
        threadPool: NIOThreadPool = .singleton
    ) async throws -> SQLServerConnection {
        var logger = logger
        logger[metadataKey: SQLServerLoggingKeys.server] = "\(configuration.serverName)"
        if let database = configuration.database {
            logger[metadataKey: SQLServerLoggingKeys.database] = "\(database)"
        }
        let connectionLogger = logger
        let transfer = try await threadPool.runIfActive {
            DBProcessTransfer(handle: try DBProcessHandle.open(configuration: configuration, logger: connectionLogger))
        }
        let connection = SQLServerConnection(configuration: configuration, logger: logger, threadPool: threadPool, transfer: transfer)
        do {
            _ = try await connection.execute(SQLServerQuery(sql: sessionSetup))
        } catch {
            await connection.close()
            throw error
        }
        logger.debug("Connected to SQL Server", metadata: [SQLServerLoggingKeys.tdsVersion: "\(transfer.handle.tdsVersion)"])
        return connection
    }

    /// Opens a connection, runs `body` with it and closes it, whether `body` returns or throws.
    public static func withConnection<T>(
        configuration: SQLServerConfiguration,
        logger: Logger = Logger(label: "sluice.sqlserver"),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SQLServerConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(configuration: configuration, logger: logger)
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Whether `withTransaction` has a transaction open.
    public var isInTransaction: Bool { state.withLockedValue { $0.isInTransaction } }

    /// Whether the connection is closed (by `close()` or because it died).
    public var isClosed: Bool { state.withLockedValue { $0.state == .closed } }

    /// Runs a batch (no parameters) or an `sp_executesql` call (with parameters) and collects the
    /// whole response: every result set, row counts, return status and output parameters.
    /// For large results use ``withResults(isolation:_:_:)``, which streams.
    ///
    /// The request is sent and its whole response read in one blocking call on the thread pool (a
    /// statement costs one hop, not one per step of the response).
    @discardableResult
    public func execute(_ query: SQLServerQuery) async throws -> SQLServerResponse {
        let send = try Self.sender(for: query)
        try startOperation()
        do {
            let result = try await runBlocking { handle in
                try send(handle)
                return try handle.collect()
            }
            await finishOperation()
            return result
        } catch {
            // A failed statement left the handle idle (it read or cancelled the rest of the response).
            await finishOperation()
            throw error
        }
    }

    /// Calls a stored procedure by RPC with typed parameters; the result carries its return status
    /// and output parameters.
    @discardableResult
    ///
    /// db-lib cannot send an empty string or empty binary as an RPC argument (it would arrive as
    /// NULL): such a call is refused with ``SQLServerError/Code/unsupportedValue``; call the procedure
    /// through ``execute(_:)`` (`EXEC proc @a = \(value)`) instead, which handles them.
    public func callProcedure(_ name: String, parameters: [SQLServerParameter] = []) async throws -> SQLServerResponse {
        if let empty = parameters.first(where: { !$0.isOutput && ($0.value == .string("") || $0.value == .bytes([])) }) {
            throw SQLServerError(
                code: .unsupportedValue,
                message: "Parameter \(empty.name) is empty: db-lib sends an empty RPC argument as NULL. Call the procedure with execute(\"EXEC \(name) …\") instead.")
        }
        let encoded = try parameters.map { parameter throws(SQLServerError) in try DBEncodedParameter(parameter) }
        return try await withResponse(send: { handle in try handle.sendRPC(name, parameters: encoded) }) { results in
            try await results.collect()
        }
    }

    /// Runs `query` and hands its response to `body` to read as it arrives: result sets one after the
    /// other, each an `AsyncSequence` of rows fetched a few hundred at a time, so memory stays flat
    /// whatever the size. What `body` leaves unread is cancelled when it returns.
    public func withResults<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ query: SQLServerQuery,
        _ body: (SQLServerResponseStream) async throws -> T
    ) async throws -> T {
        return try await withResponse(send: try Self.sender(for: query), body)
    }

    /// How `query` is sent: a plain batch without parameters, else an `sp_executesql` call.
    private static func sender(for query: SQLServerQuery) throws(SQLServerError) -> @Sendable (DBProcessHandle) throws -> Void {
        if query.parameters.isEmpty {
            let sql = query.sql
            return { handle in try handle.sendBatch(sql) }
        }
        let parameters = try sp_executesqlArguments(query).parameters
        return { handle in try handle.sendRPC("sp_executesql", parameters: parameters) }
    }

    private func withResponse<T>(
        isolation: isolated (any Actor)? = #isolation,
        send: @escaping @Sendable (DBProcessHandle) throws -> Void,
        _ body: (SQLServerResponseStream) async throws -> T
    ) async throws -> T {
        try startOperation()
        let results = SQLServerResponseStream(connection: self)
        do {
            try await runBlocking { handle in try send(handle) }
            let value = try await body(results)
            if !results.isComplete {
                try await runBlocking { handle in handle.cancel() }
            }
            await finishOperation()
            return value
        } catch {
            if !results.isComplete {
                try? await runBlocking { handle in handle.cancel() }
            }
            await finishOperation()
            throw error
        }
    }

    /// The arguments of `sp_executesql` for a parameterized query: `@stmt`, `@params`, then the values.
    ///
    /// db-lib cannot send an empty string or empty binary as an RPC parameter (a data length of 0
    /// means NULL to `dbrpcparam`). Such an input parameter is declared inside the statement instead,
    /// initialised with the empty constant (`DECLARE @p2 nvarchar(4000) = N'';`, on the statement's
    /// first line so error line numbers do not move). No caller value is ever spliced into the text.
    static func sp_executesqlArguments(_ query: SQLServerQuery) throws(SQLServerError) -> (sql: String, parameters: [DBEncodedParameter]) {
        var prefix = ""
        var declared: [SQLServerParameter] = []
        for parameter in query.parameters {
            switch parameter.value {
            case .string("") where !parameter.isOutput:
                prefix += "DECLARE \(parameter.name) \(parameter.type.declaration) = N''; "
            case .bytes([]) where !parameter.isOutput:
                prefix += "DECLARE \(parameter.name) \(parameter.type.declaration) = 0x; "
            default:
                declared.append(parameter)
            }
        }
        let sql = prefix + query.sql
        var encoded = [DBEncodedParameter.positionalText(sql), DBEncodedParameter.positionalText(declared.declarationList)]
        encoded.reserveCapacity(declared.count + 2)
        // Input values travel by position (in `@params` order): db-lib then copies no names and the
        // request carries none. An OUTPUT parameter needs `@name = value`, and T-SQL allows no
        // positional argument after a named one, so then all of them are named.
        let positional = !declared.contains { $0.isOutput }
        for parameter in declared {
            var value = try DBEncodedParameter(parameter)
            if positional { value.name = nil }
            encoded.append(value)
        }
        return (sql, encoded)
    }

    /// Opens a transaction, runs `body`, commits; rolls back if `body` (or the commit) throws.
    /// Transactions do not nest.
    public func withTransaction<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SQLServerConnection) async throws -> T
    ) async throws -> T {
        let action = state.withLockedValue { $0.beginTransaction(server: configuration.serverName) }
        if case .fail(let error) = action { throw error }
        defer { state.withLockedValue { $0.endTransaction() } }
        try await execute("BEGIN TRANSACTION")
        do {
            let value = try await body(self)
            try await execute("COMMIT TRANSACTION")
            return value
        } catch {
            do {
                try await execute("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION")
            } catch let rollbackError {
                logger.warning("Rollback failed", metadata: [SQLServerLoggingKeys.message: "\(rollbackError)"])
            }
            throw error
        }
    }

    /// Closes the connection (after the running operation, if one is running).
    public func close() async {
        let action = state.withLockedValue { $0.close() }
        if action == .closeHandle {
            await closeHandle()
        }
    }

    // MARK: Internals

    /// Runs a blocking call on the thread pool with this connection's handle.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable (DBProcessHandle) throws -> T) async throws -> T {
        let transfer = self.transfer
        return try await threadPool.runIfActive { try body(transfer.handle) }
    }

    private func startOperation() throws {
        let action = state.withLockedValue { $0.startOperation(server: configuration.serverName) }
        if case .fail(let error) = action { throw error }
    }

    private func finishOperation() async {
        // No work item is running (the operation is still ours): reading db-lib's dead flag is safe here.
        let dead = transfer.handle.isDead
        let action = state.withLockedValue { $0.finishOperation(connectionIsDead: dead) }
        if action == .closeHandle {
            await closeHandle()
        }
    }

    private func closeHandle() async {
        do {
            try await runBlocking { $0.close() }
        } catch {
            // The pool is shut down: close here (dbclose does not wait on the network).
            transfer.handle.close()
        }
        logger.debug("Closed SQL Server connection")
    }
}
