import SluiceCore

/// One SCD2 version from the warehouse.
public struct HistoryVersion: Sendable, Hashable {
    public var attributes: [(String, String?)]
    public var validFrom: String
    public var validTo: String?
    public var isCurrent: Bool

    public static func == (a: Self, b: Self) -> Bool {
        a.validFrom == b.validFrom && a.validTo == b.validTo && a.isCurrent == b.isCurrent
            && a.attributes.map { $0.0 + "=" + ($0.1 ?? "") } == b.attributes.map { $0.0 + "=" + ($0.1 ?? "") }
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(validFrom); hasher.combine(validTo) }

    public func json(numeric: Set<String> = []) -> JSONValue {
        var o = JSONObject()
        for (k, v) in attributes { o[k] = v.map { numeric.contains(k) ? .number($0) : .string($0) } ?? .null }
        o["valid_from"] = .string(validFrom)
        o["valid_to"] = validTo.map(JSONValue.string) ?? .null
        o["is_current"] = .bool(isCurrent)
        return .object(o)
    }

    public subscript(name: String) -> String? { attributes.first { $0.0 == name }?.1 ?? nil }
}
