import CFreeTDS
import Logging

/// Owns one db-lib `DBPROCESS` (one TDS connection) and drives it: send a batch or an RPC, then read
/// the response in steps. Every method blocks; they run on a thread-pool thread, never on Swift's
/// cooperative pool, and one at a time (the connection's state machine guarantees it).
final class DBProcessHandle {
    private var process: OpaquePointer?
    let context: DBMessageContext
    private var cursor: Cursor = .idle
    private var columns = SQLServerColumns([])

    private enum Cursor {
        /// Nothing sent, or the last response fully read.
        case idle
        /// A request was sent; the first answer is not read yet (`dbsqlok`).
        case sent
        /// Between statements: `dbresults` comes next.
        case betweenResults
        /// Inside a result set: `dbnextrow` comes next.
        case inRows
    }

    private init(process: OpaquePointer, context: DBMessageContext) {
        self.process = process
        self.context = context
        // The handlers find this connection's context through the DBPROCESS's user data. The handle
        // keeps the context alive for as long as the DBPROCESS exists.
        dbsetuserdata(process, Unmanaged.passUnretained(context).toOpaque().assumingMemoryBound(to: BYTE.self))
    }

    deinit {
        close()
    }

    var isOpen: Bool { process != nil }

    /// Whether db-lib considers the connection dead (network failure, server gone).
    var isDead: Bool {
        guard let process else { return true }
        return dbdead(process) != 0
    }

    /// Whether a response is still being read.
    var isReadingResponse: Bool {
        if case .idle = cursor { return false }
        return true
    }

    func close() {
        guard let process else { return }
        self.process = nil
        dbclose(process)
    }

    // MARK: Login

    /// Logs in (blocking up to the login timeout).
    static func open(configuration: SQLServerConfiguration, logger: Logger) throws(SQLServerError) -> DBProcessHandle {
        DBLibrary.initialize()
        let login = try DBLoginRecord(configuration: configuration)
        let context = DBMessageContext(logger: logger, server: configuration.serverName)
        context.setPhase(.login)
        DBLibrary.loginContext.currentValue = context
        defer { DBLibrary.loginContext.currentValue = nil }
        let process: OpaquePointer? = DBLibrary.loginLock.withLock {
            dbsetlogintime(Int32(configuration.options.loginTimeout))
            // msdblib = 1: Microsoft semantics (e.g. dbdatecrack months 1-12).
            return tdsdbopen(login.pointer, configuration.serverName, 1)
        }
        guard let process else {
            throw SQLServerError.mostRelevant(context.takeErrors()) ?? SQLServerError(
                code: .serverUnreachable,
                message: "Cannot connect to SQL Server at \(configuration.serverName): db-lib gave no reason. Check host, port and that a SQL Server listens there.")
        }
        let handle = DBProcessHandle(process: process, context: context)
        let errors = context.takeErrors()
        context.setPhase(.query)
        if !errors.isEmpty {
            logger.debug("Login succeeded with messages", metadata: [SQLServerLoggingKeys.message: "\(errors)"])
        }
        if configuration.options.queryTimeout > 0 {
            // Per connection (dbsettime would change every connection of the process).
            guard dbsetopt(process, DBSETTIME, String(configuration.options.queryTimeout), 0) == SUCCEED else {
                throw SQLServerError(code: .clientLibrary, message: "FreeTDS refused the query timeout \(configuration.options.queryTimeout)s.")
            }
        }
        return handle
    }

    /// The negotiated TDS version as db-lib reports it (`DBTDS_7_4` is 12).
    var tdsVersion: Int32 {
        guard let process else { return 0 }
        return dbtds(process)
    }

    // MARK: Requests

    private func requireIdleProcess() throws(SQLServerError) -> OpaquePointer {
        guard let process, dbdead(process) == 0 else {
            throw SQLServerError(code: .connectionClosed, message: "The connection to \(context.server) is closed: open a new connection.")
        }
        if isReadingResponse {
            cancel()
        }
        context.reset()
        return process
    }

