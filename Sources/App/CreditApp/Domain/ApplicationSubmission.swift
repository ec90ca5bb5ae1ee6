import Foundation

/// A validated application, ready for staging.
public struct ApplicationSubmission: Sendable, Hashable {
    public struct Customer: Sendable, Hashable {
        public var nationalID: String
        public var fullName: String
        public var dateOfBirth: DateComponents
        public var email: String?
        public var phone: String?
        public var address: String?
        /// Text with at most 2 decimals, e.g. `4200.50`.
        public var monthlyIncome: String?
        public var employmentStatus: String?
    }

    /// Either a new or updated customer (matched by national id) or a known customer's id.
    public enum Applicant: Sendable, Hashable {
        case customer(Customer)
        case customerID(Int)
    }

    public var applicant: Applicant
    public var product: Product
    /// Text with at most 2 decimals.
    public var requestedAmount: String
    public var termMonths: Int
}

/// A validated decision.
public struct ApplicationDecision: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        case approve, reject
        public var status: String { self == .approve ? "approved" : "rejected" }
    }
    public var outcome: Outcome
    public var note: String?
    /// Text with at most 2 decimals, 0–99.99 (decimal(5,2)).
    public var interestRate: String?
}

/// Validation problems, by field name (`customer.email`, `requested_amount`, …).
public struct ValidationErrors: Error, Sendable, Hashable {
    public var fields: [(String, String)]
    public init(_ fields: [(String, String)]) { self.fields = fields }
    public static func == (a: Self, b: Self) -> Bool { a.fields.map { $0.0 + "\u{0}" + $0.1 } == b.fields.map { $0.0 + "\u{0}" + $0.1 } }
    public func hash(into hasher: inout Hasher) { for (k, v) in fields { hasher.combine(k); hasher.combine(v) } }
    public subscript(field: String) -> String? { fields.first { $0.0 == field }?.1 }
}
