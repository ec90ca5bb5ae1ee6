import SluiceCore

/// An application as read from the replica, with its customer's name and national id.
public struct ApplicationRow: Sendable, Hashable {
    public var applicationID: Int
    public var customerID: Int
    public var customerName: String?
    public var nationalID: String?
    public var product: String
    public var requestedAmount: String
    public var termMonths: Int
    public var interestRate: String?
    public var status: String
    public var submittedBy: String
    public var submittedAt: String
    public var decidedBy: String?
    public var decidedAt: String?
    public var decisionNote: String?

    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func num(_ s: String?) -> JSONValue { s.map(JSONValue.number) ?? .null }
        return .object([
            "application_id": .int(applicationID), "customer_id": .int(customerID),
            "customer_name": opt(customerName), "national_id": opt(nationalID),
            "product": .string(product), "requested_amount": .number(requestedAmount), "term_months": .int(termMonths),
            "interest_rate": num(interestRate), "status": .string(status),
            "submitted_by": .string(submittedBy), "submitted_at": .string(submittedAt),
            "decided_by": opt(decidedBy), "decided_at": opt(decidedAt), "decision_note": opt(decisionNote),
        ])
    }
}
