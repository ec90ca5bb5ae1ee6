import NIOConcurrencyHelpers
import SluiceCore

/// Decoding help for messages written with Connect's schema block (`{"schema":{…},"payload":{…}}`): the
/// schema is the same for every message of a table, so it is parsed once and remembered by its bytes,
/// and only the payload is parsed per message (the schema is most of a message's bytes).
public final class SchemaBlockCache: Sendable {
    /// The cache `SinkBatchBuilder` uses.
    public static let shared = SchemaBlockCache()

    private let entries = NIOLockedValueBox<[[UInt8]: TableSchema]>([:])
    private let capacity: Int

    public init(capacity: Int = 512) { self.capacity = capacity }

    func schema(for key: [UInt8], orDecode decode: () throws -> TableSchema?) rethrows -> TableSchema? {
        if let cached = entries.withLockedValue({ $0[key] }) { return cached }
        guard let schema = try decode() else { return nil }
        entries.withLockedValue { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = schema
        }
        return schema
    }

    /// The byte ranges of the `schema` and `payload` values of `{"schema":…,"payload":…}` (in that order,
    /// as Connect's JSON converter writes them); nil for any other shape (the caller then parses it all).
    static func split(_ bytes: [UInt8]) -> (schema: Range<Int>, payload: Range<Int>)? {
        var i = 0
        func skipSpace() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
        func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard i + count <= bytes.count else { return false }
            for k in 0..<count where bytes[i + k] != text.utf8Start[k] { return false }
            i += count
            return true
        }
        /// Skips one JSON value (string-aware), returning its range.
        func value() -> Range<Int>? {
            let start = i
            var depth = 0
            var inString = false
            while i < bytes.count {
                let b = bytes[i]
                if inString {
                    if b == 0x5C { i += 2; continue }  // backslash escape
                    if b == 0x22 { inString = false }
                    i += 1
                    if !inString && depth == 0 { return start..<i }
                    continue
                }
                switch b {
                case 0x22: inString = true
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    depth -= 1
                    if depth == 0 { i += 1; return start..<i }
                    if depth < 0 { return nil }
                case 0x2C where depth == 0: return start..<i
                default: break
                }
                i += 1
            }
            return depth == 0 && i > start ? start..<i : nil
        }
        skipSpace()
        guard literal("{") else { return nil }
        skipSpace()
        guard literal("\"schema\"") else { return nil }
        skipSpace()
        guard literal(":") else { return nil }
        skipSpace()
        guard let schema = value() else { return nil }
        skipSpace()
        guard literal(",") else { return nil }
        skipSpace()
        guard literal("\"payload\"") else { return nil }
        skipSpace()
        guard literal(":") else { return nil }
        skipSpace()
        guard let payload = value() else { return nil }
        skipSpace()
        guard literal("}") else { return nil }
        skipSpace()
        return i == bytes.count ? (schema, payload) : nil
    }
}
