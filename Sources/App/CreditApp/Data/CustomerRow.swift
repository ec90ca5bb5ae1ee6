import SluiceCore

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
