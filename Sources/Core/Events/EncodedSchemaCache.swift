import NIOConcurrencyHelpers

/// The Connect schema blocks an encoder writes, serialized once per table shape: the block is the same
/// for every event of a table (and most of each message's bytes), so rebuilding it per event was a sixth
/// of the source's CPU.
///
/// Looked up by equality with the last few shapes (a `TableSchema` compares its column array by identity
/// first, so the source's own schema value is found at once), else by hash.
public final class EncodedSchemaCache: Sendable {
    /// The cache `DebeziumEnvelope` uses.
    public static let shared = EncodedSchemaCache()

    public enum Kind: Hashable, Sendable { case key, envelope }

    struct Entry: Hashable {
        var serverName: String
        var kind: Kind
        var schema: TableSchema
    }

    private struct State {
        var recent: [(Entry, [UInt8])] = []
        var all: [Entry: [UInt8]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let capacity: Int

    public init(capacity: Int = 1024) { self.capacity = capacity }

    /// The bytes for `(serverName, kind, schema)`, from `make` the first time.
    public func bytes(serverName: String, kind: Kind, schema: TableSchema, make: () -> [UInt8]) -> [UInt8] {
        let found: [UInt8]? = state.withLockedValue { state in
            for (entry, bytes) in state.recent
            where entry.kind == kind && entry.serverName == serverName && entry.schema == schema {
                return bytes
            }
            return nil
        }
        if let found { return found }
        let entry = Entry(serverName: serverName, kind: kind, schema: schema)
        let bytes = state.withLockedValue { $0.all[entry] } ?? make()
        state.withLockedValue { state in
            if state.all.count >= capacity { state.all.removeAll(keepingCapacity: true) }
            state.all[entry] = bytes
            state.recent.insert((entry, bytes), at: 0)
            if state.recent.count > 8 { state.recent.removeLast() }
        }
        return bytes
    }
}
