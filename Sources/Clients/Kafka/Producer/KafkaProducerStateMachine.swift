/// The producer's bookkeeping of messages between enqueue and delivery report. Methods return what
/// to do; the caller resumes continuations outside the lock.
struct KafkaProducerStateMachine {
    typealias ReportContinuation = CheckedContinuation<DeliveryReport, any Error>
    typealias WaiterContinuation = CheckedContinuation<Void, any Error>

    private enum Pending {
        /// Enqueued, nobody is waiting for this message's report in particular.
        case unobserved
        /// `send` is about to wait for the report (it is between enqueue and registering).
        case observed
        /// `send` waits for the report.
        case awaited(ReportContinuation)
    }

    private enum State {
        case running
        case closed(KafkaError)
    }

    private var state: State = .running
    private var nextSequenceNumber: UInt64 = 1
    /// Messages enqueued (or being enqueued) whose delivery report has not arrived.
    private var pending: [UInt64: Pending] = [:]
    /// Reports that arrived for an observed message before `send` registered its continuation.
    private var earlyResults: [UInt64: Result<DeliveryReport, KafkaError>] = [:]
    /// Every sequence number below this one has its report.
    private var deliveredBelow: UInt64 = 1
    /// The first message (by sequence number) that failed; no waiter past it can succeed.
    private var earliestFailure: (sequenceNumber: UInt64, error: KafkaError)?
    private var waiters: [(through: UInt64, continuation: WaiterContinuation)] = []

    // MARK: Enqueue

    /// Reserves a sequence number for a message about to be enqueued.
    mutating func reserve(observed: Bool) throws -> UInt64 {
        if case let .closed(error) = state { throw error }
        let sequenceNumber = nextSequenceNumber
        nextSequenceNumber += 1
        pending[sequenceNumber] = observed ? .observed : .unobserved
        return sequenceNumber
    }

    enum Completion {
        case none
        case resume(ReportContinuation?, Result<DeliveryReport, KafkaError>, waiters: [(WaiterContinuation, Result<Void, KafkaError>)])
    }

    /// Enqueueing failed: the message will never get a report.
    mutating func enqueueFailed(_ sequenceNumber: UInt64, error: KafkaError) -> [(WaiterContinuation, Result<Void, KafkaError>)] {
        pending[sequenceNumber] = nil
        recordFailure(sequenceNumber, error)
        return advance()
    }

    // MARK: Delivery reports

    /// A delivery report arrived (on the poll thread).
    mutating func delivered(_ sequenceNumber: UInt64, _ result: Result<DeliveryReport, KafkaError>) -> Completion {
        guard let entry = pending.removeValue(forKey: sequenceNumber) else { return .none }
        if case let .failure(error) = result { recordFailure(sequenceNumber, error) }
        let released = advance()
        switch entry {
        case .unobserved:
            return .resume(nil, result, waiters: released)
        case .observed:
            earlyResults[sequenceNumber] = result
            return .resume(nil, result, waiters: released)
        case let .awaited(continuation):
            return .resume(continuation, result, waiters: released)
        }
    }

    enum AwaitAction {
        case wait
        case resume(Result<DeliveryReport, KafkaError>)
    }

    /// `send` registers for its report (or finds that it arrived already).
    mutating func await(_ sequenceNumber: UInt64, continuation: ReportContinuation) -> AwaitAction {
        if let result = earlyResults.removeValue(forKey: sequenceNumber) { return .resume(result) }
        guard pending[sequenceNumber] != nil else {
            return .resume(.failure(KafkaError.shutdown("waiting for a delivery report")))
        }
        pending[sequenceNumber] = .awaited(continuation)
        return .wait
    }

    // MARK: Waiting for everything up to a ticket

    enum WaitAction {
        case wait
        case resume(Result<Void, KafkaError>)
    }

    mutating func waitForDeliveries(through sequenceNumber: UInt64, continuation: WaiterContinuation) -> WaitAction {
        if let result = outcome(through: sequenceNumber) { return .resume(result) }
        waiters.append((sequenceNumber, continuation))
        return .wait
    }

    /// Whether every message up to `sequenceNumber` has its report (or one of them failed).
    func isSettled(through sequenceNumber: UInt64) -> Bool { outcome(through: sequenceNumber) != nil }

    /// The number of messages without a delivery report.
    var outstandingCount: Int { pending.count }

    /// The last sequence number handed out (0 before the first message).
    var lastSequenceNumber: UInt64 { nextSequenceNumber - 1 }

    // MARK: Shutdown

    /// Refuses new messages and fails everything still waiting (after flush and purge, these are
    /// messages librdkafka never reported).
    mutating func close(_ error: KafkaError) -> [(continuation: ReportContinuation?, waiter: WaiterContinuation?)] {
        state = .closed(error)
        var failed: [(ReportContinuation?, WaiterContinuation?)] = []
        for (sequenceNumber, entry) in pending {
            recordFailure(sequenceNumber, error)
            if case let .awaited(continuation) = entry { failed.append((continuation, nil)) }
        }
        pending.removeAll()
        for waiter in waiters { failed.append((nil, waiter.continuation)) }
        waiters.removeAll()
        deliveredBelow = nextSequenceNumber
        return failed
    }

    // MARK: Private

    private mutating func recordFailure(_ sequenceNumber: UInt64, _ error: KafkaError) {
        if earliestFailure == nil || sequenceNumber < earliestFailure!.sequenceNumber {
            earliestFailure = (sequenceNumber, error)
        }
    }

    /// Moves `deliveredBelow` past every reported message and releases the waiters it satisfies.
    private mutating func advance() -> [(WaiterContinuation, Result<Void, KafkaError>)] {
        while deliveredBelow < nextSequenceNumber && pending[deliveredBelow] == nil {
            deliveredBelow += 1
        }
        guard !waiters.isEmpty else { return [] }
        var released: [(WaiterContinuation, Result<Void, KafkaError>)] = []
        var stillWaiting: [(through: UInt64, continuation: WaiterContinuation)] = []
        for waiter in waiters {
            if let result = outcome(through: waiter.through) {
                released.append((waiter.continuation, result))
            } else {
                stillWaiting.append(waiter)
            }
        }
        waiters = stillWaiting
        return released
    }

    /// nil while some message up to `sequenceNumber` has no report; otherwise success, or the earliest failure.
    private func outcome(through sequenceNumber: UInt64) -> Result<Void, KafkaError>? {
        if let failure = earliestFailure, failure.sequenceNumber <= sequenceNumber {
            return .failure(failure.error)
        }
        guard deliveredBelow > sequenceNumber else { return nil }
        return .success(())
    }
}
