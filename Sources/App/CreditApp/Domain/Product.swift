import Foundation

/// The credit products (those of the sample data) and the amounts each may be requested for.
public enum Product: String, Sendable, CaseIterable {
    case personalLoan = "personal_loan"
    case carLoan = "car_loan"
    case creditCard = "credit_card"
    case mortgage
    case bnpl

    /// Smallest and largest requested amount, inclusive.
    public var amountLimits: ClosedRange<Decimal> {
        switch self {
        case .personalLoan: 500...75_000
        case .carLoan: 2_000...150_000
        case .creditCard: 300...25_000
        case .mortgage: 20_000...2_000_000
        case .bnpl: 50...5_000
        }
    }

    public var label: String {
        switch self {
        case .personalLoan: "Personal loan"
        case .carLoan: "Car loan"
        case .creditCard: "Credit card"
        case .mortgage: "Mortgage"
        case .bnpl: "Buy now, pay later"
        }
    }
}
