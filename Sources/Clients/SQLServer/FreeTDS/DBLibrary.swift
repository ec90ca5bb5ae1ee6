import CFreeTDS
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// db-lib's process-wide set-up: `dbinit()` once, and the error and message handlers, which db-lib
/// keeps per process. The handlers route each message to its connection's ``DBMessageContext``
/// through the `DBPROCESS`'s user data (or, while `dbopen` runs and there is no user data yet, through
/// the context the logging-in thread registered).
enum DBLibrary {
    /// Runs `dbinit()` and installs the handlers, once per process (Swift's lazy globals are thread-safe).
    static func initialize() {
        _ = initialized
    }

    private static let initialized: Bool = {
        guard dbinit() == SUCCEED else {
            fatalError("FreeTDS dbinit() failed: db-lib cannot be used in this process")
        }
        dberrhandle(sluiceDBErrorHandler)
        dbmsghandle(sluiceDBMessageHandler)
        return true
    }()

    /// The context of the login running on this thread: db-lib reports login errors before `dbopen`
    /// returns the `DBPROCESS` whose user data would name it.
    static let loginContext = ThreadSpecificVariable<DBMessageContext>()

    /// `dbsetlogintime` is process-wide and read by `dbopen`: logins set it and open under this lock.
    static let loginLock = NIOLock()

    /// db-lib's lines that belong to no connection.
    static let logger = Logger(label: "sluice.sqlserver.freetds")

    /// The context a handler call belongs to, if any.
    static func context(for process: OpaquePointer?) -> DBMessageContext? {
        if let process, let userData = dbgetuserdata(process) {
            return Unmanaged<DBMessageContext>.fromOpaque(UnsafeRawPointer(userData)).takeUnretainedValue()
        }
        return loginContext.currentValue
    }
}

/// db-lib's error handler (client-side errors: timeouts, network, conversions). A plain C function:
/// db-lib calls it on whatever thread is inside a db-lib call.
private func sluiceDBErrorHandler(
    _ process: OpaquePointer?, _ severity: Int32, _ dbError: Int32, _ osError: Int32,
    _ dbErrorText: UnsafeMutablePointer<CChar>?, _ osErrorText: UnsafeMutablePointer<CChar>?
) -> Int32 {
    let error = SQLServerError.LibraryError(
        number: Int(dbError),
        severity: Int(severity),
        text: dbErrorText.map { String(cString: $0) } ?? "unknown db-lib error",
        osErrorNumber: Int(osError),
        osErrorText: osErrorText.map { String(cString: $0) })
    guard let context = DBLibrary.context(for: process) else {
        DBLibrary.logger.warning("FreeTDS db-lib error outside any connection", metadata: [
            SQLServerLoggingKeys.libraryErrorNumber: "\(error.number)",
            SQLServerLoggingKeys.message: "\(error)",
        ])
        return INT_CANCEL
    }
    return context.handleLibraryError(error)
}

/// db-lib's message handler (messages the server sent: errors, PRINT, 5701 "changed database context").
private func sluiceDBMessageHandler(
    _ process: OpaquePointer?, _ number: DBINT, _ state: Int32, _ severity: Int32,
    _ text: UnsafeMutablePointer<CChar>?, _ serverName: UnsafeMutablePointer<CChar>?,
    _ procedure: UnsafeMutablePointer<CChar>?, _ line: Int32
) -> Int32 {
    let procedureName = procedure.map { String(cString: $0) }
    let message = SQLServerError.ServerMessage(
        number: Int(number),
        state: Int(state),
        severity: Int(severity),
        line: Int(line),
        procedure: procedureName?.isEmpty == false ? procedureName : nil,
        serverName: serverName.map { String(cString: $0) },
        text: text.map { String(cString: $0) } ?? "")
    guard let context = DBLibrary.context(for: process) else {
        DBLibrary.logger.info("SQL Server message outside any connection", metadata: [
            SQLServerLoggingKeys.message: "\(message)",
        ])
        return 0
    }
    context.handleServerMessage(message)
    return 0
}
