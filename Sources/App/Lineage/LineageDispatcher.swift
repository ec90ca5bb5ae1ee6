import Logging
import ServiceLifecycle
import SluiceCore

/// The process's `LineageEmitter`: `emit` queues the event (at most `capacity`, the oldest dropped with a
/// warning beyond that) and returns; `run()` delivers the queue in order to every transport, retrying a
/// failed delivery a bounded number of times with a growing pause, then logging it and moving on, so a
/// slow or absent backend never holds up replication. On graceful shutdown it delivers what is queued
/// (one attempt each) and returns. Run it first in the service group so it stops last, after the
/// connectors' COMPLETE events.
public final class LineageDispatcher: LineageEmitter, Service {
    let transports: [any LineageTransport]
    let attempts: Int
    let initialBackoff: Duration
    let logger: Logger
    private let stream: AsyncStream<LineageEvent>
    private let continuation: AsyncStream<LineageEvent>.Continuation

    public init(transports: [any LineageTransport], capacity: Int = 1000, attempts: Int = 5,
                initialBackoff: Duration = .milliseconds(500), logger: Logger) {
        self.transports = transports
        self.attempts = max(1, attempts)
        self.initialBackoff = initialBackoff
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: LineageEvent.self, bufferingPolicy: .bufferingNewest(capacity))
    }

    public func emit(_ event: LineageEvent) {
        if case .dropped(let old) = continuation.yield(event) {
            logger.warning("OpenLineage queue full; dropped the \(old.eventType.rawValue) event of \(old.jobName)")
        }
    }

    public func run() async {
        await withGracefulShutdownHandler {
            for await event in stream {
                let bytes = event.json.serialized()
                for transport in transports {
                    await deliver(bytes, event: event, to: transport)
                }
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }

    private func deliver(_ bytes: [UInt8], event: LineageEvent, to transport: any LineageTransport) async {
        var backoff = initialBackoff
        for attempt in 1...attempts {
            do {
                try await transport.send(bytes)
                logger.debug("OpenLineage \(event.eventType.rawValue) of \(event.jobName) sent to \(transport.target)")
                return
            } catch {
                let last = attempt == attempts || Task.isShuttingDownGracefully || Task.isCancelled
                if last {
                    logger.warning("OpenLineage \(event.eventType.rawValue) event of \(event.jobName) not delivered to \(transport.target) after \(attempt) attempt(s): \(error)")
                    return
                }
                logger.info("OpenLineage delivery to \(transport.target) failed (attempt \(attempt) of \(attempts)), retrying in \(backoff): \(error)")
                let pause = backoff
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                backoff = backoff * 2
            }
        }
    }
}
