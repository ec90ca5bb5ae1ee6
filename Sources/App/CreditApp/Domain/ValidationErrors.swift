/// Validation problems, by field name (`customer.email`, `requested_amount`, …).
public struct ValidationErrors: Error, Sendable, Hashable {
    public var fields: [(String, String)]
    public init(_ fields: [(String, String)]) { self.fields = fields }
    public static func == (a: Self, b: Self) -> Bool { a.fields.map { $0.0 + "\u{0}" + $0.1 } == b.fields.map { $0.0 + "\u{0}" + $0.1 } }
    public func hash(into hasher: inout Hasher) { for (k, v) in fields { hasher.combine(k); hasher.combine(v) } }
    public subscript(field: String) -> String? { fields.first { $0.0 == field }?.1 }
}
