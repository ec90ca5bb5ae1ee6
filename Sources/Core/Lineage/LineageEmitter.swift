/// Where a connector's lineage events go. `emit` must return at once (a transport queues the event and
/// delivers it on its own task), so replication never waits for a lineage backend.
public protocol LineageEmitter: Sendable {
    func emit(_ event: LineageEvent)
}
