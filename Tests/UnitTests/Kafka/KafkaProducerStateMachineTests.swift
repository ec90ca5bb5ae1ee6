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

    /// What `waitForDeliveries(through:)` answers right now: nil if it would wait.
    private func immediateOutcome(_ machine: inout KafkaProducerStateMachine, through sequenceNumber: UInt64) async -> Result<Void, KafkaError>? {
        var answer: Result<Void, KafkaError>?
        var probe = machine
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                switch probe.waitForDeliveries(through: sequenceNumber, continuation: continuation) {
                case let .resume(result):
                    answer = result
                    continuation.resume()
                case .wait:
                    continuation.resume()  // the probe copy is discarded
                }
            }
        } catch {}
        return answer
    }

    @Test("waiting through a ticket: waits for gaps, then succeeds, or fails at and past a failure")
    func stickyFailure() async throws {
        var machine = KafkaProducerStateMachine()
        for _ in 0..<4 { _ = try machine.reserve(observed: false) }
        _ = machine.delivered(1, report(0))
        #expect(await immediateOutcome(&machine, through: 1).map { (try? $0.get()) != nil } == true)
        #expect(await immediateOutcome(&machine, through: 2) == nil)  // 2 has no report yet
        _ = machine.delivered(3, report(2))
        #expect(await immediateOutcome(&machine, through: 3) == nil)  // 2 still missing
        _ = machine.delivered(2, .failure(KafkaError(code: .delivery, message: "lost")))
        #expect(await immediateOutcome(&machine, through: 1).map { (try? $0.get()) != nil } == true)
        for through: UInt64 in [2, 3, 4] {
            let outcome = await immediateOutcome(&machine, through: through)
            #expect(outcome.map { (try? $0.get()) == nil } == true, "through \(through) must fail")
        }
        _ = machine.delivered(4, report(3))
        #expect(machine.outstandingCount == 0)
        let fifth = try machine.reserve(observed: false)
        let released = machine.enqueueFailed(fifth, error: KafkaError(code: .produce, message: "refused"))
        #expect(released.isEmpty)
        #expect(machine.outstandingCount == 0)
    }

    @Test("an observed send whose report arrives before it waits still gets it")
    func earlyReport() async throws {
        var machine = KafkaProducerStateMachine()
        let id = try machine.reserve(observed: true)
        _ = machine.delivered(id, report(41))
        let offset = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<DeliveryReport, any Error>) in
            if case let .resume(result) = machine.await(id, continuation: continuation) {
                continuation.resume(with: result.mapError { $0 as any Error })
            }
        }.offset
        #expect(offset == 41)
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
