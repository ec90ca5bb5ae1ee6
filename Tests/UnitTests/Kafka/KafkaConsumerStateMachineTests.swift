@testable import SluiceKafka
import Testing

@Suite("Consumer rebalance bookkeeping")
struct KafkaConsumerStateMachineTests {
    typealias Event = KafkaConsumerStateMachine.RebalanceEvent
    let p0 = TopicPartition(topic: "t", partition: 0)
    let p1 = TopicPartition(topic: "t", partition: 1)

    @Test("while running, callbacks defer to the polling task, in order")
    func deferWhileRunning() {
        var machine = KafkaConsumerStateMachine()
        let assign = Event(kind: .assign, partitions: [p0, p1], rebalanceProtocol: .cooperative)
        let revoke = Event(kind: .revoke, partitions: [p1], rebalanceProtocol: .cooperative)
        #expect(machine.rebalanceCallback(assign) == .deferToApplication)
        #expect(machine.rebalanceCallback(revoke) == .deferToApplication)
        #expect(machine.assignment.isEmpty)
        #expect(machine.nextRebalance() == assign)
        machine.apply(assign)
        #expect(machine.nextRebalance() == revoke)
        machine.apply(revoke)
        #expect(machine.assignment == [p0])
        #expect(machine.nextRebalance() == nil)
    }

    @Test("eager events replace the assignment; a retried event comes first again")
    func eagerAndRetry() {
        var machine = KafkaConsumerStateMachine()
        machine.apply(Event(kind: .assign, partitions: [p0, p1], rebalanceProtocol: .eager))
        let revoke = Event(kind: .revoke, partitions: [p0, p1], rebalanceProtocol: .eager)
        _ = machine.rebalanceCallback(revoke)
        let next = machine.nextRebalance()!
        machine.retryLater(next)
        #expect(machine.nextRebalance() == revoke)
        machine.apply(revoke)
        #expect(machine.assignment.isEmpty)
    }

    @Test("closing applies callbacks at once and refuses polls")
    func closing() throws {
        var machine = KafkaConsumerStateMachine()
        machine.apply(Event(kind: .assign, partitions: [p0], rebalanceProtocol: .cooperative))
        let pending = Event(kind: .assign, partitions: [p1], rebalanceProtocol: .cooperative)
        _ = machine.rebalanceCallback(pending)
        let began = machine.beginClose()
        let closing = try #require(began)
        #expect(closing.revoke == [p0])
        #expect(closing.unapplied == [pending])
        let again = machine.beginClose()
        #expect(again == nil)
        #expect(machine.rebalanceCallback(Event(kind: .revoke, partitions: [p0], rebalanceProtocol: .cooperative)) == .applyNow)
        #expect(throws: KafkaError.self) { try machine.startPolling() }
    }

    @Test("only one poll at a time")
    func singlePoller() throws {
        var machine = KafkaConsumerStateMachine()
        try machine.startPolling()
        #expect(throws: KafkaError.self) { try machine.startPolling() }
        machine.stopPolling()
        try machine.startPolling()
    }
}
