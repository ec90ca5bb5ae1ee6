import CFreeTDS
import Logging
import NIOConcurrencyHelpers

/// What db-lib's process-wide handlers report for one connection: server errors and client errors
/// collected until the running call takes them, info messages logged.
///
/// The handlers run on the thread inside the db-lib call, so in practice one thread at a time uses a
/// context; the lock makes that safe to state.
final class DBMessageContext: Sendable {
    let logger: Logger
    /// `host:port`, for messages.
    let server: String
    private let state = NIOLockedValueBox(State())

    private struct State {
        var phase: SQLServerError.Phase = .login
        var errors: [SQLServerError] = []
        var timeouts = 0
    }

    init(logger: Logger, server: String) {
        self.logger = logger
        self.server = server
    }

    /// Whether the next messages belong to the login or to a query.
    func setPhase(_ phase: SQLServerError.Phase) {
        state.withLockedValue { $0.phase = phase }
    }

    /// Clears what an earlier call left (called before each new request).
    func reset() {
        state.withLockedValue {
            $0.errors.removeAll()
            $0.timeouts = 0
        }
    }

    /// The collected errors, removed from the context.
    func takeErrors() -> [SQLServerError] {
        state.withLockedValue {
            let errors = $0.errors
            $0.errors.removeAll()
            return errors
        }
    }

    var hasErrors: Bool { state.withLockedValue { !$0.errors.isEmpty } }

    func handleServerMessage(_ message: SQLServerError.ServerMessage) {
        if message.severity > 10 {
            let phase = state.withLockedValue { $0.phase }
            let error = SQLServerError.server(message, during: phase)
            state.withLockedValue { $0.errors.append(error) }
            logger.debug("SQL Server error", metadata: [
                SQLServerLoggingKeys.serverMessageNumber: "\(message.number)",
                SQLServerLoggingKeys.message: "\(message)",
            ])
        } else {
            // 5701/5703 (database/language changed) and friends are chatter; PRINT and low-severity
            // RAISERROR are worth seeing.
            let level: Logger.Level = [5701, 5703, 5704].contains(message.number) ? .debug : .info
            logger.log(level: level, "SQL Server message", metadata: [
                SQLServerLoggingKeys.serverMessageNumber: "\(message.number)",
                SQLServerLoggingKeys.message: "\(message.text)",
            ])
        }
    }

    /// Records a db-lib error and returns what db-lib should do next.
    func handleLibraryError(_ error: SQLServerError.LibraryError) -> Int32 {
        // 20018 "General SQL Server error: check messages" only repeats what the message handler got.
        if error.number == Int(SYBESMSG) {
            return INT_CANCEL
        }
        let (phase, timeouts) = state.withLockedValue { state -> (SQLServerError.Phase, Int) in
            if error.number == Int(SYBETIME) { state.timeouts += 1 }
            return (state.phase, state.timeouts)
        }
        logger.debug("FreeTDS db-lib error", metadata: [
            SQLServerLoggingKeys.libraryErrorNumber: "\(error.number)",
            SQLServerLoggingKeys.message: "\(error)",
        ])
        if error.number == Int(SYBETIME), phase == .query, timeouts > 1 {
            // The server did not acknowledge the cancel either: give up on the connection.
            return INT_CANCEL
        }
        state.withLockedValue { $0.errors.append(.library(error, during: phase, server: server)) }
        if error.number == Int(SYBETIME), phase == .query {
            // Send a cancel (attention) and wait for the server to acknowledge it; the call then fails
            // and the connection stays usable.
            return INT_TIMEOUT
        }
        return INT_CANCEL
    }
}
