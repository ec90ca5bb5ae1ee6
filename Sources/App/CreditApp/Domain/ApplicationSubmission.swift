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
