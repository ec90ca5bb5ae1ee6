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

/// A customer as read from the replica.
public struct CustomerRow: Sendable, Hashable {
    public var customerID: Int
    public var fullName: String
    public var nationalID: String
    public var dateOfBirth: String
    public var email: String?
    public var phone: String?
    public var address: String?
    public var monthlyIncome: String?
    public var employmentStatus: String?
    public var createdAt: String
    public var updatedAt: String

    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        return .object([
            "customer_id": .int(customerID), "full_name": .string(fullName), "national_id": .string(nationalID),
            "date_of_birth": .string(dateOfBirth), "email": opt(email), "phone": opt(phone), "address": opt(address),
            "monthly_income": monthlyIncome.map(JSONValue.number) ?? .null, "employment_status": opt(employmentStatus),
            "created_at": .string(createdAt), "updated_at": .string(updatedAt),
        ])
    }
}

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
