import Testing
@testable import SluiceSQLServer

@Suite struct SQLServerConnectionStateMachineTests {
    @Test func oneOperationAtATime() {
        var machine = SQLServerConnectionStateMachine()
        #expect(machine.startOperation(server: "s") == .proceed)
        guard case .fail(let error) = machine.startOperation(server: "s") else {
            Issue.record("a second operation must fail")
            return
        }
        #expect(error.code == .connectionBusy)
        #expect(machine.finishOperation(connectionIsDead: false) == .none)
        #expect(machine.startOperation(server: "s") == .proceed)
    }

    @Test func closeWaitsForTheRunningOperation() {
        var machine = SQLServerConnectionStateMachine()
        _ = machine.startOperation(server: "s")
        #expect(machine.close() == .closeWhenOperationEnds)
        #expect(machine.finishOperation(connectionIsDead: false) == .closeHandle)
        #expect(machine.state == .closed)
        guard case .fail(let error) = machine.startOperation(server: "s") else {
            Issue.record("a closed connection must refuse work")
            return
        }
        #expect(error.code == .connectionClosed)
    }

    @Test func aDeadConnectionCloses() {
        var machine = SQLServerConnectionStateMachine()
        _ = machine.startOperation(server: "s")
        #expect(machine.finishOperation(connectionIsDead: true) == .closeHandle)
        #expect(machine.close() == .none)
    }

    @Test func transactionsDoNotNest() {
        var machine = SQLServerConnectionStateMachine()
        #expect(machine.beginTransaction(server: "s") == .proceed)
        guard case .fail(let error) = machine.beginTransaction(server: "s") else {
            Issue.record("nested transaction must fail")
            return
        }
        #expect(error.code == .transactionAlreadyActive)
        machine.endTransaction()
        #expect(machine.beginTransaction(server: "s") == .proceed)
    }
}
