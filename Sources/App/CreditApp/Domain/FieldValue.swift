import Foundation
import SluiceCore

/// One input field as it arrived, from JSON or from a form, before validation.
public enum FieldValue: Sendable, Hashable {
    case missing
    case null
    case string(String)
    /// A JSON number, as its text (so `10.005` is seen as three decimals, not rounded by a Double).
    case number(String)
    /// A JSON array, object or boolean where none is expected.
    case other

    public init(json: JSONValue?) {
        switch json {
        case nil: self = .missing
        case .null?: self = .null
        case .string(let s)?: self = .string(s)
        case .number(let n)?: self = .number(n)
        case .bool?, .array?, .object?: self = .other
        }
    }

    /// From a form: an empty field counts as missing.
    public init(form: String?) {
        guard let form else { self = .missing; return }
        let trimmed = form.trimmingCharacters(in: .whitespacesAndNewlines)
        self = trimmed.isEmpty ? .missing : .string(trimmed)
    }

    public var isAbsent: Bool {
        switch self {
        case .missing, .null: true
        default: false
        }
    }
}
