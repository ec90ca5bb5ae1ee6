import Metrics

/// The app's own metrics (beside Hummingbird's request metrics), exposed on `/metrics`.
enum AppMetrics {
    /// `sluice_app_logins_total{outcome="success|invalid|locked_out"}`
    static func login(_ outcome: String) {
        Counter(label: "sluice_app_logins_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// `sluice_app_applications_submitted_total`
    static func submitted() {
        Counter(label: "sluice_app_applications_submitted_total").increment()
    }

    /// `sluice_app_decisions_total{outcome="approved|rejected|four_eyes|conflict"}`
    static func decision(_ outcome: String) {
        Counter(label: "sluice_app_decisions_total", dimensions: [("outcome", outcome)]).increment()
    }
}
