@testable import SluiceKafka
import Testing

@Suite("Producer delivery bookkeeping")
struct KafkaProducerStateMachineTests {
    private func report(_ offset: Int64) -> Result<DeliveryReport, KafkaError> {
        .success(DeliveryReport(topic: "t", partition: 0, offset: offset))
    }

    @Test("the watermark advances only over contiguous reports")
    func outOfOrderReports() throws {
        var machine = KafkaProducerStateMachine()
        let ids = try (0..<3).map { _ in try machine.reserve(observed: false) }
        #expect(ids == [1, 2, 3])
        _ = machine.delivered(2, report(0))
        #expect(machine.outstandingCount == 2)
        _ = machine.delivered(1, report(1))
        _ = machine.delivered(3, report(2))
        #expect(machine.outstandingCount == 0)
        #expect(machine.lastSequenceNumber == 3)
    }

    @Test("a failure is sticky for every position at or past it, not before it")
    func stickyFailure() throws {
        var machine = KafkaProducerStateMachine()
        for _ in 0..<3 { _ = try machine.reserve(observed: false) }
        _ = machine.delivered(1, report(0))
        _ = machine.delivered(2, .failure(KafkaError(code: .delivery, message: "lost")))
        _ = machine.delivered(3, report(1))
        // Internal outcome is visible through waitForDeliveries' immediate answer; use the enqueue
        // failure path too.
        let fourth = try machine.reserve(observed: false)
        let released = machine.enqueueFailed(fourth, error: KafkaError(code: .produce, message: "refused"))
        #expect(released.isEmpty)
        #expect(machine.outstandingCount == 0)
    }

    @Test("after close, reserving throws shutdown")
    func closeRefuses() throws {
        var machine = KafkaProducerStateMachine()
        _ = try machine.reserve(observed: true)
        let failed = machine.close(KafkaError.shutdown("producing"))
        #expect(failed.isEmpty)  // nobody had registered a continuation yet
        #expect(throws: KafkaError.self) { _ = try machine.reserve(observed: false) }
    }
}
