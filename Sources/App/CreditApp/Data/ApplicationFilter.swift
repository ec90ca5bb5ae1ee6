import Foundation

/// The filters and page of `GET /api/v1/applications` and `/search`, validated (422 naming the field).
public struct ApplicationFilter: Sendable, Hashable {
    public static let statuses = ["submitted", "approved", "rejected", "cancelled"]
    public static let maxPageSize = 100

    public var status: String?
    public var product: String?
    public var query: String?
    /// Inclusive day, `YYYY-MM-DD`.
    public var submittedFrom: String?
    /// Inclusive day, `YYYY-MM-DD`.
    public var submittedTo: String?
    /// Leave out applications submitted by this user (the approvals queue).
    public var excludeSubmittedBy: String?
    public var page: Int = 1
    public var pageSize: Int = 20

    public init() {}

    /// From query parameters; empty values count as absent.
    public static func parse(_ parameters: [String: String]) -> Result<ApplicationFilter, ValidationErrors> {
        var f = ApplicationFilter()
        var errors: [(String, String)] = []
        func value(_ k: String) -> String? {
            guard let v = parameters[k]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let s = value("status") {
            if statuses.contains(s) { f.status = s } else { errors.append(("status", "must be one of " + statuses.joined(separator: ", "))) }
        }
        if let p = value("product") {
            if Product(rawValue: p) != nil { f.product = p } else { errors.append(("product", "must be one of " + Product.allCases.map(\.rawValue).joined(separator: ", "))) }
        }
        if let q = value("q") {
            if q.count > 200 { errors.append(("q", "must be at most 200 characters")) }
            else if q.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { errors.append(("q", "must not contain control characters")) }
            else { f.query = q }
        }
        for key in ["submitted_from", "submitted_to"] {
            if let d = value(key) {
                if SubmissionValidator.parseDate(d) != nil {
                    if key == "submitted_from" { f.submittedFrom = d } else { f.submittedTo = d }
                } else {
                    errors.append((key, "must be a date as YYYY-MM-DD"))
                }
            }
        }
        if let p = value("page") {
            if let n = Int(p), n >= 1, n <= 100_000 { f.page = n } else { errors.append(("page", "must be a whole number from 1")) }
        }
        if let p = value("page_size") {
            if let n = Int(p), (1...maxPageSize).contains(n) { f.pageSize = n } else { errors.append(("page_size", "must be a whole number from 1 to \(maxPageSize)")) }
        }
        return errors.isEmpty ? .success(f) : .failure(ValidationErrors(errors))
    }

    /// The application id the query names, when it is a whole number.
    public var queryApplicationID: Int? {
        guard let q = query, q.count <= 9, q.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(q)
    }

    /// Query parameters reproducing this filter (for page links), page excluded.
    public var queryItems: [(String, String)] {
        var items: [(String, String)] = []
        if let status { items.append(("status", status)) }
        if let product { items.append(("product", product)) }
        if let query { items.append(("q", query)) }
        if let submittedFrom { items.append(("submitted_from", submittedFrom)) }
        if let submittedTo { items.append(("submitted_to", submittedTo)) }
        if pageSize != 20 { items.append(("page_size", String(pageSize))) }
        return items
    }
}