    /// Sends a T-SQL batch (does not wait for the answer).
    func sendBatch(_ sql: String) throws(SQLServerError) {
        let process = try requireIdleProcess()
        dbfreebuf(process)
        guard dbcmd(process, sql) == SUCCEED, dbsqlsend(process) == SUCCEED else {
            throw failure(default: "Sending the batch to \(context.server) failed.")
        }
        cursor = .sent
    }

    /// Sends an RPC (a stored procedure call, e.g. `sp_executesql`) with typed parameters.
    func sendRPC(_ procedure: String, parameters: [DBEncodedParameter]) throws(SQLServerError) {
        let process = try requireIdleProcess()
        guard dbrpcinit(process, procedure, 0) == SUCCEED else {
            throw failure(default: "FreeTDS dbrpcinit(\(procedure)) failed.")
        }
        // db-lib keeps the value pointers until dbrpcsend: every value is copied into one buffer
        // (16-byte aligned slots) that lives until after it.
        let size = parameters.reduce(0) { $0 + (($1.bytes?.count ?? 0) + 15) / 16 * 16 + 16 }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 16), alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        for parameter in parameters {
            var pointer: UnsafeMutablePointer<BYTE>?
            if let bytes = parameter.bytes {
                let slot = buffer + offset
                bytes.withUnsafeBytes { if let base = $0.baseAddress { slot.copyMemory(from: base, byteCount: bytes.count) } }
                offset += (bytes.count + 15) / 16 * 16 + 16
                pointer = slot.assumingMemoryBound(to: BYTE.self)
            }
            let status = BYTE(parameter.isOutput ? DBRPCRETURN : DBRPCNORETURN)
            let ok = parameter.name.map { name in
                dbrpcparam(process, name, status, parameter.type, parameter.maxLength, parameter.dataLength, pointer)
            } ?? dbrpcparam(process, nil, status, parameter.type, parameter.maxLength, parameter.dataLength, pointer)
            guard ok == SUCCEED else {
                dbrpcinit(process, "", 0x0002) // DBRPCRESET: drop the half-built call
                throw failure(code: .unsupportedValue, default: "FreeTDS rejected parameter \(parameter.name ?? "#\(parameters.firstIndex { $0 == parameter } ?? 0)") of type \(parameter.type).")
            }
        }
        guard dbrpcsend(process) == SUCCEED else {
            throw failure(default: "Sending the RPC \(procedure) to \(context.server) failed.")
        }
        cursor = .sent
    }

    // MARK: Reading the response

    /// Reads the next part of the response, at most `maxRows` rows. Throws the server's error when a
    /// statement failed (after reading the rest of the response, so the connection is ready again).
    func step(maxRows: Int) throws(SQLServerError) -> DBFetchStep {
        guard let process else {
            throw SQLServerError(code: .connectionClosed, message: "The connection to \(context.server) is closed: open a new connection.")
        }
        while true {
            switch cursor {
            case .idle:
                return .done(returnStatus: nil, outputParameters: [])
            case .sent:
                guard dbsqlok(process) == SUCCEED else {
                    try failStatement(process)
                }
                cursor = .betweenResults
            case .betweenResults:
                switch dbresults(process) {
                case SUCCEED:
                    if dbnumcols(process) > 0 {
                        columns = readColumns(process)
                        cursor = .inRows
                        return .resultSet(columns)
                    }
                    let count = Int(dbcount(process))
                    return .rowCount(count >= 0 ? count : nil)
                case NO_MORE_RESULTS:
                    cursor = .idle
                    let done = DBFetchStep.done(returnStatus: readReturnStatus(process), outputParameters: readOutputParameters(process))
                    if let error = SQLServerError.mostRelevant(context.takeErrors()) {
                        throw error
                    }
                    return done
                default:
                    try failStatement(process)
                }
            case .inRows:
                var rows: [SQLServerRow] = []
                rows.reserveCapacity(min(maxRows, 1024))
                while rows.count < maxRows {
                    let status = dbnextrow(process)
                    switch status {
                    case REG_ROW:
                        rows.append(readRow(process))
                    case NO_MORE_ROWS:
                        cursor = .betweenResults
                        let count = Int(dbcount(process))
                        return .rows(rows, end: count >= 0 ? count : rows.count)
                    case FAIL:
                        try failStatement(process)
                    default:
                        continue // a COMPUTE row (not produced by SQL Server 2012+): skip
                    }
                }
                return .rows(rows, end: nil)
            }
        }
    }

