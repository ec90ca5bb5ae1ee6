#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import SluiceCore

/// Decoding help for messages written with Connect's schema block (`{"schema":{…},"payload":{…}}`): the
/// schema is the same for every message of a table, so it is parsed once and remembered by its bytes,
/// and only the payload is parsed per message (the schema is most of a message's bytes).
public final class SchemaBlockCache: Sendable {
    /// The cache `SinkBatchBuilder` uses.
    public static let shared = SchemaBlockCache()

    /// Schema-block bytes as a dictionary key, hashed in bulk (the default `[UInt8]` hash feeds the
    /// hasher byte by byte: it was the sink's largest cost, the blocks being kilobytes).
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    private let entries = NIOLockedValueBox<[Key: TableSchema]>([:])
    private let capacity: Int

    public init(capacity: Int = 512) { self.capacity = capacity }

    /// The schemas decoded last, with their value and key schema blocks: a message whose blocks equal
    /// one of them byte for byte gets its schema by two `memcmp`, without building and hashing a key.
    private struct Recent {
        let value: [UInt8]
        /// nil: the key had no schema block.
        let key: [UInt8]?
        let schema: TableSchema
    }
    private let recent = NIOLockedValueBox<[Recent]>([])
    private static let recentCapacity = 16

    /// The schema of a message whose value has its schema block at `valueBlock` and whose key has its
    /// own at `keyBlock` (nil: the key has none, or there is no key); `decode` runs when it is not known.
    func schema(value: [UInt8], valueBlock: Range<Int>, key: [UInt8]?, keyBlock: Range<Int>?,
                orDecode decode: () throws -> TableSchema?) rethrows -> TableSchema? {
        let candidates = recent.withLockedValue { $0 }
        for candidate in candidates where Self.equal(candidate.value, value, valueBlock) {
            switch (candidate.key, keyBlock) {
            case (nil, nil): return candidate.schema
            case (let known?, let range?) where Self.equal(known, key!, range): return candidate.schema
            default: continue
            }
        }
        var cacheKey = Array(value[valueBlock])
        if let key, let keyBlock {
            cacheKey.append(0)
            cacheKey += key[keyBlock]
        } else {
            cacheKey.append(1)  // schemaless key: the table's key columns are the same for every message
        }
        guard let schema = try schema(for: cacheKey, orDecode: decode) else { return nil }
        let entry = Recent(value: Array(value[valueBlock]), key: keyBlock.map { Array(key![$0]) }, schema: schema)
        recent.withLockedValue { recent in
            recent.insert(entry, at: 0)
            if recent.count > Self.recentCapacity { recent.removeLast() }
        }
        return schema
    }

    private static func equal(_ known: [UInt8], _ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        guard known.count == range.count else { return false }
        if range.isEmpty { return true }
        return known.withUnsafeBufferPointer { k in
            bytes.withUnsafeBufferPointer { b in memcmp(k.baseAddress!, b.baseAddress! + range.lowerBound, range.count) == 0 }
        }
    }

    func schema(for bytes: [UInt8], orDecode decode: () throws -> TableSchema?) rethrows -> TableSchema? {
        let key = Key(bytes: bytes)
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
    /// For a message that starts with a remembered schema block the payload range is the rest of the
    /// message up to its closing brace, not checked: a payload that does not parse means "parse it all".
    static func split(_ message: [UInt8]) -> (schema: Range<Int>, payload: Range<Int>)? {
        let known = recentSchemaBlocks.withLockedValue { $0 }
        let result = message.withUnsafeBufferPointer { split($0, known: known) }
        if let result, result.knownIndex == nil, result.schema.count >= minimumRemembered {
            let block = Array(message[result.schema])
            recentSchemaBlocks.withLockedValue { blocks in
                blocks.insert(block, at: 0)
                if blocks.count > 32 { blocks.removeLast() }
            }
        }
        return result.map { ($0.schema, $0.payload) }
    }

    /// The schema blocks of recent messages (most recent first, at most 32): a message that starts with
    /// one of them byte for byte has its schema range without scanning it (a JSON value's end is fixed by
    /// its bytes, so an equal prefix is the same value). Blocks shorter than this are not worth it.
    private static let recentSchemaBlocks = NIOLockedValueBox<[[UInt8]]>([])
    private static let minimumRemembered = 64
    private static let schemaPrefix: StaticString = #"{"schema":"#
    private static let payloadPrefix: StaticString = #","payload":"#

    private static func split(_ bytes: UnsafeBufferPointer<UInt8>, known: [[UInt8]])
        -> (schema: Range<Int>, payload: Range<Int>, knownIndex: Int?)? {
        if let fast = splitKnown(bytes, known: known) { return fast }
        return scan(bytes).map { ($0.schema, $0.payload, nil) }
    }

    private static func splitKnown(_ bytes: UnsafeBufferPointer<UInt8>, known: [[UInt8]])
        -> (schema: Range<Int>, payload: Range<Int>, knownIndex: Int?)? {
        func matches(_ text: StaticString, at offset: Int) -> Bool {
            let count = text.utf8CodeUnitCount
            guard offset + count <= bytes.count else { return false }
            return memcmp(bytes.baseAddress! + offset, text.utf8Start, count) == 0
        }
        let start = schemaPrefix.utf8CodeUnitCount
        guard !known.isEmpty, matches(schemaPrefix, at: 0) else { return nil }
        for (index, block) in known.enumerated() where start + block.count < bytes.count {
            let equal = block.withUnsafeBufferPointer { memcmp(bytes.baseAddress! + start, $0.baseAddress!, block.count) == 0 }
            guard equal, matches(payloadPrefix, at: start + block.count) else { continue }
            // The payload is not scanned: it runs to the message's closing brace. (A message with more
            // after its payload gets a range that does not parse; the caller then decodes it whole.)
            var end = bytes.count
            while end > 0, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D || bytes[end - 1] == 0x09 { end -= 1 }
            let payloadStart = start + block.count + payloadPrefix.utf8CodeUnitCount
            guard end > payloadStart + 1, bytes[end - 1] == UInt8(ascii: "}") else { return nil }
            return (start..<start + block.count, payloadStart..<end - 1, index)
        }
        return nil
    }

    /// Scans the whole message; with `schemaRange`, starts after that already-known schema value.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, schemaRange: Range<Int>? = nil)
        -> (schema: Range<Int>, payload: Range<Int>)? {
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
        let schema: Range<Int>
        if let schemaRange {
            schema = schemaRange
            i = schemaRange.upperBound
        } else {
            skipSpace()
            guard literal("{") else { return nil }
            skipSpace()
            guard literal("\"schema\"") else { return nil }
            skipSpace()
            guard literal(":") else { return nil }
            skipSpace()
            guard let scanned = value() else { return nil }
            schema = scanned
        }
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
