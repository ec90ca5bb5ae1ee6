/// A JSON document as Sluice reads and writes it: objects keep their key order (Debezium envelopes read
/// `before, after, source, op, ts_ms, transaction`) and numbers keep their exact text, so a bigint or a
/// decimal never passes through `Double`.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// The number's literal text, e.g. `12345678901234567890` or `-1.5e3`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// The number as a 64-bit integer when it is one exactly.
    public var int64Value: Int64? { if case .number(let n) = self { return Int64(n) } else { return nil } }
}

/// A JSON object with its keys in insertion order.
public struct JSONObject: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(key: String, value: JSONValue)]

    public init(_ fields: [(key: String, value: JSONValue)] = []) { self.fields = fields }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.fields = elements.map { (key: $0.0, value: $0.1) }
    }

    public subscript(key: String) -> JSONValue? {
        get { fields.first(where: { $0.key == key })?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((key: key, value: newValue))
            }
        }
    }

    public var keys: [String] { fields.map(\.key) }
    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { fields.makeIterator() }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for (key, value) in fields {
            hasher.combine(key)
            hasher.combine(value)
        }
    }
}