    /// A statement failed: collect the errors, bring the connection back to idle, throw.
    private func failStatement(_ process: OpaquePointer) throws(SQLServerError) -> Never {
        let timedOut = context.takeErrors()
        var errors = timedOut
        if dbdead(process) != 0 {
            cursor = .idle
            errors.append(SQLServerError(code: .connectionClosed, message: "The connection to \(context.server) was lost: open a new connection."))
        } else if errors.contains(where: { $0.code == .queryTimeout }) {
            cancel()
        } else {
            // Read the rest of the response so the connection is ready for the next request; the
            // statements after the failed one run as the server decides (use a transaction).
            drain(process)
            errors += context.takeErrors()
        }
        throw SQLServerError.mostRelevant(errors) ?? SQLServerError(
            code: .clientLibrary,
            message: "A db-lib call failed on \(context.server) without a message.")
    }

    /// Reads and discards the rest of the response.
    private func drain(_ process: OpaquePointer) {
        var guardCount = 0
        while dbdead(process) == 0 {
            if case .inRows = cursor {
                while true {
                    let status = dbnextrow(process)
                    if status == NO_MORE_ROWS || status == FAIL { break }
                }
                cursor = .betweenResults
            }
            let status = dbresults(process)
            if status == NO_MORE_RESULTS { break }
            if status == SUCCEED, dbnumcols(process) > 0 { cursor = .inRows }
            if status == FAIL {
                guardCount += 1
                if guardCount > 10_000 { break }
            }
        }
        cursor = .idle
    }

    /// Stops reading the current response: sends a cancel (attention) and discards what is pending.
    func cancel() {
        guard let process else { return }
        if isReadingResponse, dbdead(process) == 0 {
            dbcancel(process)
        }
        cursor = .idle
    }

    private func failure(code: SQLServerError.Code = .clientLibrary, default message: String) -> SQLServerError {
        if let error = SQLServerError.mostRelevant(context.takeErrors()) { return error }
        if isDead {
            return SQLServerError(code: .connectionClosed, message: "The connection to \(context.server) was lost: open a new connection.")
        }
        return SQLServerError(code: code, message: message)
    }

    private func readReturnStatus(_ process: OpaquePointer) -> Int? {
        dbhasretstat(process) != 0 ? Int(dbretstatus(process)) : nil
    }

    private func readOutputParameters(_ process: OpaquePointer) -> [SQLServerOutputParameter] {
        let count = dbnumrets(process)
        guard count > 0 else { return [] }
        return (1...count).map { index in
            let name = dbretname(process, index).map { String(cString: $0) } ?? ""
            let value = DBValueDecoder.decode(
                type: dbrettype(process, index),
                data: dbretdata(process, index).map { UnsafeRawPointer($0) },
                length: Int(dbretlen(process, index)))
            return SQLServerOutputParameter(name: name, value: value)
        }
    }

    private func readColumns(_ process: OpaquePointer) -> SQLServerColumns {
        let count = dbnumcols(process)
        var columns: [SQLServerColumn] = []
        columns.reserveCapacity(Int(count))
        for index in 1...count {
            columns.append(DBValueDecoder.column(process, index))
        }
        return SQLServerColumns(columns)
    }

    private func readRow(_ process: OpaquePointer) -> SQLServerRow {
        let count = columns.count
        var values: [SQLServerValue] = []
        values.reserveCapacity(count)
        for index in 1...Int32(count) {
            values.append(DBValueDecoder.decode(
                type: dbcoltype(process, index),
                data: dbdata(process, index).map { UnsafeRawPointer($0) },
                length: Int(dbdatlen(process, index))))
        }
        return SQLServerRow(columns: columns, values: values)
    }
}
