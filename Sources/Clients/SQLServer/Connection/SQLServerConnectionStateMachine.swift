/// The rules of one connection: one operation at a time, close waits for the running operation, a
/// dead connection stays dead. Pure state: the caller does the I/O the returned actions ask for.
struct SQLServerConnectionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        case idle
        case busy
        /// `close()` was called while busy: close when the operation ends.
        case closing
        case closed
    }

    private(set) var state: State = .idle
    private(set) var isInTransaction = false

    enum StartAction: Sendable, Equatable {
        case proceed
        case fail(SQLServerError)
    }

    mutating func startOperation(server: String) -> StartAction {
        switch state {
        case .idle:
            state = .busy
            return .proceed
        case .busy:
            return .fail(SQLServerError(
                code: .connectionBusy,
                message: "The connection to \(server) is in use by another caller: a connection serves one caller at a time. Await the previous call, or use one connection per task."))
        case .closing, .closed:
            return .fail(SQLServerError(code: .connectionClosed, message: "The connection to \(server) is closed: open a new connection."))
        }
    }

    enum FinishAction: Sendable, Equatable {
        case none
        case closeHandle
    }

    mutating func finishOperation(connectionIsDead: Bool) -> FinishAction {
        switch state {
        case .busy where connectionIsDead, .closing:
            state = .closed
            isInTransaction = false
            return .closeHandle
        case .busy:
            state = .idle
            return .none
        case .idle, .closed:
            return .none
        }
    }

    enum CloseAction: Sendable, Equatable {
        case closeHandle
        case closeWhenOperationEnds
        case none
    }

    mutating func close() -> CloseAction {
        switch state {
        case .idle:
            state = .closed
            isInTransaction = false
            return .closeHandle
        case .busy:
            state = .closing
            return .closeWhenOperationEnds
        case .closing, .closed:
            return .none
        }
    }

    mutating func beginTransaction(server: String) -> StartAction {
        guard !isInTransaction else {
            return .fail(SQLServerError(
                code: .transactionAlreadyActive,
                message: "A transaction is already open on the connection to \(server): withTransaction does not nest. Run the inner work in the outer transaction's body."))
        }
        isInTransaction = true
        return .proceed
    }

    mutating func endTransaction() {
        isInTransaction = false
    }
}
