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
