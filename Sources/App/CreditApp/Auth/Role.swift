/// What a user of the credit app may do.
/// - `officer`: submits applications, reads everything;
/// - `approver`: submits and decides applications (never one they submitted: the four-eyes rule);
/// - `admin`: reads everything (dashboard, search); users are managed with `sluice app users`.
public enum Role: String, Sendable, Codable, CaseIterable {
    case officer
    case approver
    case admin

    public var maySubmit: Bool { self == .officer || self == .approver }
    public var mayDecide: Bool { self == .approver }
}
