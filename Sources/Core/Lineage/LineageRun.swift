import NIOConcurrencyHelpers

/// One process run of one connector as OpenLineage sees it: START once its datasets are first known,
/// RUNNING whenever they change (a schema change, a sink learning a table's columns), then COMPLETE on a
/// clean stop or FAIL on a fatal error; nothing after that. The connector reports its datasets in parts
/// (the source one per database), and every event carries all parts.
public final class LineageRun: Sendable {
    public let jobNamespace: String
    public let jobName: String
    public let runID: String
    let emitter: any LineageEmitter
    let now: @Sendable () -> String

    private struct State {
        var phase: Phase = .notStarted
        var parts: [(key: String, inputs: [LineageDataset], outputs: [LineageDataset])] = []

        var inputs: [LineageDataset] { Self.merged(parts.flatMap(\.inputs)) }
        var outputs: [LineageDataset] { Self.merged(parts.flatMap(\.outputs)) }

        /// One entry per dataset (the last report of a dataset wins).
        static func merged(_ datasets: [LineageDataset]) -> [LineageDataset] {
            var result: [LineageDataset] = []
            for dataset in datasets {
                if let i = result.firstIndex(where: { $0.namespace == dataset.namespace && $0.name == dataset.name }) {
                    result[i] = dataset
                } else {
                    result.append(dataset)
                }
            }
            return result
        }
    }

    private enum Phase { case notStarted, started, finished }

    private let state = NIOLockedValueBox(State())

    /// - Parameters:
    ///   - now: the current time as ISO 8601 (`2026-12-01T10:00:00.123Z`).
    public init(jobNamespace: String, connectorName: String, runID: String, emitter: any LineageEmitter,
                now: @escaping @Sendable () -> String) {
        self.jobNamespace = jobNamespace
        self.jobName = connectorName
        self.runID = runID
        self.emitter = emitter
        self.now = now
    }

    /// The connector knows (part of) its datasets: START the first time, RUNNING when they changed.
    public func report(part: String, inputs: [LineageDataset], outputs: [LineageDataset]) {
        let event: LineageEvent? = state.withLockedValue { state in
            let before = (state.inputs, state.outputs)
            if let i = state.parts.firstIndex(where: { $0.key == part }) {
                state.parts[i] = (part, inputs, outputs)
            } else {
                state.parts.append((part, inputs, outputs))
            }
            switch state.phase {
            case .finished: return nil
            case .notStarted:
                state.phase = .started
                return makeEvent(.start, state)
            case .started:
                return before == (state.inputs, state.outputs) ? nil : makeEvent(.running, state)
            }
        }
        if let event { emitter.emit(event) }
    }

    /// The connector stopped cleanly: COMPLETE (after a START if none was sent yet).
    public func complete() { finish(.complete, errorMessage: nil) }

    /// The connector (or one of its databases) stopped with a fatal error: FAIL with the reason.
    public func fail(_ message: String) { finish(.fail, errorMessage: message) }

    public var isFinished: Bool { state.withLockedValue { $0.phase == .finished } }

    private func finish(_ type: LineageEvent.EventType, errorMessage: String?) {
        let events: [LineageEvent] = state.withLockedValue { state in
            var events: [LineageEvent] = []
            switch state.phase {
            case .finished: return []
            case .notStarted: events.append(makeEvent(.start, state))
            case .started: break
            }
            state.phase = .finished
            var last = makeEvent(type, state)
            last.errorMessage = errorMessage
            events.append(last)
            return events
        }
        for event in events { emitter.emit(event) }
    }

    private func makeEvent(_ type: LineageEvent.EventType, _ state: State) -> LineageEvent {
        LineageEvent(eventType: type, eventTime: now(), runID: runID, jobNamespace: jobNamespace, jobName: jobName,
                     inputs: state.inputs, outputs: state.outputs)
    }
}
