import Hummingbird
import Logging
import SluiceCore

/// `/api/v1/applications`: submit (staging), decide (staging, guarded), list and detail (replica, with
/// the warehouse's status history).
public struct ApplicationsController: Sendable {
    let staging: StagingStore
    let replica: ReplicaStore
    let warehouse: WarehouseStore
    let freshness: ReplicaFreshness

    public init(staging: StagingStore, replica: ReplicaStore, warehouse: WarehouseStore, freshness: ReplicaFreshness) {
        self.staging = staging
        self.replica = replica
        self.warehouse = warehouse
        self.freshness = freshness
    }

    public func addRoutes(to group: RouterGroup<CreditRequestContext>) {
        group.post("applications", use: submit)
        group.get("applications", use: list)
        group.get("applications/{id}", use: detail)
        group.post("applications/{id}/decision", use: decide)
    }

    static func fields(_ object: JSONObject) -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (k, v) in object { out[k] = FieldValue(json: v) }
        return out
    }

    static func validationError(_ e: ValidationErrors) -> APIError {
        APIError(.unprocessableContent, "validation failed: " + e.fields.map(\.0).joined(separator: ", "), fields: e.fields)
    }

    /// The id path parameter: a positive whole number, else 404 (no such resource).
    static func id(_ context: CreditRequestContext) throws -> Int {
        guard let text = context.parameters.get("id"), text.count <= 9, text.allSatisfy(\.isASCIIDigit), let id = Int(text), id > 0 else {
            throw APIError(.notFound, "no such application: the id must be a positive whole number")
        }
        return id
    }

    @Sendable func submit(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard user.role.maySubmit else { throw APIError(.forbidden, "only officers and approvers submit applications (you are \(user.role.rawValue))") }
        var request = request
        let body = try await RequestBodyReader.jsonObject(&request)
        var customer: [String: FieldValue]?
        switch body["customer"] {
        case nil, .null?: customer = nil
        case .object(let c)?: customer = Self.fields(c)
        default: throw Self.validationError(ValidationErrors([("customer", "must be an object with the applicant's details")]))
        }
        let submission: ApplicationSubmission
        switch SubmissionValidator().validate(Self.fields(body), customer: customer) {
        case .failure(let e): throw Self.validationError(e)
        case .success(let s): submission = s
        }
        let submitted = try await staging.submit(submission, by: user.username)
        context.logger.info("application submitted", metadata: ["application_id": "\(submitted.applicationID)", "user": "\(user.username)"])
        var response = JSONResponse.make(.created, .object([
            "application_id": .int(submitted.applicationID), "customer_id": .int(submitted.customerID), "status": .string("submitted"),
            "replication": .string("written to staging; the replica and the warehouse receive it through CDC within seconds"),
        ]))
        response.headers[.location] = "/api/v1/applications/\(submitted.applicationID)"
        return response
    }

    @Sendable func decide(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let id = try Self.id(context)
        guard user.role.mayDecide else { throw APIError(.forbidden, "only approvers decide applications (you are \(user.role.rawValue))") }
        var request = request
        let body = try await RequestBodyReader.jsonObject(&request)
        let decision: ApplicationDecision
        switch SubmissionValidator().validateDecision(Self.fields(body)) {
        case .failure(let e): throw Self.validationError(e)
        case .success(let d): decision = d
        }
        switch try await staging.decide(applicationID: id, decision, by: user.username) {
        case .decided(let status):
            context.logger.info("application decided", metadata: ["application_id": "\(id)", "status": "\(status)", "user": "\(user.username)"])
            return JSONResponse.make(.ok, .object([
                "application_id": .int(id), "status": .string(status), "decided_by": .string(user.username),
                "replication": .string("written to staging; the replica and the warehouse receive it through CDC within seconds"),
            ]))
        case .notFound:
            throw APIError(.notFound, "no application \(id)")
        case .ownApplication:
            throw APIError(.forbidden, "four-eyes rule: you submitted application \(id), so another approver must decide it")
        case .notSubmitted(let current):
            throw APIError(.conflict, "application \(id) is \(current), not submitted: only a submitted application can be decided")
        }
    }

    @Sendable func list(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let filter: ApplicationFilter
        switch ApplicationFilter.parse(Self.queryParameters(request)) {
        case .failure(let e): throw Self.validationError(e)
        case .success(let f): filter = f
        }
        async let lag = freshness.lagMilliseconds()
        let page = try await replica.applications(filter)
        return JSONResponse.make(.ok, .object([
            "items": .array(page.items.map(\.json)), "page": .int(filter.page), "page_size": .int(filter.pageSize),
            "total": .int(page.total), "replica_lag_ms": (await lag).map { .int($0) } ?? .null,
        ]))
    }

    @Sendable func detail(_ request: Request, context: CreditRequestContext) async throws -> Response {
        let id = try Self.id(context)
        async let lag = freshness.lagMilliseconds()
        guard let application = try await replica.application(id: id) else {
            throw APIError(.notFound, "no application \(id) in the replica (a just-submitted one appears within seconds)")
        }
        let customer = try await replica.customer(id: application.customerID)
        var object = application.json.objectValue ?? JSONObject()
        object["customer"] = customer?.json ?? .null
        do {
            object["history"] = .array(try await warehouse.applicationHistory(id: id).map { $0.json() })
        } catch {
            context.logger.warning("warehouse history unavailable", metadata: ["error": "\(error)"])
            object["history"] = .array([])
            object["history_error"] = .string("the warehouse is unreachable; history is missing")
        }
        object["replica_lag_ms"] = (await lag).map { .int($0) } ?? .null
        return JSONResponse.make(.ok, .object(object))
    }

    /// The query string decoded as HTML forms encode it (`+` is a space, as GET forms send it).
    static func queryParameters(_ request: Request) -> [String: String] {
        RequestBodyReader.parseForm(request.uri.query ?? "")
    }
}
