import Foundation
import Hummingbird
import HummingbirdAuth
import SluiceCore

/// The server-rendered pages: login, new application, approvals, search, application details,
/// dashboard. Forms carry the session's CSRF token; pages that read the replica say how fresh it is;
/// after a submit or a decision the next page says the change is on its way through replication.
public struct PagesController: Sendable {
    let d: CreditApp.Dependencies

    public init(_ dependencies: CreditApp.Dependencies) { self.d = dependencies }

    public func addRoutes(to router: Router<CreditRequestContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/dashboard") }
        router.get("/login", use: loginPage)
        router.post("/login", use: loginSubmit)
        router.post("/logout", use: logout)
        router.get("/applications/new", use: newApplication)
        router.post("/applications", use: submitApplication)
        router.get("/applications/{id}", use: applicationDetail)
        router.post("/applications/{id}/decision", use: decide)
        router.get("/approvals", use: approvals)
        router.get("/search", use: search)
        router.get("/dashboard", use: dashboard)
    }

    func freshness() async -> String { ReplicaFreshness.describe(await d.freshness.lagMilliseconds()) }

    static func query(_ request: Request) -> [String: String] { ApplicationsController.queryParameters(request) }

    /// Only a local path (`/…`, not `//…`) may be a post-login target.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/login") else { return "/dashboard" }
        return next
    }

    static func urlEncoded(_ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    // MARK: Login

    @Sendable func loginPage(_ request: Request, context: CreditRequestContext) async throws -> Response {
        if context.identity != nil { return .redirect(to: "/dashboard") }
        return d.pages.page("login", title: "Log in", values: ["next": Self.query(request)["next"] ?? ""], context: context)
    }

    @Sendable func loginSubmit(_ request: Request, context: CreditRequestContext) async throws -> Response {
        var request = request
        let form = try await RequestBodyReader.form(&request)
        let username = form["username"]?.trimmingCharacters(in: .whitespaces) ?? ""
        let next = form["next"] ?? ""
        func again(_ status: HTTPResponse.Status, _ message: String) -> Response {
            d.pages.page("login", title: "Log in", values: ["error": message, "username": username, "next": next], context: context, status: status)
        }
        switch try await d.login.login(username: username, password: form["password"] ?? "", remoteAddress: nil) {
        case .lockedOut(let seconds):
            var response = again(.tooManyRequests, "Too many failed logins for this user. Try again in \(seconds / 60 + 1) minutes.")
            response.headers[.retryAfter] = String(seconds)
            return response
        case .invalid:
            return again(.unauthorized, "Invalid username or password.")
        case .success(let user):
            context.sessions.createSession(AppSession(username: user.username, csrfToken: CSRFToken.generate()), expiresIn: d.configuration.idleTimeout)
            return .redirect(to: Self.safeNext(next))
        }
    }

    @Sendable func logout(_ request: Request, context: CreditRequestContext) async throws -> Response {
        context.sessions.clearSession()
        return .redirect(to: "/login")
    }

    // MARK: Submit

    static let customerFields = ["national_id", "full_name", "date_of_birth", "email", "phone", "address", "monthly_income", "employment_status"]

    func formPage(values: [String: String], errors: ValidationErrors?, found: String?, context: CreditRequestContext,
                  status: HTTPResponse.Status = .ok) async -> Response {
        var v: [String: Any] = [:]
        for (k, value) in values { v["v_" + k.replacingOccurrences(of: ".", with: "_")] = value }
        var errorList: [[String: String]] = []
        for (field, message) in errors?.fields ?? [] {
            v["e_" + field.replacingOccurrences(of: ".", with: "_")] = message
            errorList.append(["field": field, "message": message])
        }
        if !errorList.isEmpty { v["errors"] = errorList; v["has_errors"] = true }
        if let found { v["found"] = found }
        let selectedProduct = values["product"] ?? ""
        v["products"] = Product.allCases.map { ["value": $0.rawValue, "label": "\($0.label) (\(Self.money($0.amountLimits.lowerBound))–\(Self.money($0.amountLimits.upperBound)))", "selected": $0.rawValue == selectedProduct] }
        let selectedEmployment = values["employment_status"] ?? ""
        v["employment"] = EmploymentStatus.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == selectedEmployment] }
        return d.pages.page("new_application", title: "New application", values: v, context: context, status: status, freshness: await freshness())
    }

    static func money(_ d: Decimal) -> String {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.locale = Locale(identifier: "en_US_POSIX")
        f.groupingSeparator = ","
        f.usesGroupingSeparator = true
        f.maximumFractionDigits = 2
        return f.string(from: d as NSDecimalNumber) ?? "\(d)"
    }

    @Sendable func newApplication(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard user.role.maySubmit else { throw APIError(.forbidden, "Only officers and approvers submit applications.") }
        var values: [String: String] = ["term_months": "36"]
        var found: String?
        if let nid = Self.query(request)["national_id"]?.trimmingCharacters(in: .whitespaces), !nid.isEmpty {
            values["national_id"] = nid
            if nid.count <= 20, let c = try await d.replica.customer(nationalID: nid) {
                values = ["national_id": c.nationalID, "full_name": c.fullName, "date_of_birth": c.dateOfBirth, "email": c.email ?? "",
                          "phone": c.phone ?? "", "address": c.address ?? "", "monthly_income": c.monthlyIncome ?? "",
                          "employment_status": c.employmentStatus ?? "", "term_months": "36"]
                found = "Customer \(c.customerID) (\(c.fullName)) found by national id: the application reuses and updates this customer."
            } else {
                found = "No customer with national id \(nid) in the replica: a new customer is created."
            }
        }
        return await formPage(values: values, errors: nil, found: found, context: context)
    }

    @Sendable func submitApplication(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard user.role.maySubmit else { throw APIError(.forbidden, "Only officers and approvers submit applications.") }
        var request = request
        let form = try await RequestBodyReader.form(&request)
        var top: [String: FieldValue] = [:]
        for k in ["product", "requested_amount", "term_months"] { top[k] = FieldValue(form: form[k]) }
        var customer: [String: FieldValue] = [:]
        for k in Self.customerFields { customer[k] = FieldValue(form: form[k]) }
        switch SubmissionValidator().validate(top, customer: customer) {
        case .failure(let errors):
            return await formPage(values: form, errors: errors, found: nil, context: context, status: .unprocessableContent)
        case .success(let submission):
            let submitted = try await d.staging.submit(submission, by: user.username)
            return .redirect(to: "/applications/\(submitted.applicationID)?notice=submitted")
        }
    }

    // MARK: Details

    @Sendable func applicationDetail(_ request: Request, context: CreditRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), text.count <= 9, text.allSatisfy(\.isASCIIDigit), let id = Int(text), id > 0 else {
            throw APIError(.notFound, "No such application.")
        }
        let notice = Self.query(request)["notice"]
        let freshness = await freshness()
        var noticeText: String?
        switch notice {
        case "submitted": noticeText = "Application \(id) was written to staging. It is being replicated: the replica and the warehouse show it within seconds."
        case "decided": noticeText = "Your decision on application \(id) was written to staging. It is being replicated: this page shows it once the replica has it."
        default: noticeText = nil
        }
        guard let app = try await d.replica.application(id: id) else {
            if notice != nil {
                return d.pages.page("pending", title: "Application \(id)", values: ["id": id], context: context,
                                    freshness: freshness, notice: noticeText, refresh: 2)
            }
            throw APIError(.notFound, "No application \(id) in the replica.")
        }
        let customer = try await d.replica.customer(id: app.customerID)
        var history: [[String: Any]] = []
        var historyError: String?
        do {
            history = try await d.warehouse.applicationHistory(id: id).map {
                ["status": $0["status"] ?? "", "valid_from": Self.time($0.validFrom), "valid_to": $0.validTo.map(Self.time) ?? "current"]
            }
        } catch {
            historyError = "The warehouse is unreachable; the history is missing."
        }
        var values: [String: Any] = ["app": Self.applicationValues(app), "history": history]
        if history.isEmpty && historyError == nil { values["history_empty"] = true }
        if let historyError { values["history_error"] = historyError }
        if let c = customer {
            values["customer"] = ["customer_id": c.customerID, "full_name": c.fullName, "national_id": c.nationalID,
                                  "date_of_birth": c.dateOfBirth, "email": c.email ?? "", "phone": c.phone ?? "",
                                  "address": c.address ?? "", "monthly_income": c.monthlyIncome ?? "", "employment_status": c.employmentStatus ?? ""]
        }
        if let user = context.identity, user.role.mayDecide, app.status == "submitted", app.submittedBy != user.username {
            values["can_decide"] = true
        }
        // Still waiting for the decision to arrive in the replica: refresh until it does.
        let pending = notice == "decided" && app.status == "submitted"
        return d.pages.page("application", title: "Application \(id)", values: values, context: context, freshness: freshness,
                            notice: noticeText, refresh: pending ? 2 : nil)
    }

    /// `2026-12-01T09:54:12.036Z` as `2026-12-01 09:54:12 UTC`.
    static func time(_ iso: String) -> String {
        guard iso.count >= 19 else { return iso }
        return iso.prefix(19).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func applicationValues(_ a: ApplicationRow) -> [String: Any] {
        ["application_id": a.applicationID, "customer_id": a.customerID, "customer_name": a.customerName ?? "", "national_id": a.nationalID ?? "",
         "product": a.product, "requested_amount": a.requestedAmount, "term_months": a.termMonths, "interest_rate": a.interestRate ?? "",
         "status": a.status, "status_class": "status-" + a.status, "submitted_by": a.submittedBy,
         "submitted_at": time(a.submittedAt), "decided_by": a.decidedBy ?? "", "decided_at": a.decidedAt.map(time) ?? "",
         "decision_note": a.decisionNote ?? ""]
    }

    // MARK: Decide

    @Sendable func decide(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard let text = context.parameters.get("id"), text.count <= 9, text.allSatisfy(\.isASCIIDigit), let id = Int(text), id > 0 else {
            throw APIError(.notFound, "No such application.")
        }
        guard user.role.mayDecide else { throw APIError(.forbidden, "Only approvers decide applications.") }
        var request = request
        let form = try await RequestBodyReader.form(&request)
        var input: [String: FieldValue] = [:]
        for k in ["decision", "note", "interest_rate"] { input[k] = FieldValue(form: form[k]) }
        switch SubmissionValidator().validateDecision(input) {
        case .failure(let errors):
            let message = errors.fields.map { "\($0.0.replacingOccurrences(of: "_", with: " ")) \($0.1)" }.joined(separator: "; ")
            return try await approvalsPage(user: user, page: 1, error: "Application \(id) was not decided: \(message).",
                                           context: context, status: .unprocessableContent)
        case .success(let decision):
            switch try await d.staging.decide(applicationID: id, decision, by: user.username) {
            case .decided:
                return .redirect(to: "/applications/\(id)?notice=decided")
            case .notFound:
                throw APIError(.notFound, "No application \(id).")
            case .ownApplication:
                throw APIError(.forbidden, "Four-eyes rule: you submitted application \(id), so another approver must decide it.")
            case .notSubmitted(let current):
                throw APIError(.conflict, "Application \(id) is already \(current): only a submitted application can be decided.")
            }
        }
    }

    // MARK: Lists

    func listValues(_ filter: ApplicationFilter, page: ReplicaStore.Page<ApplicationRow>, base: String) -> [String: Any] {
        let pages = max(1, (page.total + filter.pageSize - 1) / filter.pageSize)
        var values: [String: Any] = [
            "items": page.items.map(Self.applicationValues), "total": page.total, "page": filter.page, "pages": pages,
            "has_items": !page.items.isEmpty,
        ]
        let items = filter.queryItems
        if filter.page > 1 { values["prev_url"] = base + "?" + Self.urlEncoded(items + [("page", String(filter.page - 1))]) }
        if filter.page < pages { values["next_url"] = base + "?" + Self.urlEncoded(items + [("page", String(filter.page + 1))]) }
        return values
    }

    @Sendable func approvals(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        var page = 1
        if let p = Self.query(request)["page"], let n = Int(p), n >= 1, n <= 100_000 { page = n }
        return try await approvalsPage(user: user, page: page, error: nil, context: context)
    }

    /// The queue: submitted applications the user did not submit, oldest decisions first to see.
    func approvalsPage(user: AppUser, page: Int, error: String?, context: CreditRequestContext,
                       status: HTTPResponse.Status = .ok) async throws -> Response {
        var filter = ApplicationFilter()
        filter.status = "submitted"
        filter.excludeSubmittedBy = user.username
        filter.pageSize = 25
        filter.page = page
        let rows = try await d.replica.applications(filter)
        var values = listValues(filter, page: rows, base: "/approvals")
        values["can_decide"] = user.role.mayDecide
        if let error { values["error"] = error }
        return d.pages.page("approvals", title: "Approvals", values: values, context: context, status: status, freshness: await freshness())
    }

    @Sendable func search(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let q = Self.query(request)
        var values: [String: Any] = [:]
        var status: HTTPResponse.Status = .ok
        let filter: ApplicationFilter
        switch ApplicationFilter.parse(q) {
        case .failure(let errors):
            values["errors"] = errors.fields.map { ["field": $0.0, "message": $0.1] }
            values["has_errors"] = true
            status = .unprocessableContent
            filter = ApplicationFilter()
        case .success(let f): filter = f
        }
        if status == .ok {
            values.merge(listValues(filter, page: try await d.replica.applications(filter), base: "/search")) { $1 }
        }
        values["q"] = filter.query ?? q["q"] ?? ""
        values["submitted_from"] = filter.submittedFrom ?? ""
        values["submitted_to"] = filter.submittedTo ?? ""
        values["statuses"] = ApplicationFilter.statuses.map { ["value": $0, "selected": $0 == filter.status] }
        values["products"] = Product.allCases.map { ["value": $0.rawValue, "label": $0.label, "selected": $0.rawValue == filter.product] }
        return d.pages.page("search", title: "Search", values: values, context: context, status: status, freshness: await freshness())
    }

    // MARK: Dashboard

    @Sendable func dashboard(_ request: Request, context: CreditRequestContext) async throws -> Response {
        async let lagValue = d.freshness.lagMilliseconds()
        let stats = try await d.replica.statistics()
        let replicaCounts = (try? await d.replica.rowCounts()) ?? [:]
        let stagingCounts = (try? await d.staging.rowCounts()) ?? [:]
        let lag = await lagValue
        let approved = Double(stats.byStatus.first { $0.0 == "approved" }?.1 ?? 0)
        let rejected = Double(stats.byStatus.first { $0.0 == "rejected" }?.1 ?? 0)
        let rate: Double? = approved + rejected > 0 ? approved / (approved + rejected) : nil
        var values: [String: Any] = [
            "chart_status": SVGChart.bars(stats.byStatus.map { ($0.0, Double($0.1)) }, title: "Applications by status"),
            "chart_product": SVGChart.bars(stats.byProduct.map { ($0.0, Double($0.1)) }, title: "Applications by product"),
            "chart_rate": SVGChart.ring(fraction: rate, title: "Approval rate",
                                        caption: "\(Int(approved)) approved, \(Int(rejected)) rejected"),
            "chart_amounts": SVGChart.columns(stats.byMonth, title: "Requested amounts by month", legend: ("requested", "approved")),
        ]
        let tables = ["customers", "credit_applications", "repayments"]
        values["tables"] = tables.map { t -> [String: Any] in
            let s = stagingCounts[t], r = replicaCounts[t]
            return ["table": t, "staging": s.map(String.init) ?? "?", "replica": r.map(String.init) ?? "?",
                    "match": s != nil && s == r, "behind": (s != nil && r != nil) ? String(max(0, s! - r!)) : "?"]
        }
        values["chart_tables"] = SVGChart.bars(tables.flatMap { t in [("\(t) (staging)", Double(stagingCounts[t] ?? 0)), ("\(t) (replica)", Double(replicaCounts[t] ?? 0))] },
                                               title: "Rows: staging vs replica", width: 520, labelWidth: 200)
        values["lag"] = ReplicaFreshness.describe(lag)
        // The dbt marts, when `make dbt` has built them in this replica database.
        do {
            if let marts = try await d.catalog.marts(), !marts.isEmpty {
                var built = "built time unknown"
                if let at = DbtArtifacts.builtAt(manifestPaths: d.configuration.dbtManifestPaths) { built = "built \(Self.time(at))" }
                values["marts"] = [
                    "built": built,
                    "chart_portfolio": SVGChart.groupedBars(marts.map { ($0.product, [$0.approved, $0.repaid, $0.outstanding]) },
                                                            series: ["approved", "repaid", "outstanding"], title: "Portfolio by product"),
                    "chart_approval": SVGChart.bars(marts.compactMap { m in m.approvalRate.map { (m.product, ($0 * 1000).rounded() / 10) } },
                                                    title: "Approval rate by product (%)"),
                ] as [String: Any]
            } else {
                values["marts_missing"] = true
            }
        } catch {
            values["marts_missing"] = true
        }
        let p = d.monitor.pipeline
        if d.configuration.pipelineURL == nil {
            values["pipeline_unconfigured"] = true
        } else if !p.reachable {
            values["pipeline_error"] = p.error ?? "the pipeline has not been polled yet"
        } else {
            values["pipeline"] = [
                "ready": p.ready,
                "source_eps": p.sourceEventsPerSecond.map { String(format: "%.1f", $0) } ?? "…",
                "sink_eps": p.sinkEventsPerSecond.map { String(format: "%.1f", $0) } ?? "…",
                "source_total": p.sourceEventsTotal.map { String(format: "%.0f", $0) } ?? "?",
                "sink_total": p.sinkEventsTotal.map { String(format: "%.0f", $0) } ?? "?",
                "components": p.components.map { ["name": $0.name, "status": $0.status, "reason": $0.reason ?? "", "up": $0.status == "up"] },
            ] as [String: Any]
        }
        return d.pages.page("dashboard", title: "Dashboard", values: values, context: context, freshness: ReplicaFreshness.describe(lag), refresh: nil)
    }
}
